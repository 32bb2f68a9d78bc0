"""Score normalisations for hybrid fusion, side by side: MRR@10 per benchmark set for min-max
(the default), distribution-based (mean ± 3σ), z-score and BM25 / max, at BM25 weights 0.3–0.5.

    python benchmarks/fusion.py      # benchmarks/results/fusion.md (about 5 minutes)

Each question's candidates and exact scores are fetched once, then fused every way.
"""

from __future__ import annotations

import sys
from typing import Callable

import numpy as np

from policysearch import Settings
from policysearch.eval import score
from quality import benchmarks, open_index, report

Normalise = Callable[[np.ndarray], np.ndarray]


def minmax(s: np.ndarray) -> np.ndarray:
    low, high = s.min(), s.max()
    return (s - low) / (high - low) if high > low else np.zeros_like(s)


def three_sigma(s: np.ndarray) -> np.ndarray:
    spread = s.std()
    return np.clip((s - s.mean() + 3 * spread) / (6 * spread), 0, 1) if spread > 0 else np.zeros_like(s)


def zscore(s: np.ndarray) -> np.ndarray:
    spread = s.std()
    return (s - s.mean()) / spread if spread > 0 else np.zeros_like(s)


def by_max(s: np.ndarray) -> np.ndarray:
    return s / s.max() if s.max() > 0 else np.zeros_like(s)


METHODS: dict[str, tuple[Normalise, Normalise]] = {
    "min-max": (minmax, minmax), "mean ± 3σ": (three_sigma, three_sigma),
    "z-score": (zscore, zscore), "BM25 / max, dense min-max": (by_max, minmax),
}
WEIGHTS = (0.3, 0.4, 0.5)


def main() -> int:
    sets = benchmarks(False, None)
    if not sets:
        print("skip: no benchmark data under ../shared/data", file=sys.stderr)
        return 0
    columns = [f"{m} {w}" for m in METHODS for w in WEIGHTS] + ["bm25", "dense"]
    results: dict[str, dict[str, float]] = {}
    for bench in sets:
        engine = open_index(bench, Settings(), "")
        backend = engine.backend
        mrr: dict[str, list[float]] = {c: [] for c in columns}
        for query in bench.queries:
            terms = engine.tokenizer.tokens(query.query)
            vector = engine.query_vector(query.query)
            ids = np.union1d(backend.sparse(terms, 100, None)[0], backend.dense(vector, 100, None)[0]).astype(np.int64)
            sparse, dense = backend.sparse_scores(terms, ids), backend.dense_scores(vector, ids)
            fused = {f"{m} {w}": w * nb(sparse) + (1 - w) * nd(dense) for m, (nb, nd) in METHODS.items() for w in WEIGHTS}
            fused.update(bm25=sparse, dense=dense)
            for name, scores in fused.items():
                top = np.lexsort((ids, -scores))[:10]
                mrr[name].append(score(query, engine.hits(ids[top], scores[top]))["mrr@10"])
        results[bench.name] = {c: float(np.mean(v)) for c, v in mrr.items()}
        print(f"{bench.name}: {len(bench.queries)} questions", file=sys.stderr)
    names = list(results)
    lines = ["# Fusion normalisations (MRR@10, no citation lookup)", "", "Command: `python benchmarks/fusion.py`", "",
             "| fusion, BM25 weight | " + " | ".join(names) + " |", "|---|" + "---:|" * len(names)]
    lines += [f"| {c} | " + " | ".join(f"{results[n][c]:.3f}" for n in names) + " |" for c in columns]
    report("fusion.md", lines)
    return 0


if __name__ == "__main__":
    sys.exit(main())
