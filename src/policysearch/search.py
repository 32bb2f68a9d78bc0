"""`PolicySearch`, the façade users meet first: build an index from files, open it, search it."""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path
from collections.abc import Callable, Iterable, Iterator, Sequence

import numpy as np

from . import __version__
from .backends import Backend, LocalBackend
from .chunking import Chunker
from .errors import PolicySearchError
from .fusion import fuse
from .loaders import load, readable
from .milvus import MilvusStore, publish
from .records import Answer, Changes, Chunk, Document, Filters, Hit
from .settings import Settings
from .sparse import BM25
from .store import Passages, Store, read_manifest, write_manifest, write_passages
from .tokenize import Tokenizer, term_spans

MAX_QUERY_CHARS = 2000  # longer queries (a pasted judgment) are searched by their beginning, with a notice
MAX_ASK_K = 10  # an answer is read from the top few passages; more only costs time
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
        self.closed = False
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
    ) -> PolicySearch:
        """Load, chunk and index `paths` into a new version of `index_dir`, then open it. One
        writer at a time: a build waits while another process writes the same index."""
        with Store(index_dir).writer():
            return cls.build_documents(load(list(paths)), index_dir, settings, progress)

    @classmethod
    def build_documents(
        cls,
        documents: Sequence[Document],
        index_dir: str | os.PathLike[str] = "indexes/default",
        settings: Settings | None = None,
        progress: Progress | None = None,
    ) -> PolicySearch:
        """Index documents already in memory (e.g. from `policysearch.corpora`).
        `progress(stage, total)` may return a callback that is told how many items were done."""
        settings = settings or Settings()
        _check_settings(settings)
        with Store(index_dir).writer():
            return cls._build_locked(documents, index_dir, settings, progress)

    @classmethod
    def _build_locked(cls, documents: Sequence[Document], index_dir: str | os.PathLike[str], settings: Settings,
                      progress: Progress | None) -> PolicySearch:
        """The build itself, run while `build_documents` holds the index's writer lock."""
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
            keep = {previous.get("collection"), previous.get("previous")} if previous else set()
            milvus = publish(settings.milvus_uri, f"policysearch_{store.identity()}_", keep, documents, chunks, bm25,
                             vectors, embedder.dim if embedder else None)
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
        engine = cls.open(index_dir, verify=True)  # what was written reads back intact
        engine._embedder = embedder
        return engine

    @classmethod
    def open(cls, index_dir: str | os.PathLike[str] = "indexes/default", model: str | None = None,
             verify: bool = False) -> PolicySearch:
        """Open the current version of a built index, with the settings it was built with.
        `model`, if given, must be the model the index was built with. Opening checks the manifest
        and every file's size; `verify` also checks every file's checksum (reading it all)."""
        store = Store(index_dir)
        folder = store.current()
        manifest = read_manifest(folder, store.root, verify)
        try:
            settings = Settings.from_dict(manifest["settings"])
        except PolicySearchError as err:
            raise PolicySearchError(f"{store.root}: the index manifest is damaged ({err}); "
                                    f"rebuild it with `policysearch index --rebuild --index {store.root}`") from None
        if model and model != settings.model:
            raise PolicySearchError(
                f"{store.root} was built with model '{settings.model}', not '{model}'; "
                f"rebuild it with `policysearch index --model {model} --index {store.root}`"
            )
        return cls(store.root, folder, manifest, settings)

    def update(self, paths: Iterable[str | os.PathLike[str]], progress: Progress | None = None) -> Changes:
        """Make the index hold exactly the documents under `paths`, re-reading only files whose
        content changed; the result equals a fresh build. This engine then serves the new version."""
        with Store(self.root).writer():
            return self._update(paths, progress)

    def _update(self, paths: Iterable[str | os.PathLike[str]], progress: Progress | None) -> Changes:
        self.refresh()
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
        with Store(self.root).writer():
            self.refresh()
            return self._add(paths, progress)

    def _add(self, paths: Iterable[str | os.PathLike[str]], progress: Progress | None) -> Changes:
        old = {doc.id: doc for doc in self.passages.documents()}
        new = load(list(paths))
        changes = Changes(added=[d.id for d in new if d.id not in old], updated=[d.id for d in new if d.id in old],
                          unchanged=[i for i in old if i not in {d.id for d in new}])
        self._replace(list({**old, **{d.id: d for d in new}}.values()), progress)
        return changes

    def remove(self, ids_or_paths: Iterable[str]) -> Changes:
        """Remove documents by id or by the path they were loaded from."""
        with Store(self.root).writer():
            self.refresh()
            return self._remove(ids_or_paths)

    def _remove(self, ids_or_paths: Iterable[str]) -> Changes:
        old = self.passages.documents()
        wanted = {readable(name) for name in ids_or_paths}
        gone = [d.id for d in old if d.id in wanted or d.path in wanted]
        missing = wanted - set(gone) - {d.path for d in old if d.id in gone}
        if missing:
            raise PolicySearchError(f"{', '.join(sorted(missing))}: no such document in {self.root}; "
                                    "see `policysearch search` hits for ids")
        kept = [d for d in old if d.id not in gone]
        if not kept:
            raise PolicySearchError(f"removing {', '.join(gone)} would leave {self.root} empty; delete the folder instead")
        self._replace(kept, None)
        return Changes(removed=gone, unchanged=[d.id for d in kept])

    def refresh(self) -> bool:
        """Serve the latest published version if another process published one since this engine
        opened (a cheap check of the `CURRENT` pointer); True when it changed."""
        if Store(self.root).current() == self.folder:
            return False
        self._serve(self.open(self.root))
        return True

    def _replace(self, documents: Sequence[Document], progress: Progress | None) -> None:
        """Publish a new version built from `documents` with this index's settings, and serve it."""
        self._serve(self.build_documents(documents, self.root, self.settings, progress))

    def _serve(self, fresh: PolicySearch) -> None:
        """Take over `fresh`'s state (this object is what the caller holds) and close the old files."""
        old = self.passages
        self.__dict__.update(fresh.__dict__)
        old.close()

    def close(self) -> None:
        """Close the index's files; the engine cannot search afterwards. Also `with PolicySearch.open(...)`."""
        self.passages.close()
        self.closed = True

    def __enter__(self) -> PolicySearch:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def search_many(self, queries: Sequence[str], k: int = 5, mode: str | None = None,
                    filters: Filters | None = None) -> list[list[Hit]]:
        """`search` for each query, in order (as eval and the benchmarks run them)."""
        return [self.search(query, k, mode, filters) for query in queries]

    @property
    def has_vectors(self) -> bool:
        return self.manifest.get("model") is not None

    def search(self, query: str, k: int = 5, mode: str | None = None, filters: Filters | None = None) -> list[Hit]:
        """The `k` passages that best answer `query`, best first. `mode` is bm25, dense or
        hybrid (default: the index's setting, hybrid unless built without a model); `filters`
        keeps only documents of a source, a date range or a file type. A passage that overlaps
        a better one of the same document is merged into it (see `hits`): no text is shown twice."""
        query = check_query(query)
        if self.closed:
            raise PolicySearchError(f"{self.root}: this engine was closed; open the index again")
        if k < 1:
            raise PolicySearchError(f"k must be at least 1 (got {k})")
        mode = mode or (self.settings.mode if self.has_vectors else "bm25")
        if mode not in MODES:
            raise PolicySearchError(f"mode '{mode}' is unknown; use one of {', '.join(MODES)}")
        if mode != "bm25" and not self.has_vectors:
            raise PolicySearchError(f"{self.root} has no dense vectors (built without a model); "
                                    "use --mode bm25 or rebuild with a model")
        terms = self.tokenizer.tokens(query)
        scope = self.backend.scope(filters or None)
        depth = 2 * k + 10  # room for passages merged into better ones
        if mode == "bm25":
            rows, scores = self.backend.sparse(terms, depth, scope)
        elif mode == "dense":
            rows, scores = self.backend.dense(self.query_vector(query), depth, scope)
        else:
            rows, scores = self._hybrid(query, terms, k, scope)
        cited = self.cited_rows(query, filters)
        if cited:
            top = float(scores[0]) if len(scores) else 1.0
            rest = [(r, s) for r, s in zip(rows, scores, strict=True) if r not in cited]
            rows = cited + [r for r, _ in rest]
            scores = [top] * len(cited) + [s for _, s in rest]
        return self.hits(rows, scores, terms, k)

    def ask(self, question: str, k: int = 3, mode: str | None = None, filters: Filters | None = None) -> Answer:
        """The sentence that answers `question`, with its citation and the `k` passages (at most
        `MAX_ASK_K`) it came from."""
        from .answers import answer

        if not 1 <= k <= MAX_ASK_K:
            raise PolicySearchError(f"k for ask must be 1 to {MAX_ASK_K} (got {k}): the answer is read from the top passages")
        return answer(self, check_query(question), k, mode, filters)

    def _citations_index(self):
        if self._citations is None:
            from .citations import CitationIndex

            self._citations = CitationIndex(self.passages.titles())
        return self._citations

    def cited_rows(self, query: str, filters: Filters | None = None) -> list[int]:
        """Passages of the article the query names ("未成年人保护法第十二条"), if the index has it
        (and its document passes `filters`)."""
        citation = self._citations_index().find(query)
        rows = self.passages.article_rows(citation.doc_ids, citation.article) if citation else []
        if rows and filters:
            rows = np.intersect1d(rows, self.passages.rows_where(filters)).tolist()
        return rows

    def notice(self, query: str) -> str:
        """What a reader of the results should know about the query: that only its beginning was
        searched, or that the article it cites is not in the index (the law is missing, or has no
        such article). Empty when there is nothing to say."""
        length = len(_SURROGATES.sub("", query).strip())
        if length > MAX_QUERY_CHARS:
            return f"the query has {length} characters; only its first {MAX_QUERY_CHARS} were searched"
        citation = self._citations_index().find(check_query(query))
        if citation is None:
            return ""
        if not citation.doc_ids:
            return (f"the question cites {citation.name} {citation.article}, "
                    f"but no document named {citation.name} is in this index")
        if not self.passages.article_rows(citation.doc_ids, citation.article):
            return f"{citation.name} in this index has no {citation.article}"
        return ""

    def _hybrid(self, query: str, terms: list[str], k: int, scope) -> tuple[np.ndarray, np.ndarray]:
        """Both rankings' top `k` (at least `Settings.candidates`), each completed with its exact
        other score, then fused: all of them, best first."""
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
        order = np.lexsort((ids, -fused))
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
                    f"({recorded}, now {self._embedder.fingerprint}); "
                    f"rebuild with `policysearch index --rebuild --index {self.root}`"
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

    def hits(self, rows: Sequence[int], scores: Sequence[float], terms: Sequence[str] = (), k: int | None = None) -> list[Hit]:
        """`Hit`s for passage rows and their scores, best first, at most `k` (default: all). A
        passage that overlaps a better one of the same document is merged into it (the hit then
        spans both, keeping the better score) when the two fit in `2 × chunk_max` characters and
        touch no other hit; otherwise it is left out. No text is shown twice."""
        hits: list[Hit] = []
        limit = 2 * self.settings.chunk_max
        for chunk, doc, score in self._candidates(rows, scores, (k or len(rows)) + 10):
            touching = [h for h in hits if h.doc_id == doc.id and chunk.start < h.end and h.start < chunk.end]
            if not touching:
                if len(hits) == k:
                    break
                hits.append(Hit(rank=len(hits) + 1, score=float(score), text=chunk.text, doc_id=doc.id, title=doc.title,
                                date=doc.date, source=doc.source, path=doc.path, start=chunk.start, end=chunk.end,
                                article=chunk.article))
            elif len(touching) == 1 and max(touching[0].end, chunk.end) - min(touching[0].start, chunk.start) <= limit:
                _merge(touching[0], chunk)
        for hit in hits:
            hit.highlights = term_spans(hit.text, terms)
        return hits

    def _candidates(self, rows: Sequence[int], scores: Sequence[float], batch: int) -> Iterator[tuple[Chunk, Document, float]]:
        """Passages with their documents and scores, read from SQLite `batch` rows at a time, so a
        search reads few more rows than it shows."""
        for start in range(0, len(rows), batch):
            part = self.passages.chunks(rows[start:start + batch])
            yield from ((chunk, doc, score) for (chunk, doc), score in zip(part, scores[start:start + batch], strict=True))


