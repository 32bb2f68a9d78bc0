"""`PolicySearch`, the façade users meet first: build an index from files, open it, search it."""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path
from typing import Callable, Iterable, Sequence

import numpy as np

from . import __version__
from .backends import Backend, LocalBackend
from .chunking import Chunker
from .errors import PolicySearchError
from .fusion import fuse
from .loaders import load
from .milvus import MilvusStore, publish
from .records import Answer, Changes, Chunk, Document, Filters, Hit
from .settings import Settings
from .sparse import BM25
from .store import Passages, Store, read_manifest, write_manifest, write_passages
from .tokenize import Tokenizer, term_spans

MAX_QUERY_CHARS = 2000
MODES = ("bm25", "dense", "hybrid")
Progress = Callable[[str, int], Callable[[int], None]]


class PolicySearch:
    """A built index, ready to answer queries. Create with `build` or `open`."""

    def __init__(self, root: Path, folder: Path, manifest: dict, settings: Settings) -> None:
        self.root = root
        self.folder = folder
        self.manifest = manifest
        self.settings = settings
        self.tokenizer = Tokenizer(settings.segmenter)
        self.bm25 = BM25.load(folder, manifest["chunks"])
        self.passages = Passages(folder)
        self._embedder = None
        self.vectors = None
        if manifest.get("model") is not None:
            from .dense import VectorIndex

            self.vectors = VectorIndex.load(folder, settings.hnsw_threshold)
        self._query_vectors: dict[str, np.ndarray] = {}
        self._citations = None
        self.milvus = None
        self.backend: Backend = LocalBackend(self.bm25, self.vectors, self.passages.rows_where)
        if manifest.get("milvus"):
            self.milvus = MilvusStore(manifest["milvus"]["uri"], manifest["milvus"]["collection"], self.bm25)
            self.milvus.load()
            self.backend = self.milvus

    @classmethod
    def build(
        cls,
        paths: Iterable[str | os.PathLike[str]],
        index_dir: str | os.PathLike[str] = "indexes/default",
        settings: Settings | None = None,
        progress: Progress | None = None,
    ) -> "PolicySearch":
        """Load, chunk and index `paths` into a new version of `index_dir`, then open it."""
        return cls.build_documents(load(list(paths)), index_dir, settings, progress)

    @classmethod
    def build_documents(
        cls,
        documents: Sequence[Document],
        index_dir: str | os.PathLike[str] = "indexes/default",
        settings: Settings | None = None,
        progress: Progress | None = None,
    ) -> "PolicySearch":
        """Index documents already in memory (e.g. from `policysearch.corpora`).
        `progress(stage, total)` may return a callback that is told how many items were done."""
        settings = settings or Settings()
        _check_settings(settings)
        chunker = Chunker(settings)
        chunks: list[Chunk] = [c for doc in documents for c in chunker.chunk(doc)]
        if not chunks:
            raise PolicySearchError("the documents contain no text to index")
        embedder = _embedder(settings) if settings.model else None
        tokenizer = Tokenizer(settings.segmenter)
        bm25 = BM25(settings.k1, settings.b, settings.epsilon, settings.idf).index(
            tokenizer.tokens_many([c.text for c in chunks]))
        vectors = None
        if embedder:
            from .dense import VectorCache, VectorIndex

            tick = progress("embedding", len(chunks)) if progress else None
            matrix = VectorCache(embedder.fingerprint).embed(embedder, [c.text for c in chunks], tick)
            vectors = VectorIndex(matrix, settings.hnsw_threshold)
        store = Store(index_dir)
        previous = _previous_milvus(store)
        milvus = None
        if settings.backend == "milvus":
            milvus = publish(settings.milvus_uri, documents, chunks, bm25, vectors, embedder.dim if embedder else None)
        try:
            with store.write() as folder:
                write_passages(folder, documents, chunks)
                bm25.save(folder)
                if vectors is not None:
                    vectors.save(folder)
                write_manifest(folder, {
                    "library_version": __version__,
                    "settings": settings.to_dict(),
                    "documents": len(documents),
                    "chunks": len(chunks),
                    "corpus_fingerprint": corpus_fingerprint(documents),
                    "model": _model_record(embedder),
                    "milvus": milvus and {**milvus, "previous": previous.get("collection") if previous else None},
                })
        except BaseException:
            if milvus:
                MilvusStore(milvus["uri"], milvus["collection"]).drop()  # no version points at it
            raise
        if previous and previous.get("previous"):
            MilvusStore(previous["uri"], previous["previous"]).drop()  # the version before the kept one
        engine = cls.open(index_dir)
        engine._embedder = embedder
        return engine

    @classmethod
    def open(cls, index_dir: str | os.PathLike[str] = "indexes/default", model: str | None = None) -> "PolicySearch":
        """Open the current version of a built index, with the settings it was built with.
        `model`, if given, must be the model the index was built with."""
        store = Store(index_dir)
        folder = store.current()
        manifest = read_manifest(folder, store.root)
        settings = Settings.from_dict(manifest["settings"])
        if model and model != settings.model:
            raise PolicySearchError(
                f"{store.root} was built with model '{settings.model}', not '{model}'; "
                f"rebuild it with `policysearch index --model {model} --index {store.root}`"
            )
        return cls(store.root, folder, manifest, settings)

    def update(self, paths: Iterable[str | os.PathLike[str]], progress: Progress | None = None) -> Changes:
        """Make the index hold exactly the documents under `paths`, re-reading only files whose
        content changed; the result equals a fresh build. This engine then serves the new version."""
        Store(self.root).clean_stale()
        old = {doc.id: doc for doc in self.passages.documents()}
        reused: list[str] = []

        def reuse(doc_id: str, digest: str) -> Document | None:
            doc = old.get(doc_id)
            if doc is not None and doc.meta.get("sha256") == digest:
                reused.append(doc_id)
                return doc
            return None

        documents = load(list(paths), reuse)
        ids = {d.id for d in documents}
        changes = Changes(
            added=[d.id for d in documents if d.id not in old],
            updated=[d.id for d in documents if d.id in old and d.id not in reused],
            removed=[doc_id for doc_id in old if doc_id not in ids],
            unchanged=reused,
        )
        if changes.added or changes.updated or changes.removed:
            self._replace(documents, progress)
        return changes

    def add(self, paths: Iterable[str | os.PathLike[str]], progress: Progress | None = None) -> Changes:
        """Add documents, or replace those with the same ids; the others stay."""
        old = {doc.id: doc for doc in self.passages.documents()}
        new = load(list(paths))
        changes = Changes(added=[d.id for d in new if d.id not in old], updated=[d.id for d in new if d.id in old],
                          unchanged=[i for i in old if i not in {d.id for d in new}])
        self._replace(list({**old, **{d.id: d for d in new}}.values()), progress)
        return changes

    def remove(self, ids_or_paths: Iterable[str]) -> Changes:
        """Remove documents by id or by the path they were loaded from."""
        old = self.passages.documents()
        wanted = set(ids_or_paths)
        gone = [d.id for d in old if d.id in wanted or d.path in wanted]
        missing = wanted - set(gone) - {d.path for d in old if d.id in gone}
        if missing:
            raise PolicySearchError(f"{', '.join(sorted(missing))}: no such document in {self.root}; see `policysearch search` hits for ids")
        kept = [d for d in old if d.id not in gone]
        if not kept:
            raise PolicySearchError(f"removing {', '.join(gone)} would leave {self.root} empty; delete the folder instead")
        self._replace(kept, None)
        return Changes(removed=gone, unchanged=[d.id for d in kept])

    def _replace(self, documents: Sequence[Document], progress: Progress | None) -> None:
        """Publish a new version built from `documents` with this index's settings, and serve it."""
        fresh = self.build_documents(documents, self.root, self.settings, progress)
        self.__dict__.update(fresh.__dict__)

    @property
    def has_vectors(self) -> bool:
        return self.manifest.get("model") is not None

    def search(self, query: str, k: int = 5, mode: str | None = None, filters: Filters | None = None) -> list[Hit]:
        """The `k` passages that best answer `query`, best first. `mode` is bm25, dense or
        hybrid (default: the index's setting, hybrid unless built without a model); `filters`
        keeps only documents of a source, a date range or a file type."""
        query = _check_query(query)
        if k < 1:
            raise PolicySearchError(f"k must be at least 1 (got {k})")
        mode = mode or (self.settings.mode if self.has_vectors else "bm25")
        if mode not in MODES:
            raise PolicySearchError(f"mode '{mode}' is unknown; use one of {', '.join(MODES)}")
        if mode != "bm25" and not self.has_vectors:
            raise PolicySearchError(f"{self.root} has no dense vectors (built without a model); use --mode bm25 or rebuild with a model")
        filters = _check_filters(filters) if filters else None
        terms = self.tokenizer.tokens(query)
        scope = self.backend.scope(filters)
        if mode == "bm25":
            rows, scores = self.backend.sparse(terms, k, scope)
        elif mode == "dense":
            rows, scores = self.backend.dense(self.query_vector(query), k, scope)
        else:
            rows, scores = self._hybrid(query, terms, k, scope)
        cited = self.cited_rows(query, filters)
        if cited:
            top = float(scores[0]) if len(scores) else 1.0
            rest = [(r, s) for r, s in zip(rows, scores) if r not in cited]
            rows = (cited + [r for r, _ in rest])[:k]
            scores = ([top] * len(cited) + [s for _, s in rest])[:k]
        return self.hits(rows, scores, terms)

    def ask(self, question: str, k: int = 3, mode: str | None = None, filters: Filters | None = None) -> Answer:
        """The sentence that answers `question`, with its citation and the `k` passages it came from."""
        from .answers import answer

        return answer(self, question, k, mode, filters)

    def cited_rows(self, query: str, filters: Filters | None = None) -> list[int]:
        """Passages of the article the query names ("未成年人保护法第十二条"), if the index has it
        (and its document passes `filters`)."""
        if self._citations is None:
            from .citations import CitationIndex

            self._citations = CitationIndex(self.passages.titles())
        citation = self._citations.find(query)
        rows = self.passages.article_rows(citation.doc_ids, citation.article) if citation else []
        if rows and filters:
            rows = np.intersect1d(rows, self.passages.rows_where(filters)).tolist()
        return rows

    def _hybrid(self, query: str, terms: list[str], k: int, scope) -> tuple[np.ndarray, np.ndarray]:
        """Both rankings' candidates, each completed with its exact other score, then fused."""
        depth = max(k, self.settings.candidates)
        vector = self.query_vector(query)
        sparse_ids, _ = self.backend.sparse(terms, depth, scope)
        dense_ids, _ = self.backend.dense(vector, depth, scope)
        ids = np.union1d(sparse_ids, dense_ids).astype(np.int64)
        if not len(ids):
            return ids, np.zeros(0)
        s = self.settings
        fused = fuse(ids, self.backend.sparse_scores(terms, ids), self.backend.dense_scores(vector, ids),
                     s.fusion, s.bm25_weight, s.dense_weight, s.rrf_k)
        order = np.lexsort((ids, -fused))[:k]
        return ids[order], fused[order]

    @property
    def embedder(self):
        """The model that embeds queries, loaded on first dense query (BM25 never imports torch)."""
        if self._embedder is None:
            self._embedder = _embedder(self.settings)
            recorded = self.manifest["model"]["fingerprint"]
            if self._embedder.fingerprint != recorded:
                raise PolicySearchError(
                    f"{self.root} was built with another version of model '{self.settings.model}' "
                    f"({recorded}, now {self._embedder.fingerprint}); rebuild with `policysearch index --rebuild --index {self.root}`"
                )
        return self._embedder

    def query_vector(self, query: str) -> np.ndarray:
        """Vectors of the last 4,096 queries are kept (6 MB): repeated questions skip the model."""
        vector = self._query_vectors.get(query)
        if vector is None:
            vector = self.embedder.embed_queries([query])[0]
            if len(self._query_vectors) >= 4096:
                self._query_vectors.pop(next(iter(self._query_vectors)))
            self._query_vectors[query] = vector
        return vector

    def document(self, doc_id: str) -> Document:
        doc = self.passages.document(doc_id)
        if doc is None:
            raise PolicySearchError(f"{doc_id}: no such document in {self.root}")
        return doc

    def hits(self, rows: Sequence[int], scores: Sequence[float], terms: Sequence[str] = ()) -> list[Hit]:
        """`Hit`s for passage rows and their scores (also used to score other rankers on this index)."""
        hits = []
        for rank, ((chunk, doc), score) in enumerate(zip(self.passages.chunks(rows), scores), start=1):
            hits.append(Hit(
                rank=rank, score=float(score), text=chunk.text, doc_id=doc.id, title=doc.title,
                date=doc.date, source=doc.source, path=doc.path, start=chunk.start, end=chunk.end,
                article=chunk.article, highlights=term_spans(chunk.text, terms),
            ))
        return hits


