"""Hybrid fusion functions side by side (issue 3): MRR@10 per benchmark set for the default
(min-max, BM25 weight 0.3) and the alternatives tried against it, and how often each loses to the
better of its two inputs question by question.

    python benchmarks/fusion.py      # benchmarks/results/fusion.md (about 5 minutes)

Each question's candidates (top 100 of each ranking) and exact scores are fetched once, then fused
every way. "Corpus background" scales a cosine by the query's mean and standard deviation over all
passages (q·centroid and √(qᵀΣq)), so a model whose cosines all sit in 0.85–0.90 is not stretched
to 0–1 over the candidates. "Query length" gives short questions (≤ 5 terms) a BM25 weight of 0.6.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from collections.abc import Callable

import numpy as np

from policysearch import IndexSettings
from policysearch.eval import score
from policysearch.index.ranking import fuse
from quality import benchmarks, open_index, report


@dataclass
class Candidates:
    """One question's candidates with both exact scores and what the query-aware fusions need."""
    ids: np.ndarray
    bm25: np.ndarray
    dense: np.ndarray
    terms: int
    mean: float
    spread: float


Fusion = Callable[[Candidates], np.ndarray]


def three_sigma(s: np.ndarray) -> np.ndarray:
    spread = s.std()
    return np.clip((s - s.mean() + 3 * spread) / (6 * spread), 0, 1) if spread > 0 else np.zeros_like(s)


def zscore(s: np.ndarray) -> np.ndarray:
    spread = s.std()
    return (s - s.mean()) / spread if spread > 0 else np.zeros_like(s)


def by_max(s: np.ndarray) -> np.ndarray:
    return s / s.max() if s.max() > 0 else np.zeros_like(s)


def normalised(nb: Callable, nd: Callable, w: float) -> Fusion:
    return lambda c: w * nb(c.bm25) + (1 - w) * nd(c.dense)


def library(method: str, w: float, k: int = 60) -> Fusion:
    """policysearch's own `fuse`: "score" is min-max, "rrf" weighted reciprocal rank fusion."""
    return lambda c: fuse(c.ids, c.bm25, c.dense, method, w, 1 - w, k)


def background(w: float, scale: float) -> Fusion:
    return lambda c: w * by_max(c.bm25) + (1 - w) * (c.dense - c.mean) / (scale * c.spread)


def by_length(short: float, limit: int = 5) -> Fusion:
    return lambda c: library("score", short if c.terms <= limit else 0.3)(c)


DEFAULT = "min-max 0.3 (default)"
FUSIONS: dict[str, Fusion] = {
    DEFAULT: library("score", 0.3),
    **{f"min-max {w}": library("score", w) for w in (0.4, 0.5, 0.6)},
    **{f"mean ± 3σ {w}": normalised(three_sigma, three_sigma, w) for w in (0.3, 0.4)},
    **{f"z-score {w}": normalised(zscore, zscore, w) for w in (0.3, 0.4)},
    **{f"RRF k={k} {w}": library("rrf", w, k) for k, w in ((60, 0.3), (60, 0.35), (10, 0.35), (5, 0.4))},
    **{f"corpus background /{s}σ {w}": background(w, s) for s, w in ((3, 0.3), (3, 0.4), (5, 0.3), (5, 0.5))},
    "query length: ≤ 5 terms 0.6": by_length(0.6),
    "bm25": lambda c: c.bm25,
    "dense": lambda c: c.dense,
}


def sign_test(wins: int, losses: int) -> float:
    """Two-sided exact binomial test of wins against losses at p = 1/2."""
    from math import comb

    n, low = wins + losses, min(wins, losses)
    if n == 0:
        return 1.0
    return min(1.0, 2 * sum(comb(n, i) for i in range(low + 1)) / 2 ** n)


def main() -> int:
    sets = benchmarks(False, None)
    if not sets:
        print("skip: no benchmark data under ../shared/data", file=sys.stderr)
        return 0
    mrr: dict[str, dict[str, np.ndarray]] = {}
    for bench in sets:
        engine = open_index(bench, IndexSettings(), "")
        backend = engine.searcher.backend
        vectors = np.asarray(backend.vectors.vectors, dtype=np.float32)
        centroid, covariance = vectors.mean(axis=0), np.cov(vectors.T)
        per_fusion: dict[str, list[float]] = {name: [] for name in FUSIONS}
        for query in bench.queries:
            terms = engine.searcher.tokens(query.query)
            vector = engine.searcher.query_vector(query.query)
            ids = np.union1d(backend.sparse(terms, 100, None).rows, backend.dense(vector, 100, None).rows).astype(np.int64)
            c = Candidates(ids, backend.sparse_scores(terms, ids), backend.dense_scores(vector, ids), len(terms),
                           float(vector @ centroid), float(np.sqrt(vector @ covariance @ vector)))
            for name, fusion in FUSIONS.items():
                scores = fusion(c)
                top = np.lexsort((ids, -scores))[:10]
                per_fusion[name].append(score(query, engine.searcher.hits(ids[top], scores[top]))["mrr@10"])
        mrr[bench.name] = {name: np.array(values) for name, values in per_fusion.items()}
        print(f"{bench.name}: {len(bench.queries)} questions", file=sys.stderr)
    names = list(mrr)
    lines = ["# Hybrid fusion functions (MRR@10, no citation lookup)", "", "Command: `python benchmarks/fusion.py`", "",
             "A cell is marked * where the fusion is below the better of BM25 and dense on that set.", "",
             "| fusion, BM25 weight | " + " | ".join(names) + " | sets below the better input |",
             "|---|" + "---:|" * (len(names) + 1)]
    for fusion in FUSIONS:
        cells, below = [], 0
        for n in names:
            value, best = mrr[n][fusion].mean(), max(mrr[n]["bm25"].mean(), mrr[n]["dense"].mean())
            low = fusion not in ("bm25", "dense") and value < best - 1e-9
            below += low
            cells.append(f"{value:.3f}{'*' if low else ''}")
        lines.append(f"| {fusion} | " + " | ".join(cells) + f" | {below if fusion not in ('bm25', 'dense') else ''} |")
    lines += ["", "The default against the better input, question by question (a paired sign test: p is the",
              "two-sided probability of a split at least this uneven if neither were better):", "",
              "| set | better input | questions where the default is better / worse / equal | p |", "|---|---|---|---:|"]
    for n in names:
        better = "bm25" if mrr[n]["bm25"].mean() >= mrr[n]["dense"].mean() else "dense"
        diff = mrr[n][DEFAULT] - mrr[n][better]
        wins, losses = int((diff > 1e-9).sum()), int((diff < -1e-9).sum())
        lines.append(f"| {n} | {better} | {wins} / {losses} / {len(diff) - wins - losses} | {sign_test(wins, losses):.3g} |")
    report("fusion.md", lines)
    return 0


if __name__ == "__main__":
    sys.exit(main())
