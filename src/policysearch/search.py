"""`PolicySearch`, the façade users meet first: build an index from files, open it, search it."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Callable, Iterable, Sequence

from . import __version__
from .chunking import Chunker
from .errors import PolicySearchError
from .loaders import load
from .records import Chunk, Document, Hit
from .settings import Settings
from .sparse import BM25
from .store import Passages, Store, read_manifest, write_manifest, write_passages
from .tokenize import Tokenizer, term_spans

MAX_QUERY_CHARS = 2000


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

    @classmethod
    def build(
        cls,
        paths: Iterable[str | os.PathLike[str]],
        index_dir: str | os.PathLike[str] = "indexes/default",
        settings: Settings | None = None,
        progress: Callable[[Iterable[str]], Iterable[str]] | None = None,
    ) -> "PolicySearch":
        """Load, chunk and index `paths` into a new version of `index_dir`, then open it."""
        documents = load(list(paths))
        return cls.build_documents(documents, index_dir, settings, progress)

    @classmethod
    def build_documents(
        cls,
        documents: Sequence[Document],
        index_dir: str | os.PathLike[str] = "indexes/default",
        settings: Settings | None = None,
        progress: Callable[[Iterable[str]], Iterable[str]] | None = None,
    ) -> "PolicySearch":
        """Index documents that are already in memory (e.g. from `policysearch.corpora`)."""
        settings = settings or Settings()
        chunker = Chunker(settings)
        chunks: list[Chunk] = [c for doc in documents for c in chunker.chunk(doc)]
        if not chunks:
            raise PolicySearchError("the documents contain no text to index")
        tokenizer = Tokenizer(settings.segmenter)
        texts: Iterable[str] = (c.text for c in chunks)
        if progress:
            texts = progress(texts)
        bm25 = BM25(settings.k1, settings.b, settings.epsilon, settings.idf).index([tokenizer.tokens(t) for t in texts])
        store = Store(index_dir)
        with store.write() as folder:
            write_passages(folder, documents, chunks)
            bm25.save(folder)
            write_manifest(folder, {
                "library_version": __version__,
                "settings": settings.to_dict(),
                "documents": len(documents),
                "chunks": len(chunks),
                "corpus_fingerprint": _fingerprint(documents),
            })
        return cls.open(index_dir)

    @classmethod
    def open(cls, index_dir: str | os.PathLike[str] = "indexes/default") -> "PolicySearch":
        """Open the current version of a built index, with the settings it was built with."""
        store = Store(index_dir)
        folder = store.current()
        manifest = read_manifest(folder, store.root)
        return cls(store.root, folder, manifest, Settings.from_dict(manifest["settings"]))

    def search(self, query: str, k: int = 5) -> list[Hit]:
        """The `k` passages that best answer `query`, best first."""
        query = _check_query(query)
        if k < 1:
            raise PolicySearchError(f"k must be at least 1 (got {k})")
        terms = self.tokenizer.tokens(query)
        rows, scores = self.bm25.search(terms, k)
        return self._hits(rows, scores, terms)

    def document(self, doc_id: str) -> Document:
        doc = self.passages.document(doc_id)
        if doc is None:
            raise PolicySearchError(f"{doc_id}: no such document in {self.root}")
        return doc

    def _hits(self, rows: Sequence[int], scores: Sequence[float], terms: list[str]) -> list[Hit]:
        hits = []
        for rank, ((chunk, doc), score) in enumerate(zip(self.passages.chunks(rows), scores), start=1):
            hits.append(Hit(
                rank=rank, score=float(score), text=chunk.text, doc_id=doc.id, title=doc.title,
                date=doc.date, source=doc.source, path=doc.path, start=chunk.start, end=chunk.end,
                highlights=term_spans(chunk.text, terms),
            ))
        return hits


def _check_query(query: str) -> str:
    if not isinstance(query, str) or not query.strip():
        raise PolicySearchError("the query is empty; type a question or some keywords")
    return query.strip()[:MAX_QUERY_CHARS]


def _fingerprint(documents: Sequence[Document]) -> str:
    digest = hashlib.sha256()
    for doc in sorted(documents, key=lambda d: d.id):
        digest.update(doc.id.encode("utf-8", "surrogatepass"))
        digest.update(hashlib.sha256(doc.text.encode("utf-8", "surrogatepass")).digest())
    return digest.hexdigest()
