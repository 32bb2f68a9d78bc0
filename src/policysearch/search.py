"""`PolicySearch`, the façade users meet first: build an index from files, open it, search it,
ask it. Building is the `Indexer`'s work, searching the `Searcher`'s; this class holds the open
version and swaps in each new one it (or another process) publishes."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any
from collections.abc import Callable, Iterable, Sequence

from .answering.answers import answer
from .errors import PolicySearchError
from .building.indexer import Indexer
from .reading.loaders import Progress, load
from .records import Answer, Changes, Document, DocumentInfo, Filters, Hit
from .searching.searcher import Searcher, check_query
from .settings import IndexSettings, SearchSettings
from .index.store import Store

MAX_ASK_K = 10  # an answer is read from the top few passages; more only costs time


class PolicySearch:
    """A built index, ready to answer queries. Create with `build` or `open`."""

    def __init__(self, searcher: Searcher, search: SearchSettings | None = None) -> None:
        self.searcher = searcher
        self.closed = False
        self._chosen = search  # query-time settings the user chose over the index's, kept across versions

    @property
    def root(self) -> Path:
        """The index folder (holding its versions)."""
        return self.searcher.root

    @property
    def folder(self) -> Path:
        """The version folder being served."""
        return self.searcher.folder

    @property
    def manifest(self) -> dict[str, Any]:
        return self.searcher.manifest

    @property
    def settings(self) -> IndexSettings:
        """What the index was built with."""
        return self.searcher.settings

    @property
    def search_settings(self) -> SearchSettings:
        """How it ranks and answers; assign another `SearchSettings` to change that (no rebuild)."""
        return self.searcher.search_settings

    @search_settings.setter
    def search_settings(self, value: SearchSettings) -> None:
        if not isinstance(value, SearchSettings):
            raise PolicySearchError(f"search_settings must be SearchSettings, not {type(value).__name__}")
        self.searcher.search_settings = self._chosen = value

    @property
    def has_vectors(self) -> bool:
        return self.searcher.has_vectors

    @classmethod
    def build(cls, paths: Iterable[str | os.PathLike[str]], index_dir: str | os.PathLike[str] = "indexes/default",
              settings: IndexSettings | None = None, search: SearchSettings | None = None,
              progress: Progress | None = None) -> PolicySearch:
        """Load, chunk and index `paths` into a new version of `index_dir`, then open it. One
        writer at a time: a build waits while another process writes the same index."""
        paths = _paths(paths, "paths")
        _check_settings(settings, search)
        with Store(_folder(index_dir)).writer():
            s = settings or IndexSettings()
            documents = load(list(paths), None, s.ocr, progress, s.file_timeout, s.file_memory)
            return cls.build_documents(documents, index_dir, settings, search, progress)

    @classmethod
    def build_documents(cls, documents: Sequence[Document], index_dir: str | os.PathLike[str] = "indexes/default",
                        settings: IndexSettings | None = None, search: SearchSettings | None = None,
                        progress: Progress | None = None) -> PolicySearch:
        """Index documents already in memory (e.g. from `policysearch.reading.corpora`).
        `progress(stage, total)` may return a callback that is told how many items were done."""
        if isinstance(documents, (str, bytes)) or not all(isinstance(d, Document) for d in documents):
            raise PolicySearchError("documents must be a list of Document records; to index files, use PolicySearch.build")
        _check_settings(settings, search)
        index_dir = _folder(index_dir)
        indexer = Indexer(index_dir, settings or IndexSettings(), search or SearchSettings(), progress)
        with Store(index_dir).writer():
            indexer.build(documents)
            return cls(Searcher.open(index_dir, embedder=indexer.embedder))

    @classmethod
    def open(cls, index_dir: str | os.PathLike[str] = "indexes/default", model: str | None = None,
             verify: bool = False, search: SearchSettings | None = None) -> PolicySearch:
        """Open the current version of a built index, with the settings it was built with
        (`search` replaces its query-time settings). `model`, if given, must be the model the
        index was built with. Opening checks the manifest and every file's size; `verify` also
        checks every file's checksum (reading it all)."""
        _check_settings(None, search)
        return cls(Searcher.open(_folder(index_dir), model, verify, search), search)

    def update(self, paths: Iterable[str | os.PathLike[str]], progress: Progress | None = None) -> Changes:
        """Make the index hold exactly the documents under `paths`, re-reading only files whose
        content changed and embedding only their passages; the result equals a fresh build (in
        Milvus, but for the corpus terms and BM25 average length, kept from the last full build).
        This engine then serves the new version."""
        paths = _paths(paths, "paths")
        return self._write(lambda indexer: indexer.update(paths, self.searcher), progress)

    def add(self, paths: Iterable[str | os.PathLike[str]], progress: Progress | None = None) -> Changes:
        """Add documents, or replace those with the same ids; the others stay."""
        paths = _paths(paths, "paths")
        return self._write(lambda indexer: indexer.add(paths, self.searcher), progress)

    def remove(self, ids_or_paths: Iterable[str]) -> Changes:
        """Remove documents by id or by the path they were loaded from."""
        names = _paths(ids_or_paths, "ids_or_paths")
        return self._write(lambda indexer: indexer.remove([str(n) for n in names], self.searcher), None)

    def _write(self, change: Callable[[Indexer], Changes], progress: Progress | None) -> Changes:
        """Run an `Indexer` change on the latest version under the writer lock, then serve its result."""
        self._check_open()
        with Store(self.root).writer():
            self.refresh()
            indexer = Indexer(self.root, self.settings, self.searcher.saved_search, progress, self.searcher.loaded_embedder)
            changes = change(indexer)
            self.refresh(indexer.embedder)
        return changes

    def refresh(self, embedder: Any = None) -> bool:
        """Serve the latest published version if one was published since this engine opened it
        (a cheap check of the `CURRENT` pointer); True when it changed."""
        if Store(self.root).current() == self.folder:
            return False
        old = self.searcher
        self.searcher = Searcher.open(self.root, search=self._chosen, embedder=embedder or old.loaded_embedder)
        old.close()
        return True

    def close(self) -> None:
        """Close the index's files; the engine cannot search afterwards. Also `with PolicySearch.open(...)`."""
        self.searcher.close()
        self.closed = True

    def __enter__(self) -> PolicySearch:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _check_open(self) -> None:
        if self.closed:
            raise PolicySearchError(f"{self.root}: this engine was closed; open the index again")

    def search(self, query: str, k: int = 5, mode: str | None = None, filters: Filters | None = None) -> list[Hit]:
        """The `k` passages that best answer `query`, best first. `mode` is bm25, dense or
        hybrid (default: the index's setting, hybrid unless built without a model); `filters`
        keeps only documents of a source, a date range or a file type. A passage that overlaps
        a better one of the same document is merged into it: no text is shown twice."""
        self._check_open()
        return self.searcher.search(query, k, mode, filters)

    def search_many(self, queries: Sequence[str], k: int = 5, mode: str | None = None,
                    filters: Filters | None = None) -> list[list[Hit]]:
        """`search` for each query, in order (as eval and the benchmarks run them)."""
        if isinstance(queries, str):
            raise PolicySearchError("queries must be a list of queries, not one string; use search() for one query")
        return [self.search(query, k, mode, filters) for query in queries]

    def ask(self, question: str, k: int = 3, mode: str | None = None, filters: Filters | None = None) -> Answer:
        """The span that answers `question` (see `answers`), with its citation and the `k` passages (at most
        `MAX_ASK_K`) it came from."""
        question = check_query(question)
        self._check_open()
        if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= MAX_ASK_K:
            raise PolicySearchError(f"k for ask must be 1 to {MAX_ASK_K} (got {k!r}): the answer is read from the top passages")
        reader = self.searcher
        found = reader.retrieval(question, k, mode, filters)
        return answer(found, reader.tokens, reader.encode if reader.has_vectors else None,
                      reader.search_settings.answer_threshold)

    def article(self, reference: str) -> Hit | None:
        """The whole law article that `reference` names (未成年人保护法第十二条), or None when it names
        none this index holds (`notice` says why)."""
        self._check_open()
        rows = self.searcher.cited_rows(check_query(reference))
        return self.searcher.span(rows) if rows else None

    def notice(self, query: str, filters: Filters | None = None) -> str:
        """What a reader of the results should know about the query: that only its beginning was
        searched, that the article it cites is not in the index (the law is missing, or has no
        such article), or that a date filter left out the documents with no date. Empty when
        there is nothing to say."""
        self._check_open()
        return self.searcher.notice(query, filters)

    def document(self, doc_id: str) -> Document:
        """A document of the index, with its whole text."""
        self._check_open()
        return self.searcher.document(doc_id)

    def list_documents(self) -> list[DocumentInfo]:
        """Every indexed document with its type, title, date, source and passage count."""
        self._check_open()
        return self.searcher.passages.listing()

    def document_ids(self) -> list[str]:
        """The ids of every document in the index."""
        self._check_open()
        return list(self.searcher.passages.titles())

    def count(self) -> tuple[int, int]:
        """How many documents and passages the index holds."""
        self._check_open()
        return self.searcher.passages.count()



