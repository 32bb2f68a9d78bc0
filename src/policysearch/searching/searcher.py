"""`Searcher`: one published version of an index, open for reading. It ranks passages for a
query (BM25, dense or both fused), puts cited articles first and turns rows into cited hits."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from collections.abc import Iterator, Sequence

import numpy as np

from .backends import Backend, LocalBackend
from .citations import Citation, CitationIndex
from ..errors import PolicySearchError
from ..index.milvus import MilvusIndex, MilvusStore
from ..index.ranking import Ranked, fuse, with_documents
from .reranker import Candidates, Passage, Reranker, features, reranked, shipped
from ..records import Chunk, Document, Filters, Hit, Retrieval
from ..settings import MODES, IndexSettings, SearchSettings
from ..index.sparse import BM25, BM25Terms
from ..index.store import Passages, Store, read_manifest
from ..text.tokenize import Tokenizer, highlights

MAX_QUERY_CHARS = 2000  # longer queries (a pasted judgment) are searched by their beginning, with a notice
QUERY_VECTORS = 4096  # query vectors kept for repeated questions (6 MB)
_SURROGATES = re.compile("[\ud800-\udfff]")


class Searcher:
    """One index version: its files memory-mapped (BM25 weights, vectors and passages), or for a
    Milvus index its manifest, the query side of BM25 and the collection version it names."""

    def __init__(self, root: Path, folder: Path, manifest: dict[str, Any], settings: IndexSettings,
                 search: SearchSettings, embedder: Any = None, saved: SearchSettings | None = None) -> None:
        self.root = root
        self.folder = folder
        self.manifest = manifest
        self.settings = settings
        self.search_settings = search
        self.saved_search = saved or search  # what the manifest holds; an update keeps it
        self.tokenizer = Tokenizer(settings.segmenter, manifest["terms"])
        self._embedder = embedder if embedder is not None and self._is_model(embedder) else None
        self._query_vectors: dict[str, np.ndarray] = {}
        self.rerankers: dict[str, Reranker] = shipped()  # the models `rerank` uses (a benchmark may try others)
        self._citations: CitationIndex | None = None
        self.vectors = None
        self.milvus: MilvusIndex | None = None
        self.bm25: BM25 | BM25Terms
        self.passages: Passages | MilvusIndex
        self.backend: Backend
        if manifest.get("milvus"):
            record = manifest["milvus"]
            self.bm25 = BM25Terms.load(folder)
            store = MilvusStore(record["uri"], record["collection"])
            store.load()
            self.milvus = self.passages = self.backend = MilvusIndex(store, record["version"], self.bm25)
            return
        self.bm25 = BM25.load(folder, manifest["chunks"])
        self.passages = Passages(folder)
        if self.has_vectors:
            from ..index.dense import VectorIndex

            self.vectors = VectorIndex.load(folder, settings.hnsw_threshold)
        self.backend = LocalBackend(self.bm25, self.vectors, self.passages)
        self._check_counts()

    def _check_counts(self) -> None:
        """Refuse passages or vectors that disagree with the manifest on how many there are (files
        of another version put in): a search would read past their ends or cite wrong rows."""
        chunks, documents = self.manifest["chunks"], self.manifest["documents"]
        found = {"passages.sqlite": self.passages.count()}
        if self.vectors is not None:
            rows, dim = self.vectors.vectors.shape
            found["vectors"] = (documents, rows if dim == self.manifest["model"]["dim"] else -1)
        wrong = [name for name, count in found.items() if count != (documents, chunks)]
        if wrong:
            self.passages.close()
            raise PolicySearchError(f"{self.root}: {', '.join(wrong)} do not match the manifest's {documents} documents "
                                    f"and {chunks} passages; rebuild it with `policysearch index --rebuild --index {self.root}`")

    @classmethod
    def open(cls, root: str | Path, model: str | None = None, verify: bool = False,
             search: SearchSettings | None = None, embedder: Any = None) -> Searcher:
        """The current version of the index at `root`, with the settings it was built with (or
        `search` for the query-time ones). `model`, if given, must be the index's model."""
        store = Store(root)
        folder = store.current()
        manifest = read_manifest(folder, store.root, verify)
        try:
            settings = IndexSettings.from_dict(manifest["settings"]["index"])
            saved = SearchSettings.from_dict(manifest["settings"]["search"])
        except (PolicySearchError, KeyError, TypeError) as err:
            raise PolicySearchError(f"{store.root}: the index manifest is damaged ({err}); "
                                    f"rebuild it with `policysearch index --rebuild --index {store.root}`") from None
        if model and model != settings.model and not cls._same_model(model, manifest):
            raise PolicySearchError(f"{store.root} was built with model '{settings.model}', not '{model}'; "
                                    f"rebuild it with `policysearch index --model {model} --index {store.root}`")
        return cls(store.root, folder, manifest, settings, search or saved, embedder, saved)

    @staticmethod
    def _same_model(model: str, manifest: dict[str, Any]) -> bool:
        """Whether `model` (a name or folder) is the index's model under another path: the same
        fingerprint, as a copy of the folder has."""
        from ..index.dense import model_fingerprint
        from ..index.models import resolve_model

        try:
            return (manifest.get("model") or {}).get("fingerprint") == model_fingerprint(resolve_model(model))
        except PolicySearchError:
            return False

    @property
    def has_vectors(self) -> bool:
        return self.manifest.get("model") is not None

    def close(self) -> None:
        self.passages.close()

    def reader(self) -> Passages | MilvusIndex:
        """Documents and counts of this version, to read beside searches in other threads."""
        return self.milvus or Passages(self.folder)

    def health(self) -> dict:
        """Where the index lives: for Milvus the collection, its rows and the server's version."""
        return {"backend": "milvus", **self.milvus.health()} if self.milvus else {"backend": "local"}

    def search(self, query: str, k: int = 5, mode: str | None = None, filters: Filters | None = None) -> list[Hit]:
        """The `k` best passages for `query` (see `PolicySearch.search`)."""
        return self.retrieve(query, k, mode, filters)[0]

    def retrieve(self, query: str, k: int, mode: str | None, filters: Filters | None) -> tuple[list[Hit], list[int]]:
        """The hits, and the rows of the article the query cites (empty if none): `ask` answers from both."""
        query = check_query(query)
        if isinstance(k, bool) or not isinstance(k, int) or k < 1:
            raise PolicySearchError(f"k must be a whole number of at least 1 (got {k!r})")
        if filters is not None and not isinstance(filters, Filters):
            raise PolicySearchError(f"filters must be a Filters (got {type(filters).__name__}); "
                                    "write Filters(source=..., date_from=...)")
        mode = self._mode(mode)
        terms = self.tokenizer.tokens(query)
        scope = self.backend.scope(filters or None)
        depth = 2 * k + 10  # room for passages merged into better ones
        if mode == "bm25":
            rows, scores = self._bm25(terms, depth, scope)
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
        return self.hits(rows, scores, terms, k), cited

    def retrieval(self, query: str, k: int, mode: str | None, filters: Filters | None) -> Retrieval:
        """Everything `ask` needs in one record: the hits, the question's terms and idf, its vector,
        the article it cites and the notice (see `Retrieval`)."""
        hits, cited = self.retrieve(query, k, mode, filters)
        question = check_query(query)
        terms = self.tokens(question)
        return Retrieval(question, hits, terms, self.term_weights(terms),
                         self.query_vector(question) if self.has_vectors else None,
                         self.span(cited) if cited else None, "" if cited else self.notice(question))

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Texts embedded as passages are (for `ask`'s shortlist; needs vectors)."""
        return self.embedder.embed_sentences(texts)

    def _mode(self, mode: str | None) -> str:
        mode = mode or (self.search_settings.mode if self.has_vectors else "bm25")
        if mode not in MODES:
            raise PolicySearchError(f"mode '{mode}' is unknown; use one of {', '.join(MODES)}")
        if mode != "bm25" and not self.has_vectors:
            raise PolicySearchError(f"{self.root} has no dense vectors (built without a model); "
                                    "use --mode bm25 or rebuild with a model")
        return mode

    def _hybrid(self, query: str, terms: list[str], k: int, scope: Any) -> Ranked:
        """The first stage's candidates re-ranked: all of them, best first."""
        return self._reranked(self.first_stage(query, terms, k, scope), terms, "hybrid")

    def first_stage(self, query: str, terms: list[str], k: int, scope: Any) -> Candidates:
        """Both rankings' top `k` (at least `SearchSettings.candidates`), each completed with its
        exact other score, and fused (with document evidence)."""
        s = self.search_settings
        ids, bm25, dense = self.backend.candidates(terms, self.query_vector(query), max(k, s.candidates), scope)
        documents = self.passages.document_numbers(ids)
        fused = fuse(ids, bm25, dense, s.fusion, s.bm25_weight, s.dense_weight, s.rrf_k) if len(ids) else bm25
        return Candidates(ids, bm25, dense, with_documents(fused, documents, s.document_weight), documents)

    def _bm25(self, terms: list[str], depth: int, scope: Any) -> Ranked:
        """The BM25 ranking; on an index without vectors its best candidates are re-ranked."""
        s = self.search_settings
        if self.has_vectors or not s.rerank:
            return self.backend.sparse(terms, depth, scope)
        return self._reranked(self.bm25_candidates(self.backend.sparse(terms, max(depth, s.rerank_depth), scope)),
                              terms, "bm25")

    def bm25_candidates(self, ranked: Ranked) -> Candidates:
        """A BM25 ranking as the re-ranker's candidates (rows ascending, no cosines)."""
        order = np.argsort(ranked.rows)
        rows, scores = ranked.rows[order], ranked.scores[order]
        return Candidates(rows, scores, None, scores, self.passages.document_numbers(rows))

    def _reranked(self, found: Candidates, terms: list[str], model: str) -> Ranked:
        """The candidates best first: by the first stage's score, the best `rerank_depth` re-ordered by the re-ranker."""
        order = np.lexsort((found.rows, -found.fused))
        if not self.search_settings.rerank or not len(order):
            return Ranked(found.rows[order], found.fused[order])
        scores = self.rerankers[model].scores(self.rerank_features(found, order, terms))
        return Ranked(*reranked(found, order, scores))

    def rerank_features(self, found: Candidates, order: np.ndarray, terms: list[str]) -> np.ndarray:
        """The re-ranker's features of the best `rerank_depth` candidates in `order` (the benchmark fits on them)."""
        top = order[:self.search_settings.rerank_depth]
        passages = [Passage(chunk.text, doc.title, chunk.heading) for chunk, doc in self.passages.chunks(found.rows[top])]
        vectors = self.backend.vectors_of(found.rows[top]) if found.dense is not None else None
        return features(found, top, passages, self.term_weights(terms), vectors)

    def citation(self, query: str) -> Citation | None:
        """The law and article the query names, if it names one."""
        if self._citations is None:
            self._citations = CitationIndex(self.passages.titles())
        return self._citations.find(query)

    def cited_rows(self, query: str, filters: Filters | None = None) -> list[int]:
        """Passages of the article the query names ("未成年人保护法第十二条"), if the index has it
        (and its document passes `filters`)."""
        citation = self.citation(query) if self.search_settings.citations else None
        return self.passages.article_rows(citation.doc_ids, citation.article, filters) if citation else []

    def notice(self, query: str, filters: Filters | None = None) -> str:
        """What a reader of the results should know about the query (see `PolicySearch.notice`)."""
        notes = [self._query_notice(query)]
        undated = self.passages.undated() if filters is not None and (filters.date_from or filters.date_to) else 0
        if undated:
            notes.append(f"{undated} document{'s' if undated > 1 else ''} without a date "
                         f"{'are' if undated > 1 else 'is'} left out by the date filter")
        return "; ".join(note for note in notes if note)

    def _query_notice(self, query: str) -> str:
        """That only the query's beginning was searched, or that the article it cites is missing."""
        cleaned = _SURROGATES.sub("", query).strip() if isinstance(query, str) else ""
        if not cleaned:
            return "the query is empty once characters the terminal could not decode are left out; type it again"
        if len(cleaned) > MAX_QUERY_CHARS:
            return f"the query has {len(cleaned)} characters; only its first {MAX_QUERY_CHARS} were searched"
        citation = self.citation(cleaned)
        if citation is None:
            return ""
        if not citation.doc_ids:
            return (f"the question cites {citation.name} {citation.article}, "
                    f"but no document named {citation.name} is in this index")
        if not self.passages.article_rows(citation.doc_ids, citation.article):
            return f"{citation.name} in this index has no {citation.article}"
        return ""

    def _is_model(self, embedder: Any) -> bool:
        model = self.manifest.get("model") or {}
        return embedder.name == model.get("name") and embedder.fingerprint == model.get("fingerprint")

    @property
    def embedder(self) -> Any:
        """The model that embeds queries, loaded on first dense query (BM25 never imports torch)."""
        if self._embedder is None:
            from ..index.dense import load_embedder

            s = self.settings
            embedder = load_embedder(s.model, s.query_prefix, s.passage_prefix, self.passage_precision)
            if not self._is_model(embedder):
                raise PolicySearchError(
                    f"{self.root} was built with another version of model '{s.model}' "
                    f"({self.manifest['model']['fingerprint']}, now {embedder.fingerprint}); "
                    f"rebuild with `policysearch index --rebuild --index {self.root}`")
            self._embedder = embedder
        return self._embedder

    @property
    def passage_precision(self) -> str:
        """The precision the index's passages were encoded in (the setting, for an index built before it was recorded)."""
        return (self.manifest.get("model") or {}).get("precision") or self.settings.precision

    @property
    def loaded_embedder(self) -> Any:
        """The model if a query has loaded it already (handed to the next version), else None."""
        return self._embedder

    def query_vector(self, query: str) -> np.ndarray:
        """The query's vector; the last `QUERY_VECTORS` are kept, so repeated questions skip the model."""
        vector = self._query_vectors.get(query)
        if vector is None:
            vector = self.embedder.embed_queries([query])[0]
            if len(self._query_vectors) >= QUERY_VECTORS:
                self._query_vectors.pop(next(iter(self._query_vectors)))
            self._query_vectors[query] = vector
        return vector

    def tokens(self, text: str) -> list[str]:
        """BM25 terms of a text, as queries and passages are tokenized."""
        return self.tokenizer.tokens(text)

    def term_weights(self, terms: Sequence[str]) -> dict[str, float]:
        """The idf of each distinct term in this index: how much finding it says."""
        return {t: self.bm25.idf_of(t) for t in set(terms)}

    def document(self, doc_id: str) -> Document:
        doc = self.passages.document(doc_id)
        if doc is None:
            raise PolicySearchError(f"{doc_id}: no such document in {self.root}")
        return doc

    def span(self, rows: Sequence[int]) -> Hit:
        """One hit covering consecutive passages of a document (an article split in several), its
        text read from the document so nothing between them is lost."""
        chunks = self.passages.chunks(rows)
        first, doc = chunks[0]
        start, end = first.start, chunks[-1][0].end
        return Hit(rank=1, score=1.0, text=self.passages.texts([(doc.id, start, end)])[0], doc_id=doc.id, title=doc.title,
                   date=doc.date, source=doc.source, path=doc.path, start=start, end=end, article=first.article,
                   section=first.heading, number=doc.meta.get("number", ""))

    def _whole_article(self, hit: Hit, span: tuple[int, int, int] | None) -> bool:
        """Widen a hit on part of a split article (`span`: the article's start, end and passages)
        to the whole article, when it is at most `SearchSettings.article_max` characters long;
        True when widened (its text is then read by the caller, for all such hits at once)."""
        if span is None:
            return False
        start, end, parts = span
        if parts > 1 and end - start <= self.search_settings.article_max and (start < hit.start or end > hit.end):
            hit.start, hit.end = start, end
            return True
        return False

    def hits(self, rows: Sequence[int], scores: Sequence[float], terms: Sequence[str] = (), k: int | None = None) -> list[Hit]:
        """`Hit`s for passage rows and their scores, best first, at most `k` (default: all). A
        passage that overlaps a better one of the same document is merged into it (the hit then
        spans both, keeping the better score) when the two fit in `2 × chunk_max` characters and
        touch no other hit; otherwise it is left out. No text is shown twice. A passage right before
        or after a hit of its document (a list or a heading's body going on), scoring at least
        `neighbour_ratio` × the hit's score, joins it the same way."""
        hits: list[Hit] = []
        of_document: dict[str, list[Hit]] = {}
        widened: list[Hit] = []
        limit = 2 * self.settings.chunk_max
        ratio = self.search_settings.neighbour_ratio
        for chunk, doc, score, span in self._candidates(rows, scores, (k or len(rows)) + 1):
            same = of_document.get(doc.id)
            touching = beside = None
            if same:  # hits of this document so far: does the passage overlap one, or go on from one?
                touching = [h for h in same if chunk.start < h.end and h.start < chunk.end]
                beside = [h for h in same if ratio and h.article == chunk.article
                          and score >= ratio * h.score and _next_to(h, chunk)] if not touching else None
            joined = touching or beside
            if not joined:
                if len(hits) == k:
                    break
                hits.append(Hit(rank=len(hits) + 1, score=score, text=chunk.text, doc_id=doc.id, title=doc.title,
                                date=doc.date, source=doc.source, path=doc.path, start=chunk.start, end=chunk.end,
                                article=chunk.article, section=chunk.heading, number=doc.meta.get("number", "")))
                of_document.setdefault(doc.id, []).append(hits[-1])
                if self._whole_article(hits[-1], span):
                    widened.append(hits[-1])
            elif len(joined) == 1 and max(joined[0].end, chunk.end) - min(joined[0].start, chunk.start) <= limit:
                if touching and all(h is not joined[0] for h in widened):
                    _merge(joined[0], chunk)  # overlapping: both texts are the document's own, joined here
                else:  # a neighbour, or a hit whose text is read below anyway: what lies between is read with it
                    joined[0].start, joined[0].end = min(joined[0].start, chunk.start), max(joined[0].end, chunk.end)
                    widened.append(joined[0])
        widened = list({id(h): h for h in widened}.values())
        texts = self.passages.texts([(h.doc_id, h.start, h.end) for h in widened])  # one read for all
        for hit, text in zip(widened, texts, strict=True):
            hit.text = text
        for hit, spans in zip(hits, highlights([hit.text for hit in hits], terms), strict=True):
            hit.highlights = spans
        return hits

    def _candidates(self, rows: Sequence[int], scores: Sequence[float],
                    batch: int) -> Iterator[tuple[Chunk, Document, float, tuple[int, int, int] | None]]:
        """Passages with their documents, scores and whole articles' spans (None outside an
        article, or when `SearchSettings.article_max` is 0), read `batch` rows at a time, so a
        search reads few more rows than it shows."""
        widen = bool(self.search_settings.article_max)
        for start in range(0, len(rows), batch):
            found = self.passages.chunks(rows[start:start + batch])
            yield from ((chunk, doc, score, chunk.article_span if widen else None)
                        for (chunk, doc), score in zip(found, np.asarray(scores[start:start + batch]).tolist(), strict=True))


def _merge(hit: Hit, chunk: Chunk) -> None:
    """Extend `hit` to cover an overlapping `chunk` of its document (both are exact document text)."""
    if chunk.start < hit.start:
        hit.text = chunk.text[:hit.start - chunk.start] + hit.text
        hit.start = chunk.start
    if chunk.end > hit.end:
        hit.text += chunk.text[hit.end - chunk.start:]
        hit.end = chunk.end


def _next_to(hit: Hit, chunk: Chunk) -> bool:
    """Whether `chunk` directly follows or precedes `hit` in their document (a line break apart at most)."""
    return 0 <= chunk.start - hit.end <= NEIGHBOUR_GAP or 0 <= hit.start - chunk.end <= NEIGHBOUR_GAP


NEIGHBOUR_GAP = 2  # characters between passages that still touch: the line break of a paragraph boundary


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
