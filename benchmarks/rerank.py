"""The learned re-ranker: its fit, and hybrid before → after on every labelled set.

    python benchmarks/rerank.py          # benchmarks/results/rerank.md (the shipped model on test halves)
    python benchmarks/rerank.py --fit    # the same, after fitting and writing src/policysearch/data/reranker.json
    python benchmarks/rerank.py --smoke  # a few questions on small corpora (CI)

Fitted on the dev half of every set (STARD train, LawBench, CMRC 2018, policyqa), never on a
test half. Dev numbers are out of fold: five folds by the relevant document (all questions of a
law or a CMRC passage sit in one fold), a model fitted on four scores the fifth. The re-ranker
depth is chosen on those dev numbers. Test numbers are the model fitted on all dev questions.
The model is pairwise: logistic regression on the feature differences of a relevant and a
non-relevant candidate of the same question, each question weighed once.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import statistics
import sys
import time
from dataclasses import dataclass, replace

import numpy as np

from fitting import newton_logistic
from policysearch import IndexSettings, PolicySearch, SearchSettings
from policysearch.eval import Query, evaluate, label, squash
from policysearch.searching.reranker import DENSE_ONLY, FEATURES, Reranker, shipped
from quality import DEPTH, HERE, RESULTS, Benchmark, benchmarks, machine, open_index, report, split

FOLDS = 5
L2 = 1.0  # ridge penalty on the standardised weights; fixed, not tuned
DEPTHS = (20, 50, 100)  # re-ranker depths tried on the dev halves
MODEL_FILE = HERE.parent / "src" / "policysearch" / "data" / "reranker.json"
COLUMNS = ("recall@1", "recall@10", "mrr@10", "ndcg@10")


@dataclass
class Item:
    """One question's first-stage candidates (best first) with their features and labels."""

    query: Query
    group: str
    features: np.ndarray
    labels: np.ndarray


def group_of(query: Query) -> str:
    """The document a question is about (its fold): the law or passage of its first label."""
    return query.relevant[0].partition("#")[0] if query.relevant else query.qid


def collect(engine: PolicySearch, bench: Benchmark, queries: list[Query]) -> list[Item]:
    """Features and labels of the first stage's best `max(DEPTHS)` candidates of each question."""
    searcher = engine.searcher
    saved = searcher.search_settings
    searcher.search_settings = replace(saved, rerank_depth=max(DEPTHS))
    items = []
    for query in queries:
        terms = searcher.tokens(query.query)
        if searcher.has_vectors:
            found = searcher.first_stage(query.query, terms, DEPTH, None)
        else:
            found = searcher.bm25_candidates(searcher.backend.sparse(terms, max(DEPTHS), None))
        order = np.lexsort((found.rows, -found.fused))
        x = searcher.rerank_features(found, order, terms)
        chunks = searcher.passages.chunks(found.rows[order[:len(x)]])
        if query.relevant:
            wanted = set(query.relevant)
            y = [bool({doc.id, label(f"{doc.id}#{chunk.article}")} & wanted) for chunk, doc in chunks]
        else:
            evidence = [squash(e) for e in query.evidence]
            y = [any(e in squash(chunk.text) for e in evidence) for chunk, _ in chunks]
        items.append(Item(query, group_of(query), x, np.array(y, dtype=float)))
    searcher.search_settings = saved
    return items


def fold(item: Item) -> int:
    return hashlib.sha256(item.group.encode()).digest()[0] % FOLDS


