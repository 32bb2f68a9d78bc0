"""The second stage of ranking: a linear pairwise model, learned offline on labelled questions
(`benchmarks/rerank.py`), that re-orders the best first-stage candidates by features of the
question and each passage. It learns per question how much to trust each signal, which one
fixed fusion rule cannot. Shipped in `data/reranker.json`; pure numpy at query time."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any
from collections.abc import Sequence

import numpy as np

from ..index.ranking import document_evidence, minmax

FEATURES = ("fused", "bm25", "dense", "bm25_rank", "dense_rank", "cosine", "dense_gap", "bm25_gap", "agree",
            "evidence", "title", "coverage", "proximity", "length", "duplicate", "long_bm25", "long_dense")
"""Every feature, in column order. Ranks enter as 1/log2(1 + rank); scores min-max scaled within
the question's candidates; `title`, `coverage` are idf-weighted shares of the question's terms in
the title and heading path, and in the passage; `proximity` the length of those terms over the
shortest window holding them all; `duplicate` the highest cosine to a better candidate of another
document (a re-posted notice); `long_*` the score times log(1 + question terms)."""

DENSE_ONLY = {"dense", "dense_rank", "cosine", "dense_gap", "agree", "duplicate", "long_dense"}
"""The features a BM25-only index cannot have: its model is fitted without them."""


@dataclass
class Candidates:
    """The first stage's candidates of one question: rows ascending, their BM25 scores, cosines
    (None without vectors), fused scores and their documents' numbers."""

    rows: np.ndarray
    bm25: np.ndarray
    dense: np.ndarray | None
    fused: np.ndarray
    documents: np.ndarray


@dataclass
class Passage:
    """What the features read of one candidate passage: its text, title and heading path."""

    text: str
    title: str
    heading: str


@dataclass
class Reranker:
    """A linear model over named features, standardised by `mean` and `scale`; the score of a
    candidate is its logit of being more relevant than another of the same question."""

    names: list[str]
    mean: list[float]
    scale: list[float]
    weights: list[float]

    def scores(self, features: np.ndarray) -> np.ndarray:
        """One score per row of `features` (columns in `FEATURES` order)."""
        columns = features[:, [FEATURES.index(name) for name in self.names]]
        return (columns - np.array(self.mean)) / np.array(self.scale) @ np.array(self.weights)

    def to_dict(self) -> dict[str, Any]:
        return {"names": self.names, "mean": self.mean, "scale": self.scale, "weights": self.weights}


@lru_cache(maxsize=1)
def shipped() -> dict[str, Reranker]:
    """The package's models: `hybrid` for an index with vectors, `bm25` for one without."""
    data = json.loads(resources.files("policysearch").joinpath("data/reranker.json").read_text(encoding="utf-8"))
    return {name: Reranker(**data["models"][name]) for name in ("hybrid", "bm25")}


def features(found: Candidates, top: np.ndarray, passages: Sequence[Passage], weights: dict[str, float],
             vectors: np.ndarray | None) -> np.ndarray:
    """The feature matrix of the candidates at positions `top` of `found` (best fused first), given
    their passages, the question's terms with their idf (`weights`) and their vectors (None: none)."""
    out = np.zeros((len(top), len(FEATURES)))
    column = {name: out[:, i] for i, name in enumerate(FEATURES)}
    long = math.log1p(len(weights))
    column["fused"][:] = minmax(found.fused)[top]
    column["bm25"][:] = minmax(found.bm25)[top]
    column["bm25_rank"][:] = _rank_gain(found.bm25)[top]
    best = float(found.bm25.max()) if len(found.bm25) else 0.0
    column["bm25_gap"][:] = 1.0 - found.bm25[top] / best if best > 0 else 1.0
    column["long_bm25"][:] = long * column["bm25"]
    if found.dense is not None:
        column["dense"][:] = minmax(found.dense)[top]
        column["dense_rank"][:] = _rank_gain(found.dense)[top]
        column["cosine"][:] = found.dense[top]
        column["dense_gap"][:] = float(found.dense.max()) - found.dense[top]
        column["agree"][:] = (column["bm25_rank"] >= _GAIN_10) & (column["dense_rank"] >= _GAIN_10)
        column["long_dense"][:] = long * column["dense"]
    column["evidence"][:] = document_evidence(found.fused, found.documents)[top]
    total = sum(weights.values()) or 1.0
    for i, passage in enumerate(passages):
        label = passage.title + " " + passage.heading
        column["title"][i] = sum(w for t, w in weights.items() if t in label) / total
        present = [t for t in weights if t in passage.text]
        column["coverage"][i] = sum(weights[t] for t in present) / total
        column["proximity"][i] = _proximity(passage.text, present)
        column["length"][i] = math.log1p(len(passage.text))
    if vectors is not None and len(top) > 1:
        column["duplicate"][:] = _duplicates(vectors, found.documents[top])
    return out


_GAIN_10 = 1.0 / math.log2(11)  # the rank gain of the 10th candidate


def _rank_gain(scores: np.ndarray) -> np.ndarray:
    """1 / log2(1 + rank) of each score, rank 1 the highest."""
    order = np.argsort(-scores, kind="stable")
    ranks = np.empty(len(scores))
    ranks[order] = np.arange(1, len(scores) + 1)
    return 1.0 / np.log2(1.0 + ranks)


def _proximity(text: str, terms: Sequence[str]) -> float:
    """The terms' total length over the shortest window of `text` holding each of them (1: side by
    side); 0 for fewer than two terms."""
    if len(terms) < 2:
        return 0.0
    places = sorted((start, i) for i, term in enumerate(terms) for start in _places(text, term))
    seen: dict[int, int] = {}
    left, best = 0, len(text) + 1
    for start, term in places:
        seen[term] = seen.get(term, 0) + 1
        while len(seen) == len(terms):
            first, kind = places[left]
            best = min(best, start + len(terms[term]) - first)
            seen[kind] -= 1
            if not seen[kind]:
                del seen[kind]
            left += 1
    return min(1.0, sum(len(t) for t in terms) / best)


def _places(text: str, term: str, most: int = 16) -> list[int]:
    """Where `term` starts in `text`, at most the first `most` times."""
    found, start = [], text.find(term)
    while start >= 0 and len(found) < most:
        found.append(start)
        start = text.find(term, start + 1)
    return found


def _duplicates(vectors: np.ndarray, documents: np.ndarray) -> np.ndarray:
    """Each candidate's highest cosine to a better one (earlier row) of another document."""
    similar = np.einsum("ij,kj->ik", vectors, vectors)  # not BLAS: its threads cost more than this small product
    similar[documents[:, None] == documents[None, :]] = -1.0
    similar[np.triu_indices(len(vectors))] = -1.0  # only better candidates count
    return np.maximum(similar.max(axis=1), 0.0)


def reranked(found: Candidates, order: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rows and scores best first: the re-ranked head `order[:len(scores)]` by `scores` (made 0 to
    1), then the rest of `order` below them in first-stage order."""
    head = order[:len(scores)]
    probability = 1.0 / (1.0 + np.exp(-scores))
    ranked = np.lexsort((found.rows[head], -probability))
    rest = order[len(scores):]
    floor = float(probability.min()) if len(probability) else 1.0
    tail = floor * minmax(found.fused[rest]) * 0.999 if len(rest) else np.zeros(0)
    return (np.concatenate([found.rows[head][ranked], found.rows[rest]]),
            np.concatenate([probability[ranked], tail]))
