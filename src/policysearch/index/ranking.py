"""Rankings of passages: the named (rows, scores) pair every index returns, the one top-k
helper, and the fusion of the BM25 and dense rankings into one.

Before fusion both rankings are first completed over the union of their candidates (a BM25 candidate gets its
exact cosine, a dense candidate its exact BM25 score), so fusion never guesses a missing score.
`rrf` is weighted reciprocal rank fusion, Σ w / (k + rank); `score` is a weighted sum of
min-max normalised scores.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np


class Ranked(NamedTuple):
    """Passage rows and their scores, best first."""

    rows: np.ndarray
    scores: np.ndarray


def top_k(rows: np.ndarray, scores: np.ndarray, k: int) -> Ranked:
    """The `k` highest-scoring of `rows`, best first, ties by row, without sorting them all."""
    rows, scores = np.asarray(rows, dtype=np.int64), np.asarray(scores)
    if 0 < k < len(scores):
        threshold = scores[np.argpartition(-scores, k - 1)[k - 1]]  # the k-th best score
        keep = np.flatnonzero(scores >= threshold)  # all tied at the boundary, so the cut below is by row
        rows, scores = rows[keep], scores[keep]
    elif k <= 0:
        rows, scores = rows[:0], scores[:0]
    order = np.lexsort((rows, -scores))[:max(k, 0)]
    return Ranked(rows[order], scores[order])


def fuse(
    ids: np.ndarray,
    bm25: np.ndarray,
    dense: np.ndarray,
    method: str,
    bm25_weight: float,
    dense_weight: float,
    rrf_k: float = 60.0,
) -> np.ndarray:
    """Fused score for each candidate in `ids`, given its BM25 and dense scores."""
    if method == "rrf":
        return bm25_weight / (rrf_k + _ranks(bm25, ids)) + dense_weight / (rrf_k + _ranks(dense, ids))
    if method == "score":
        return bm25_weight * minmax(bm25) + dense_weight * minmax(dense)
    raise ValueError(f"fusion: unknown method {method!r}; use 'rrf' or 'score'")


def with_documents(scores: np.ndarray, documents: np.ndarray, weight: float, best: int = 3) -> np.ndarray:
    """Each candidate's score plus `weight` × its document's evidence (see `document_evidence`) times the top score."""
    if weight == 0 or not len(scores) or float(scores.max()) <= 0:
        return scores
    return scores + weight * float(scores.max()) * document_evidence(scores, documents, best)


def document_evidence(scores: np.ndarray, documents: np.ndarray, best: int = 3) -> np.ndarray:
    """Each candidate's document evidence: the sum of that document's `best` candidate scores, as
    a share of the strongest document's (0 to 1)."""
    if not len(scores):
        return scores
    groups = np.unique(documents, return_inverse=True)[1]
    order = np.lexsort((-scores, groups))
    sorted_groups = groups[order]
    first = np.searchsorted(sorted_groups, sorted_groups, side="left")
    kept = order[np.arange(len(order)) - first < best]
    evidence = np.bincount(groups[kept], weights=scores[kept], minlength=groups.max() + 1)
    if evidence.max() <= 0:
        return np.zeros(len(scores))
    return evidence[groups] / evidence.max()


def _ranks(scores: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """1-based rank of each candidate by descending score, ties broken by passage id."""
    order = np.lexsort((ids, -scores))
    ranks = np.empty(len(scores))
    ranks[order] = np.arange(1, len(scores) + 1)
    return ranks


def minmax(scores: np.ndarray) -> np.ndarray:
    """Scores onto [0, 1]; when all are equal (one candidate passed a filter) each is the best: 1,
    or 0 if none scored at all."""
    low, high = float(scores.min()), float(scores.max())
    if high > low:
        return (scores - low) / (high - low)
    return np.full(scores.shape, 1.0 if high > 0 else 0.0)