def fit(items: list[Item], names: list[str], depth: int) -> Reranker:
    """The pairwise model over `names` on the questions' best `depth` candidates: every
    (relevant, other) pair's feature difference, both ways round, each question weighed once."""
    columns = [FEATURES.index(n) for n in names]
    every = np.concatenate([i.features[:depth, columns] for i in items])
    mean, scale = every.mean(axis=0), every.std(axis=0) + 1e-6
    diffs, weights = [], []
    for item in items:
        x, y = (item.features[:depth, columns] - mean) / scale, item.labels[:depth]
        good, bad = x[y > 0], x[y == 0]
        if not len(good) or not len(bad):
            continue
        d = (good[:, None, :] - bad[None, :, :]).reshape(-1, len(names))
        diffs += [d, -d]
        weights += [np.full(2 * len(d), 0.5 / len(d))]
    z = np.concatenate(diffs)
    y = np.concatenate([np.full(len(d), 1.0 if i % 2 == 0 else 0.0) for i, d in enumerate(diffs)])
    w = newton_logistic(z, y, np.concatenate(weights), np.full(len(names), L2))
    return Reranker(list(names), mean.tolist(), scale.tolist(), w.tolist())


def names_for(model: str) -> list[str]:
    return [n for n in FEATURES if model == "hybrid" or n not in DENSE_ONLY]


def scored(engine: PolicySearch, queries: list[Query], mode: str, settings: SearchSettings,
           model: dict[str, Reranker] | None = None) -> dict[str, float]:
    """`evaluate` of one mode under `settings`, re-ranking with `model` (default: the shipped one)."""
    saved, models = engine.search_settings, engine.searcher.rerankers
    engine.search_settings = settings
    engine.searcher.rerankers = model or shipped()
    try:
        return evaluate(lambda q: engine.search(q, k=DEPTH, mode=mode), queries)
    finally:
        engine.search_settings, engine.searcher.rerankers = saved, models


def out_of_fold(engine: PolicySearch, queries: list[Query], items: list[Item], kind: str, depth: int,
                mode: str, settings: SearchSettings) -> dict[str, float]:
    """Dev metrics of `queries` with each fold re-ranked by a model fitted on the other folds' `items`."""
    totals: dict[str, float] = {}
    by_fold = {f: [q for q in queries if hashlib.sha256(group_of(q).encode()).digest()[0] % FOLDS == f]
               for f in range(FOLDS)}
    for f, part in by_fold.items():
        if not part:
            continue
        model = fit([i for i in items if fold(i) != f], names_for(kind), depth)
        result = scored(engine, part, mode, replace(settings, rerank=True, rerank_depth=depth), {kind: model, **_other(kind)})
        for name, value in result.items():
            totals[name] = totals.get(name, 0.0) + value * len(part)
    return {name: value / len(queries) for name, value in totals.items()} | {"queries": len(queries)}


def _other(kind: str) -> dict[str, Reranker]:
    return {k: m for k, m in shipped().items() if k != kind}