def _embedder(settings: Settings):
    from .dense import SentenceTransformerEmbedder

    return SentenceTransformerEmbedder(settings.model, settings.query_prefix, settings.passage_prefix)


def _model_record(embedder) -> dict | None:
    if embedder is None:
        return None
    return {"name": embedder.name, "fingerprint": embedder.fingerprint, "dim": embedder.dim,
            "query_prefix": embedder.query_prefix, "passage_prefix": embedder.passage_prefix}


def _previous_milvus(store: Store) -> dict | None:
    """The Milvus record of the version about to become the previous one, if any."""
    if not store.exists():
        return None
    try:
        return read_manifest(store.current(), store.root).get("milvus")
    except PolicySearchError:
        return None


def _check_settings(settings: Settings) -> None:
    if settings.mode not in MODES:
        raise PolicySearchError(f"settings.mode '{settings.mode}' is unknown; use one of {', '.join(MODES)}")
    if settings.backend not in ("local", "milvus"):
        raise PolicySearchError(f"settings.backend '{settings.backend}' is unknown; use local or milvus")
    if settings.fusion not in ("rrf", "score"):
        raise PolicySearchError(f"settings.fusion '{settings.fusion}' is unknown; use rrf or score")
    if not 0 < settings.chunk_size <= settings.chunk_max:
        raise PolicySearchError("settings.chunk_size must be positive and at most settings.chunk_max")


_DATE = re.compile(r"\d{4}(-\d{2}(-\d{2})?)?")


def _check_filters(filters: Filters) -> Filters:
    for name in ("date_from", "date_to"):
        value = getattr(filters, name)
        if value and not _DATE.fullmatch(value):
            raise PolicySearchError(f"{name} '{value}' is not a date; write YYYY, YYYY-MM or YYYY-MM-DD")
    if filters.kind and not filters.kind.lstrip(".").isalnum():
        raise PolicySearchError(f"kind '{filters.kind}' is not a file type; write e.g. txt, docx, pdf or html")
    return filters


def _check_query(query: str) -> str:
    if not isinstance(query, str) or not query.strip():
        raise PolicySearchError("the query is empty; type a question or some keywords")
    return query.strip()[:MAX_QUERY_CHARS]


def corpus_fingerprint(documents: Sequence[Document]) -> str:
    digest = hashlib.sha256()
    for doc in sorted(documents, key=lambda d: d.id):
        digest.update(doc.id.encode("utf-8", "surrogatepass"))
        digest.update(hashlib.sha256(doc.text.encode("utf-8", "surrogatepass")).digest())
    return digest.hexdigest()
