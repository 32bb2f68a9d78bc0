"""Okapi BM25 precomputed into a sparse matrix; with `idf="okapi"` its scores are exactly those
of `rank_bm25.BM25Okapi`. The default `idf="lucene"`, log(1 + (N - df + 0.5) / (df + 0.5)), is
never negative, so a folder of one or two documents still finds its passages.

Each (term, passage) weight `idf * tf * (k1 + 1) / (tf + k1 * (1 - b + b * len / avglen))` is
stored once in a term-major CSR matrix, so a query is a sum of a few rows (`np.bincount`) and the
top k come from `np.argpartition`, not from sorting every score.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from collections.abc import Sequence

import numpy as np

from .ranking import Ranked, top_k


def _mapped(path: Path) -> np.ndarray:
    """A saved array, memory-mapped, seen as a plain array: each slice of an `np.memmap` costs a
    Python call, and a query takes a few dozen."""
    return np.load(path, mmap_mode="r").view(np.ndarray)


class Vocabulary:
    """Term → row of the BM25 matrix, without reading every term when an index opens: terms of
    up to `WIDTH` UTF-8 bytes are a sorted fixed-width array (memory-mapped, binary-searched in C,
    a term's row is its position); the few longer ones follow, listed in a small JSON file."""

    WIDTH = 32

    def __init__(self, short: np.ndarray, long: Sequence[str]) -> None:
        self.short = short
        self.long = {term: len(short) + i for i, term in enumerate(long)}

    @classmethod
    def of(cls, terms: Sequence[str]) -> tuple[Vocabulary, np.ndarray]:
        """The vocabulary of `terms`, and the row each of them (in the given order) gets."""
        encoded = [t.encode("utf-8") for t in terms]
        short = sorted((b, i) for i, b in enumerate(encoded) if len(b) <= cls.WIDTH)
        long = sorted((t, i) for i, (t, b) in enumerate(zip(terms, encoded, strict=True)) if len(b) > cls.WIDTH)
        rows = np.empty(len(terms), dtype=np.int64)
        rows[[i for _, i in short + long]] = np.arange(len(terms))  # a term's row is its place in that order
        return cls(np.array([b for b, _ in short], dtype=f"S{cls.WIDTH}"), [t for t, _ in long]), rows

    def get(self, term: str) -> int | None:
        key = term.encode("utf-8")
        if len(key) > self.WIDTH:
            return self.long.get(term)
        i = int(np.searchsorted(self.short, key))
        return i if i < len(self.short) and self.short[i] == key else None

    def __contains__(self, term: str) -> bool:
        return self.get(term) is not None

    def __len__(self) -> int:
        return len(self.short) + len(self.long)

    def save(self, folder: Path) -> None:
        np.save(folder / "bm25_terms.npy", self.short)
        (folder / "bm25_long_terms.json").write_text(json.dumps(list(self.long), ensure_ascii=False), encoding="utf-8")

    @classmethod
    def load(cls, folder: Path) -> Vocabulary:
        long = json.loads((folder / "bm25_long_terms.json").read_text(encoding="utf-8"))
        return cls(_mapped(folder / "bm25_terms.npy"), long)


class BM25:
    """Build with `index(token_lists)`, query with `search(tokens, k)`; `save`/`load` as .npy files."""

    def __init__(self, k1: float = 1.5, b: float = 0.75, epsilon: float = 0.25, idf: str = "lucene") -> None:
        if idf not in ("lucene", "okapi"):
            raise ValueError(f"idf: unknown value {idf!r}; use 'lucene' or 'okapi'")
        self.k1, self.b, self.epsilon, self.idf = k1, b, epsilon, idf
        self.vocab = Vocabulary(np.zeros(0, dtype=f"S{Vocabulary.WIDTH}"), [])
        self.indptr = np.zeros(1, dtype=np.int64)
        self.indices = np.zeros(0, dtype=np.int32)
        self.weights = np.zeros(0, dtype=np.float64)
        self.text_df = np.zeros(0, dtype=np.int64)
        self.n_docs = 0

    def index(self, corpus: Sequence[Sequence[str]], texts: Sequence[Sequence[str]] | None = None) -> BM25:
        """Weights for the passages' tokens. `texts`, the same passages' tokens without the context
        indexed with them, if any: `idf_of` counts those, as an answer sentence has no context."""
        vocab: dict[str, int] = {}
        rows: list[int] = []
        cols: list[int] = []
        tfs: list[int] = []
        lengths = np.zeros(len(corpus), dtype=np.float64)
        for doc, tokens in enumerate(corpus):
            lengths[doc] = len(tokens)
            for term, tf in Counter(tokens).items():
                rows.append(vocab.setdefault(term, len(vocab)))
                cols.append(doc)
                tfs.append(tf)
        self.vocab, row_of = Vocabulary.of(list(vocab))
        term = row_of[np.asarray(rows, dtype=np.int64)]
        doc_ids = np.asarray(cols, dtype=np.int32)
        tf = np.asarray(tfs, dtype=np.float64)
        n = len(corpus)
        idf = _idf(np.bincount(term, minlength=len(vocab)).astype(np.float64), n, self.idf, self.epsilon)
        avglen = lengths.sum() / n if n else 1.0
        norm = self.k1 * (1 - self.b + self.b * lengths[doc_ids] / avglen)
        weight = idf[term] * tf * (self.k1 + 1) / (tf + norm)
        order = np.lexsort((doc_ids, term))
        self.indices = doc_ids[order]
        self.weights = weight[order]
        self.indptr = np.concatenate([[0], np.cumsum(np.bincount(term, minlength=len(vocab)))]).astype(np.int64)
        self.n_docs = n
        if texts is None:
            self.text_df = np.diff(self.indptr)
        else:
            counts = Counter(vocab[t] for tokens in texts for t in set(tokens) if t in vocab)
            self.text_df = np.zeros(len(vocab), dtype=np.int64)
            self.text_df[row_of[list(counts)]] = list(counts.values())
        return self

    def scores(self, tokens: Sequence[str]) -> np.ndarray:
        """BM25 score of every passage for the query tokens (a repeated token counts again)."""
        rows = self.query_terms(tokens)
        if not rows:
            return np.zeros(self.n_docs)
        parts_idx, parts_w = [], []
        for row, count in rows.items():
            lo, hi = self.indptr[row], self.indptr[row + 1]
            parts_idx.append(self.indices[lo:hi])
            parts_w.append(self.weights[lo:hi] * count)
        return np.bincount(np.concatenate(parts_idx), np.concatenate(parts_w), minlength=self.n_docs)

    def query_terms(self, tokens: Sequence[str]) -> dict[int, float]:
        """A query as {term row: count}."""
        out: dict[int, float] = {}
        for term, count in Counter(tokens).items():
            row = self.vocab.get(term)
            if row is not None:
                out[row] = float(count)
        return out

    def idf_of(self, term: str) -> float:
        """Inverse document frequency of a term among the passages' own texts, context left out
        (0 for unknown terms)."""
        row = self.vocab.get(term)
        if row is None:
            return 0.0
        df = float(self.text_df[row])
        return float(np.log1p((self.n_docs - df + 0.5) / (df + 0.5)))

    def search(self, tokens: Sequence[str], k: int) -> Ranked:
        """The `k` best passages with a positive score, best first."""
        return positive_top_k(self.scores(tokens), k)

    def save(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        np.save(folder / "bm25_indptr.npy", self.indptr)
        np.save(folder / "bm25_indices.npy", self.indices)
        np.save(folder / "bm25_weights.npy", self.weights)
        np.save(folder / "bm25_text_df.npy", self.text_df)
        self.vocab.save(folder)

    @classmethod
    def load(cls, folder: Path, n_docs: int) -> BM25:
        """Open saved weights (memory-mapped); the parameters are baked into them."""
        bm25 = cls()
        bm25.indptr = _mapped(folder / "bm25_indptr.npy")
        bm25.indices = _mapped(folder / "bm25_indices.npy")
        bm25.weights = _mapped(folder / "bm25_weights.npy")
        bm25.text_df = _mapped(folder / "bm25_text_df.npy")
        bm25.vocab = Vocabulary.load(folder)
        bm25.n_docs = n_docs
        return bm25


class BM25Terms:
    """The query side of BM25 for a store that keeps each passage's weights without the idf (a
    Milvus collection): the vocabulary with stable term ids, document frequencies, the passage
    count. A query brings the idf, so adding or removing passages rewrites no stored weight;
    length normalisation keeps the average length of the first build."""

    def __init__(self, k1: float = 1.5, b: float = 0.75, epsilon: float = 0.25, idf: str = "lucene") -> None:
        if idf not in ("lucene", "okapi"):
            raise ValueError(f"idf: unknown value {idf!r}; use 'lucene' or 'okapi'")
        self.k1, self.b, self.epsilon, self.idf = k1, b, epsilon, idf
        self.vocab = Vocabulary(np.zeros(0, dtype=f"S{Vocabulary.WIDTH}"), [])
        self.ids = np.zeros(0, dtype=np.int64)  # a vocabulary row's term id
        self.df = np.zeros(0, dtype=np.int64)  # by term id: passages holding the term, context included
        self.text_df = np.zeros(0, dtype=np.int64)  # the same among the passages' own texts
        self.n_docs = 0
        self.avglen = 0.0
        self._idf: np.ndarray | None = None

    def add(self, corpus: Sequence[Sequence[str]], texts: Sequence[Sequence[str]]) -> list[dict[int, float]]:
        """Count new passages (tokens with context, and of their own text) and return each one's
        weights without idf, {term id: tf * (k1 + 1) / (tf + k1 * (1 - b + b * len / avglen))}."""
        ids = self._term_ids()
        if not self.n_docs:
            self.avglen = (sum(len(tokens) for tokens in corpus) / len(corpus) if corpus else 0.0) or 1.0
        rows = []
        for tokens in corpus:
            norm = self.k1 * (1 - self.b + self.b * len(tokens) / self.avglen)
            rows.append({ids.setdefault(term, len(ids)): tf * (self.k1 + 1) / (tf + norm)
                         for term, tf in Counter(tokens).items()})
        self._count(ids, corpus, texts, 1)
        return rows

    def remove(self, corpus: Sequence[Sequence[str]], texts: Sequence[Sequence[str]]) -> None:
        """Stop counting passages (their tokens as they were added)."""
        self._count(self._term_ids(), corpus, texts, -1)

    def _term_ids(self) -> dict[str, int]:
        terms = [t.decode("utf-8") for t in self.vocab.short.tolist()] + list(self.vocab.long)
        return dict(zip(terms, self.ids.tolist(), strict=True))

    def _count(self, ids: dict[str, int], corpus: Sequence[Sequence[str]], texts: Sequence[Sequence[str]], sign: int) -> None:
        df, text_df = np.zeros(len(ids), np.int64), np.zeros(len(ids), np.int64)
        df[:len(self.df)], text_df[:len(self.text_df)] = self.df, self.text_df
        for counts, lists in ((df, corpus), (text_df, texts)):
            found = Counter(ids[t] for tokens in lists for t in set(tokens) if t in ids)
            counts[list(found)] += sign * np.fromiter(found.values(), np.int64, len(found))
        self.vocab, row_of = Vocabulary.of(list(ids))
        self.ids = np.empty(len(ids), np.int64)
        self.ids[row_of] = list(ids.values())
        self.df, self.text_df, self.n_docs, self._idf = df, text_df, self.n_docs + sign * len(corpus), None

    def query_terms(self, tokens: Sequence[str]) -> dict[int, float]:
        """A query as {term id: count × idf}: its inner product with a passage's stored weights
        is the passage's BM25 score."""
        if self._idf is None:
            self._idf = _idf(self.df.astype(np.float64), self.n_docs, self.idf, self.epsilon)
        out: dict[int, float] = {}
        for term, count in Counter(tokens).items():
            row = self.vocab.get(term)
            if row is not None and self.df[self.ids[row]] > 0:
                out[int(self.ids[row])] = count * float(self._idf[self.ids[row]])
        return out

    def idf_of(self, term: str) -> float:
        """Inverse document frequency of a term among the passages' own texts (0 for unknown terms)."""
        row = self.vocab.get(term)
        if row is None:
            return 0.0
        df = float(self.text_df[self.ids[row]])
        return float(np.log1p((self.n_docs - df + 0.5) / (df + 0.5)))

    def save(self, folder: Path) -> None:
        self.vocab.save(folder)
        np.save(folder / "bm25_term_ids.npy", self.ids)
        np.save(folder / "bm25_df.npy", self.df)
        np.save(folder / "bm25_text_df.npy", self.text_df)
        stats = {"k1": self.k1, "b": self.b, "epsilon": self.epsilon, "idf": self.idf, "passages": self.n_docs,
                 "average_length": self.avglen}
        (folder / "bm25_stats.json").write_text(json.dumps(stats), encoding="utf-8")

    @classmethod
    def load(cls, folder: Path) -> BM25Terms:
        stats = json.loads((folder / "bm25_stats.json").read_text(encoding="utf-8"))
        terms = cls(stats["k1"], stats["b"], stats["epsilon"], stats["idf"])
        terms.vocab = Vocabulary.load(folder)
        terms.ids = np.load(folder / "bm25_term_ids.npy")
        terms.df = np.load(folder / "bm25_df.npy")
        terms.text_df = np.load(folder / "bm25_text_df.npy")
        terms.n_docs, terms.avglen = stats["passages"], stats["average_length"]
        return terms


def _idf(df: np.ndarray, n: int, kind: str, epsilon: float) -> np.ndarray:
    """Each term's idf, lucene's log(1 + (N - df + 0.5) / (df + 0.5)) or Okapi's (negative ones
    floored at `epsilon` × the mean over the terms some passage holds)."""
    if kind == "lucene":
        return np.log1p((n - df + 0.5) / (df + 0.5))
    idf = np.log(n - df + 0.5) - np.log(df + 0.5)
    held = df > 0
    if held.any():
        idf[held & (idf < 0)] = epsilon * idf[held].mean()
    return idf


def positive_top_k(scores: np.ndarray, k: int) -> Ranked:
    """The `k` passages with the largest positive scores (a passage sharing no term scores 0)."""
    candidates = np.flatnonzero(scores > 0)
    return top_k(candidates, scores[candidates], k)
