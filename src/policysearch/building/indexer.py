"""`Indexer`: writes new versions of an index. A build chunks, tokenizes and embeds documents and
publishes them as one version; an update, `add` or `remove` keeps the passages and vectors of
unchanged documents from the current version and chunks and embeds only what changed."""

from __future__ import annotations

import hashlib
import os
from typing import Any, TypeVar
from collections.abc import Callable, Collection, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from ..version import __version__
from ..text.chunking import Chunker, context_line, indexed_text
from ..errors import PolicySearchError
from ..reading.loaders import Progress, load, readable
from ..index.milvus import MilvusStore, new_collection
from ..records import Changes, Chunk, Document
from ..searching.searcher import Searcher
from ..settings import IndexSettings, SearchSettings
from ..index.sparse import BM25, BM25Terms
from ..index.store import Store, read_manifest, write_manifest, write_passages
from ..text.terms import TermFinder
from ..text.tokenize import Tokenizer

T = TypeVar("T")


class Indexer:
    """Writes versions of the index at `root` with `settings`; `search` is saved beside them as
    the index's query-time settings. Every method holds the index's writer lock while it works."""

    def __init__(self, root: str | os.PathLike[str], settings: IndexSettings, search: SearchSettings,
                 progress: Progress | None = None, embedder: Any = None) -> None:
        self.store = Store(root)
        self.settings = settings
        self.search = search
        self.progress = progress
        self.embedder = embedder

    def build(self, documents: Sequence[Document], current: Searcher | None = None,
              unchanged: Collection[str] = ()) -> None:
        """Publish a version holding exactly `documents`. The passages and vectors of the
        `unchanged` ones (ids whose text `current` already holds) are copied from `current`."""
        with self.store.writer():
            self._write(documents, current if current and current.settings == self.settings else None, set(unchanged))

    def update(self, paths: Iterable[str | os.PathLike[str]], current: Searcher) -> Changes:
        """Make the index hold exactly the documents under `paths`, re-reading only files whose
        content changed; nothing is written when nothing changed."""
        with self.store.writer():
            old = {doc.id: doc for doc in current.passages.documents()}
            reused: set[str] = set()

            def reuse(doc_id: str, digest: str) -> Document | None:
                doc = old.get(doc_id)
                if doc is not None and doc.meta.get("sha256") == digest:
                    reused.add(doc_id)
                    return doc
                return None

            s = self.settings
            documents = load(list(paths), reuse, s.ocr, self.progress, s.file_timeout, s.file_memory)
            ids = {d.id for d in documents}
            changes = Changes(
                added=[d.id for d in documents if d.id not in old],
                updated=[d.id for d in documents if d.id in old and d.id not in reused],
                removed=[doc_id for doc_id in old if doc_id not in ids],
                unchanged=[d.id for d in documents if d.id in reused],
            )
            if changes.added or changes.updated or changes.removed:
                self.build(documents, current, reused)
            return changes

    def add(self, paths: Iterable[str | os.PathLike[str]], current: Searcher) -> Changes:
        """Add documents, or replace those with the same ids; the others stay."""
        with self.store.writer():
            old = {doc.id: doc for doc in current.passages.documents()}
            s = self.settings
            new = load(list(paths), None, s.ocr, self.progress, s.file_timeout, s.file_memory)
            fresh = {d.id for d in new}
            kept = [i for i in old if i not in fresh]
            self.build(list({**old, **{d.id: d for d in new}}.values()), current, kept)
            return Changes(added=[d.id for d in new if d.id not in old], updated=[d.id for d in new if d.id in old],
                           unchanged=kept)

    def remove(self, ids_or_paths: Iterable[str], current: Searcher) -> Changes:
        """Remove documents by id or by the path they were loaded from."""
        with self.store.writer():
            old = current.passages.documents()
            wanted = {readable(name) for name in ids_or_paths}
            gone = [d.id for d in old if d.id in wanted or d.path in wanted]
            missing = wanted - set(gone) - {d.path for d in old if d.id in gone}
            if missing:
                raise PolicySearchError(f"{', '.join(sorted(missing))}: no such document in {self.store.root}; "
                                        f"`policysearch docs --index {self.store.root}` lists the ids")
            kept = [d for d in old if d.id not in gone]
            if not kept:
                raise PolicySearchError(f"removing {', '.join(gone)} would leave {self.store.root} empty; "
                                        "delete the folder instead")
            self.build(kept, current, [d.id for d in kept])
            return Changes(removed=gone, unchanged=[d.id for d in kept])

    def _write(self, documents: Sequence[Document], current: Searcher | None, unchanged: set[str]) -> None:
        """Chunk, tokenize and embed, then write and publish the version."""
        if self.settings.backend == "milvus":
            if current is not None and current.milvus is not None and unchanged:
                self._update_milvus(documents, current, unchanged)
            else:
                self._build_milvus(documents)
            return
        chunks, copied, fresh = self._chunks(documents, current, unchanged)
        leads, texts = self._texts(documents, chunks)
        (bm25, terms), vectors = self._encode(lambda: self._bm25(documents, chunks, leads), texts, copied, fresh, current)
        tick = self.progress("writing", 1) if self.progress else None
        with self.store.write() as folder:
            write_passages(folder, documents, chunks)
            bm25.save(folder)
            if vectors is not None:
                vectors.save(folder)
            write_manifest(folder, self._manifest(documents, len(chunks), terms, _model_record(self.embedder), None))
        read_manifest(self.store.current(), self.store.root, verify=True)  # what was written reads back intact
        if tick:
            tick(1)

    def _build_milvus(self, documents: Sequence[Document]) -> None:
        """A full build into a new pair of collections; the version before keeps its own."""
        chunks, _, fresh = self._chunks(documents, None, set())
        leads, texts = self._texts(documents, chunks)
        (tokens, plain, terms), vectors = self._encode(lambda: self._tokens(documents, chunks, leads), texts, [], fresh,
                                                       None)
        s = self.settings
        bm25 = BM25Terms(s.k1, s.b, s.epsilon, s.idf)
        sparse = bm25.add(tokens, plain)
        tick = self.progress("writing", 1) if self.progress else None
        previous = _previous_milvus(self.store)
        keep = {previous["collection"], previous.get("previous")} - {None} if previous else set()
        store = new_collection(s.milvus_uri, f"policysearch_{self.store.identity()}_", keep,
                               self.embedder.dim if vectors is not None else None, len(chunks) < s.hnsw_threshold)
        record = {"uri": s.milvus_uri, "collection": store.collection, "version": 1, "next_row": len(chunks),
                  "next_document": len(documents)}
        try:
            store.insert(documents, chunks, range(len(chunks)), {d.id: i for i, d in enumerate(documents)}, sparse,
                         None if vectors is None else np.asarray(vectors.vectors), 1)
            self._publish_milvus(documents, len(chunks), bm25, terms, _model_record(self.embedder), record, previous)
        except BaseException:
            store.drop()  # no version points at it
            raise
        if tick:
            tick(1)

    def _update_milvus(self, documents: Sequence[Document], current: Searcher, unchanged: set[str]) -> None:
        """Insert the passages of new and changed documents into the live collection as the next
        version and hide the ones they replace from it; unchanged rows are not touched. The corpus
        terms and the BM25 length norm stay those of the last full build."""
        assert current.milvus is not None
        record, milvus = current.manifest["milvus"], current.milvus
        fresh_docs = [d for d in documents if d.id not in unchanged]
        gone = [doc_id for doc_id in milvus.titles() if doc_id not in unchanged]
        chunker = Chunker(self.settings)
        chunks = [chunk for doc in fresh_docs for chunk in chunker.chunk(doc)]
        leads, texts = self._texts(fresh_docs, chunks)
        old = milvus.chunks_of(gone)
        old_leads = [context_line(c, title, self.settings.context) for c, title in old]
        frozen = [tuple(t) for t in current.manifest["terms"]]
        (tokens, plain, _), vectors = self._encode(
            lambda: self._tokens([], chunks + [c for c, _ in old], leads + old_leads, frozen), texts, [],
            list(range(len(chunks))), current)
        bm25 = BM25Terms.load(current.folder)
        bm25.remove(tokens[len(chunks):], plain[len(chunks):])
        sparse = bm25.add(tokens[:len(chunks)], plain[:len(chunks)])
        tick = self.progress("writing", 1) if self.progress else None
        version, first_row, first_doc = record["version"], record["next_row"], record["next_document"]
        store = milvus.store
        store.repair(version)  # what a killed update left
        try:
            store.insert(fresh_docs, chunks, range(first_row, first_row + len(chunks)),
                         {d.id: first_doc + i for i, d in enumerate(fresh_docs)}, sparse,
                         None if vectors is None else np.asarray(vectors.vectors), version + 1)
            store.retire(gone, version + 1)
            following = {**record, "version": version + 1, "next_row": first_row + len(chunks),
                         "next_document": first_doc + len(fresh_docs)}
            self._publish_milvus(documents, current.manifest["chunks"] - len(old) + len(chunks), bm25, frozen,
                                 current.manifest["model"], following, record)
        except BaseException:
            store.repair(version)
            raise
        store.purge(version)  # rows neither this version nor the one before sees
        if tick:
            tick(1)

    def _publish_milvus(self, documents: Sequence[Document], chunks: int, bm25: BM25Terms, terms: Sequence[Sequence[str]],
                        model: dict | None, record: dict, previous: dict | None) -> None:
        """Write the version folder (manifest and `BM25Terms`) that points at `record`, then drop
        the collection that only the version before the previous one used."""
        before = previous and previous["collection"] != record["collection"] and previous["collection"]
        with self.store.write() as folder:
            bm25.save(folder)
            write_manifest(folder, self._manifest(documents, chunks, terms, model, {**record, "previous": before or None}))
        stale = previous and previous.get("previous")
        if stale and stale not in (record["collection"], previous["collection"]):
            MilvusStore(record["uri"], stale).drop()
        read_manifest(self.store.current(), self.store.root, verify=True)

    def _manifest(self, documents: Sequence[Document], chunks: int, terms: Sequence[Sequence[str]], model: dict | None,
                  milvus: dict | None) -> dict:
        return {
            "library_version": __version__,
            "settings": {"index": self.settings.to_dict(), "search": self.search.to_dict()},
            "documents": len(documents),
            "chunks": chunks,
            "corpus_fingerprint": corpus_fingerprint(documents),
            "terms": [list(t) for t in terms],
            "model": model,
            "milvus": milvus,
        }

    def _texts(self, documents: Sequence[Document], chunks: Sequence[Chunk]) -> tuple[list[str], list[str]]:
        """Each passage's context line, and the text indexed for it (context line and passage)."""
        titles = {doc.id: doc.title for doc in documents}
        leads = [context_line(c, titles[c.doc_id], self.settings.context) for c in chunks]
        return leads, [indexed_text(c, lead) for c, lead in zip(chunks, leads, strict=True)]

    def _encode(self, tokenise: Callable[[], T], texts: Sequence[str], copied: list[tuple[int, int]], fresh: Sequence[int],
                current: Searcher | None) -> tuple[T, Any]:
        """`tokenise()` and the passage vectors; the tokenising runs beside the encoder (which lets go
        of the GIL) when there are passages to embed, else alone, on every core."""
        if self.settings.model and fresh:
            with ThreadPoolExecutor(1) as pool:
                job = pool.submit(tokenise)
                vectors = self._vectors(texts, copied, fresh, current)
                return job.result(), vectors
        return tokenise(), self._vectors(texts, copied, fresh, current)

    def _bm25(self, documents: Sequence[Document], chunks: Sequence[Chunk],
              leads: Sequence[str]) -> tuple[BM25, list[tuple[str, ...]]]:
        """The BM25 index of the passages (stage "tokenising") and the corpus terms it matches whole."""
        tokens, plain, terms = self._tokens(documents, chunks, leads)
        s = self.settings
        return BM25(s.k1, s.b, s.epsilon, s.idf).index(tokens, plain), terms

    def _tokens(self, documents: Sequence[Document], chunks: Sequence[Chunk], leads: Sequence[str],
                terms: Sequence[tuple[str, ...]] | None = None) -> tuple[list[list[str]], list[list[str]], list[tuple[str, ...]]]:
        """BM25 tokens of each passage with its context line and of its text alone, and the corpus
        terms matched whole: `terms` if given, else those found in `documents` (`IndexSettings.terms`).
        Each text is segmented once: a context line and its text are cut apart by the newline
        between them, so their tokens are joined, not recut."""
        tokenizer = Tokenizer(self.settings.segmenter)
        tick = self.progress("tokenising", len(chunks)) if self.progress else None
        plain = tokenizer.tokens_many([c.text for c in chunks], tick)
        lead_tokens = {lead: tokenizer.tokens(lead) for lead in set(leads)}
        tokens = [lead_tokens[lead] + own for lead, own in zip(leads, plain, strict=True)]
        if terms is None:
            found: set[tuple[str, ...]] = set()
            if self.settings.terms != "none":
                finder, whole = TermFinder(), [doc.text for doc in documents]
                found = finder.quoted(whole, tokenizer.tokens)
                if self.settings.terms == "quoted+recurring":
                    found |= finder.recurring(tokenizer.tokens_many(whole))
            terms = sorted(found)
        if terms:
            tokenizer = Tokenizer(self.settings.segmenter, terms)
            tokens = [tokenizer.with_terms(t) for t in tokens]
            plain = [tokenizer.with_terms(t) for t in plain]
        return tokens, plain, list(terms)

    def _chunks(self, documents: Sequence[Document], current: Searcher | None,
                unchanged: set[str]) -> tuple[list[Chunk], list[tuple[int, int]], list[int]]:
        """All passages in document order; (new row, current row) pairs of those copied from
        `current`, and the rows of those chunked now (they need vectors). None is an error."""
        chunker = Chunker(self.settings)
        previous = current.passages.document_chunks() if current and unchanged else {}
        chunks: list[Chunk] = []
        copied: list[tuple[int, int]] = []
        fresh: list[int] = []
        for doc in documents:
            kept = previous.get(doc.id) if doc.id in unchanged else None
            if kept:
                copied += [(len(chunks) + i, row) for i, (row, _) in enumerate(kept)]
                chunks += [chunk for _, chunk in kept]
            else:
                new = chunker.chunk(doc)
                fresh += range(len(chunks), len(chunks) + len(new))
                chunks += new
        if not chunks:
            raise PolicySearchError("the documents contain no text to index")
        return chunks, copied, fresh

    def _vectors(self, texts: Sequence[str], copied: list[tuple[int, int]], fresh: list[int],
                 current: Searcher | None):
        """The passage vectors: copied rows from `current`, the others embedded (through the cache);
        None without a model or passages (a Milvus update that only removes)."""
        if not self.settings.model or not (copied or fresh):
            return None
        from ..index.dense import VectorCache, VectorIndex, load_embedder

        if self.embedder is None:
            s = self.settings
            precision = current.passage_precision if current is not None else s.precision  # one precision per index
            self.embedder = (current and current.loaded_embedder) or load_embedder(s.model, s.query_prefix, s.passage_prefix,
                                                                                   precision)
        matrix = np.zeros((len(texts), self.embedder.dim), dtype=np.float32)
        if copied and current is not None and current.vectors is not None:
            new_rows, old_rows = (np.array(side, dtype=np.int64) for side in zip(*copied, strict=True))
            matrix[new_rows] = current.vectors.vectors[old_rows]
        tick = self.progress("embedding", len(fresh)) if self.progress else None
        if fresh:
            matrix[fresh] = VectorCache(self.embedder).embed([texts[i] for i in fresh], tick)
        return VectorIndex(matrix, self.settings.hnsw_threshold)


def _model_record(embedder: Any) -> dict | None:
    if embedder is None:
        return None
    return {"name": embedder.name, "fingerprint": embedder.fingerprint, "dim": embedder.dim,
            "query_prefix": embedder.query_prefix, "passage_prefix": embedder.passage_prefix,
            "precision": embedder.precision}


def _previous_milvus(store: Store) -> dict | None:
    """The Milvus record of the version about to become the previous one, if any."""
    if not store.exists():
        return None
    try:
        return read_manifest(store.current(), store.root).get("milvus")
    except PolicySearchError:
        return None


def corpus_fingerprint(documents: Sequence[Document]) -> str:
    """A hash of every document's id and text: equal for equal corpora, whatever their order."""
    digest = hashlib.sha256()
    for doc in sorted(documents, key=lambda d: d.id):
        digest.update(doc.id.encode("utf-8", "surrogatepass"))
        digest.update(hashlib.sha256(doc.text.encode("utf-8", "surrogatepass")).digest())
    return digest.hexdigest()

