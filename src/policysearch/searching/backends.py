"""Where passages are ranked: the local files (default) or a Milvus collection. The searcher
asks a backend for candidates with both exact scores and fuses them itself, so both backends rank alike.
"""

from __future__ import annotations

from typing import Any, Protocol
from collections.abc import Sequence

import numpy as np

from ..index.ranking import Ranked
from ..records import Filters
from ..index.sparse import BM25, positive_top_k
from ..index.store import Passages


class Backend(Protocol):
    """What search needs from a store of BM25 weights and passage vectors. A `scope` is the
    backend's own form of `Filters` (None: every passage)."""

    def scope(self, filters: Filters | None) -> Any: ...

    def sparse(self, terms: Sequence[str], k: int, scope: Any) -> Ranked: ...

    def dense(self, vector: np.ndarray, k: int, scope: Any) -> Ranked: ...

    def candidates(self, terms: Sequence[str], vector: np.ndarray, k: int,
                   scope: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The union of the BM25 and dense top `k`, ascending, with each one's BM25 score and cosine."""
        ...

    def vectors_of(self, rows: np.ndarray) -> np.ndarray | None:
        """The passages' unit vectors (None where the backend keeps them remote)."""
        ...


class LocalBackend:
    """The memory-mapped BM25 arrays and vectors of an index folder; a scope is an array of rows."""

    def __init__(self, bm25: BM25, vectors, passages: Passages) -> None:
        self.bm25 = bm25
        self.vectors = vectors
        self.passages = passages
        self._last: tuple[tuple[str, ...], np.ndarray] | None = None

    def _scores(self, terms: Sequence[str]) -> np.ndarray:
        """BM25 scores of every passage, kept for the query's next call."""
        if self._last is None or self._last[0] != tuple(terms):
            self._last = (tuple(terms), self.bm25.scores(terms))
        return self._last[1]

    def scope(self, filters: Filters | None) -> np.ndarray | None:
        return self.passages.rows_where(filters) if filters else None

    def sparse(self, terms: Sequence[str], k: int, scope: np.ndarray | None) -> Ranked:
        scores = self._scores(terms)
        if scope is not None:
            kept = np.zeros_like(scores)
            kept[scope] = scores[scope]
            scores = kept
        return positive_top_k(scores, k)

    def dense(self, vector: np.ndarray, k: int, scope: np.ndarray | None) -> Ranked:
        """Nearest passages, exactly among the scope's rows when filtering."""
        return self.vectors.search(vector, k, scope)

    def candidates(self, terms: Sequence[str], vector: np.ndarray, k: int,
                   scope: np.ndarray | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        ids = np.union1d(self.sparse(terms, k, scope).rows, self.dense(vector, k, scope).rows).astype(np.int64)
        return ids, self._scores(terms)[ids], self.vectors.scores(vector, ids)

    def vectors_of(self, rows: np.ndarray) -> np.ndarray | None:
        return np.asarray(self.vectors.vectors[rows], dtype=np.float32)