def _folder(index_dir: object) -> Path:
    """The index folder argument as a path; anything else is one clear error."""
    if not isinstance(index_dir, (str, os.PathLike)) or not str(index_dir).strip():
        raise PolicySearchError(f"index_dir must be a folder path (got {index_dir!r})")
    return Path(index_dir)


def _paths(paths: object, name: str) -> list[str | os.PathLike[str]]:
    """A list of paths; a single string is refused, since iterating it would give its characters."""
    if isinstance(paths, (str, bytes, os.PathLike)):
        raise PolicySearchError(f"{name} must be a list of files or folders, not one {type(paths).__name__}; "
                                f"write [{str(paths)!r}]")
    try:
        found = list(paths)  # type: ignore[call-overload]
    except TypeError:
        raise PolicySearchError(f"{name} must be a list of files or folders (got {type(paths).__name__})") from None
    wrong = next((p for p in found if not isinstance(p, (str, os.PathLike))), None)
    if wrong is not None:
        raise PolicySearchError(f"{name} must hold file or folder paths (got {wrong!r})")
    return found


def _check_settings(settings: object, search: object) -> None:
    if settings is not None and not isinstance(settings, IndexSettings):
        raise PolicySearchError(f"settings must be IndexSettings (got {type(settings).__name__})")
    if search is not None and not isinstance(search, SearchSettings):
        raise PolicySearchError(f"search must be SearchSettings (got {type(search).__name__})")