def _merge(hit: Hit, chunk: Chunk) -> None:
    """Extend `hit` to cover an overlapping `chunk` of its document (both are exact document text)."""
    if chunk.start < hit.start:
        hit.text = chunk.text[:hit.start - chunk.start] + hit.text
        hit.start = chunk.start
    if chunk.end > hit.end:
        hit.text += chunk.text[hit.end - chunk.start:]
        hit.end = chunk.end


def _embedder(settings: Settings):
    from .dense import SentenceTransformerEmbedder
    from .models import dense_missing

    missing = dense_missing()
    if missing:
        raise PolicySearchError(f"dense search needs {', '.join(missing)}, which are not installed: "
                                "pip install 'policysearch[dense]' \"torch==2.13.0\", or build a BM25-only index "
                                "(Settings(model=None), policysearch index --no-dense)")

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


_SURROGATES = re.compile("[\ud800-\udfff]")


def check_query(query: str) -> str:
    """The query as searched: stripped, without lone surrogates (bytes a terminal could not
    decode), cut to its first `MAX_QUERY_CHARS` characters (`notice` says so); empty is an
    error. Every caller (search, ask, the CLI, the API) goes through here."""
    if not isinstance(query, str):
        raise PolicySearchError(f"the query must be text, not {type(query).__name__}")
    query = _SURROGATES.sub("", query).strip()
    if not query:
        raise PolicySearchError("the query is empty; type a question or some keywords")
    return query[:MAX_QUERY_CHARS]


def corpus_fingerprint(documents: Sequence[Document]) -> str:
    digest = hashlib.sha256()
    for doc in sorted(documents, key=lambda d: d.id):
        digest.update(doc.id.encode("utf-8", "surrogatepass"))
        digest.update(hashlib.sha256(doc.text.encode("utf-8", "surrogatepass")).digest())
    return digest.hexdigest()