def speed(engine: PolicySearch, queries: list[Query]) -> dict[str, float]:
    """Median ms of a hybrid search with the re-ranker off and on (query vectors already cached)."""
    out = {}
    for on in (False, True):
        engine.search_settings = replace(engine.search_settings, rerank=on)
        times = []
        for query in queries:
            start = time.perf_counter()
            engine.search(query.query, k=10, mode="hybrid")
            times.append((time.perf_counter() - start) * 1000)
        out["on" if on else "off"] = statistics.median(times)
    engine.search_settings = replace(engine.search_settings, rerank=True)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--smoke", action="store_true")
    parser.add_argument("--limit", type=int)
    parser.add_argument("--fit", action="store_true", help="write the model fitted on every dev half into the package")
    args = parser.parse_args()
    tag = "-smoke" if args.smoke else ""
    sets = benchmarks(args.smoke, args.limit)
    engines = {kind: {b.name: open_index(b, settings, tag + suffix) for b in sets}
               for kind, settings, suffix in (("hybrid", IndexSettings(), ""), ("bm25", IndexSettings(model=None), "-bm25"))}
    parts = {b.name: {p: [q for q in b.queries if split(q) == p] for p in ("dev", "test")} for b in sets}
    items = {kind: [i for b in sets for i in collect(engines[kind][b.name], b, parts[b.name]["dev"])] for kind in engines}
    plain = SearchSettings(rerank=False)
    results: dict[str, dict] = {"machine": machine()}
    chosen: dict[str, int] = {}
    for kind in engines:
        mode = kind
        depth_scores = {}
        for depth in DEPTHS:
            depth_scores[depth] = {b.name: out_of_fold(engines[kind][b.name], parts[b.name]["dev"], items[kind], kind,
                                                       depth, mode, SearchSettings(rerank=True))
                                   for b in sets if parts[b.name]["dev"]}
        chosen[kind] = max(DEPTHS, key=lambda d: statistics.mean(r["mrr@10"] for r in depth_scores[d].values()))
        results[f"{kind} depths (dev, out of fold, mean mrr@10)"] = {
            d: statistics.mean(r["mrr@10"] for r in s.values()) for d, s in depth_scores.items()}
        results[f"{kind} dev"] = depth_scores[chosen[kind]]
    fitted = {kind: fit(items[kind], names_for(kind), chosen[kind]) for kind in engines}
    if args.fit:
        provenance = {"command": "python benchmarks/rerank.py --fit", "l2": L2, "depths": chosen, "machine": machine(),
                      "fitted_on": {b.name: len(parts[b.name]["dev"]) for b in sets}, "folds": FOLDS}
        MODEL_FILE.write_text(json.dumps({"provenance": provenance, "models": {k: m.to_dict() for k, m in fitted.items()}},
                                         indent=1) + "\n", encoding="utf-8")
        shipped.cache_clear()
    lines = [f"# Re-ranker{' (smoke)' if args.smoke else ''}", "",
             f"Command: `python benchmarks/rerank.py{' --smoke' if args.smoke else ''}`", "", f"Machine: {machine()}", "",
             f"Depth chosen on dev (out of fold): hybrid {chosen['hybrid']}, BM25-only index {chosen['bm25']}. "
             "Dev: out of fold; test: the model fitted on every dev half (never on a test half).", "",
             "| set | half | ranker | " + " | ".join(COLUMNS) + " | questions |", "|---|---|---|" + "---:|" * (len(COLUMNS) + 1)]
    table: dict[str, dict] = {}
    for b in sets:
        for part, queries in parts[b.name].items():
            if not queries:
                continue
            hybrid, bm25 = engines["hybrid"][b.name], engines["bm25"][b.name]
            rows = {"bm25": scored(hybrid, queries, "bm25", plain), "dense": scored(hybrid, queries, "dense", plain),
                    "hybrid, fused (before)": scored(hybrid, queries, "hybrid", plain)}
            if part == "dev":
                rows["hybrid, re-ranked (after)"] = results["hybrid dev"][b.name]
                rows["BM25-only index, re-ranked"] = results["bm25 dev"][b.name]
            else:
                settings = {k: SearchSettings(rerank=True, rerank_depth=chosen[k]) for k in chosen}
                rows["hybrid, re-ranked (after)"] = scored(hybrid, queries, "hybrid", settings["hybrid"], fitted)
                rows["BM25-only index, re-ranked"] = scored(bm25, queries, "bm25", settings["bm25"], fitted)
            table[f"{b.name} {part}"] = rows
            for name, metrics in rows.items():
                lines.append(f"| {b.name} | {part} | {name} | " + " | ".join(f"{metrics[c]:.3f}" for c in COLUMNS) +
                             f" | {metrics['queries']:.0f} |")
    results["table"] = table
    results["speed"] = {b.index: speed(engines["hybrid"][b.name], b.queries[:200]) for b in sets}
    lines += ["", "Hybrid search, median ms (k=10, query vectors cached), re-ranker off → on:", ""]
    lines += [f"- {index}: {s['off']:.1f} → {s['on']:.1f}" for index, s in results["speed"].items()]
    lines += ["", "Weights of the shipped hybrid model (standardised features):", "",
              ", ".join(f"{n} {w:+.2f}" for n, w in zip(fitted["hybrid"].names, fitted["hybrid"].weights, strict=True))]
    report(f"rerank{tag}.md", lines)
    (RESULTS / f"rerank{tag}.json").write_text(json.dumps(results, indent=1, default=str), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
