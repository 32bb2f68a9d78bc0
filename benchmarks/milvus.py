"""The Milvus backend (Milvus Lite here, a cluster with --uri) against the local files: top-10
overlap per mode and STARD train quality, on the same passages and the same model.

    python benchmarks/milvus.py                       # Milvus Lite in benchmarks/cache/milvus.db
    python benchmarks/milvus.py --uri http://host:19530

Writes benchmarks/results/milvus.md.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

from policysearch import PolicySearch, IndexSettings
from quality import CACHE, benchmarks, evaluate, open_index, report

MODES = ("bm25", "dense", "hybrid")


def overlap(local: PolicySearch, remote: PolicySearch, questions: list[str], mode: str) -> float:
    shares = []
    for question in questions:
        here = {(h.doc_id, h.start) for h in local.search(question, k=10, mode=mode)}
        there = {(h.doc_id, h.start) for h in remote.search(question, k=10, mode=mode)}
        shares.append(len(here & there) / max(len(here), len(there), 1))
    return statistics.mean(shares)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--uri", default=str(CACHE / "milvus.db"), help="Milvus Lite file or server URL")
    args = parser.parse_args()
    sets = {b.name: b for b in benchmarks(False, None)}
    if "stard-train" not in sets or "policyqa" not in sets:
        print("skip: needs ../shared/data (laws.db, STARD, policyqa)", file=sys.stderr)
        return 0
    lines = ["# Milvus backend", "", f"Command: `python benchmarks/milvus.py` (Milvus at `{args.uri.rsplit('/', 1)[-1]}`)", "",
             "| corpus | questions | mode | top-10 overlap with local | local MRR@10 | Milvus MRR@10 | local R@10 | Milvus R@10 "
             "| Milvus ms/query |",
             "|---|---:|---|---:|---:|---:|---:|---:|---:|"]
    for name, tag in (("policyqa", "bundled"), ("stard-train", "laws")):
        bench = sets[name]
        local = open_index(bench, IndexSettings(), "")
        started = time.perf_counter()
        remote = PolicySearch.build_documents(bench.documents, CACHE / "indexes" / f"{tag}-milvus",
                                              IndexSettings(backend="milvus", milvus_uri=args.uri))
        seconds = time.perf_counter() - started
        print(f"{tag}: {remote.manifest['chunks']} passages into Milvus in {seconds:.0f} s", file=sys.stderr)
        questions = [q.query for q in bench.queries]
        for mode in MODES:
            ours = evaluate(lambda q, m=mode, e=local: e.search(q, k=10, mode=m), bench.queries)
            started = time.perf_counter()
            theirs = evaluate(lambda q, m=mode, e=remote: e.search(q, k=10, mode=m), bench.queries)
            per_query = (time.perf_counter() - started) * 1000 / len(questions)
            share = overlap(local, remote, questions, mode)
            lines.append(f"| {tag} | {len(questions)} | {mode} | {share:.3f} | {ours['mrr@10']:.3f} | {theirs['mrr@10']:.3f} | "
                         f"{ours['recall@10']:.3f} | {theirs['recall@10']:.3f} | {per_query:.0f} |")
    report("milvus.md", lines)
    return 0


if __name__ == "__main__":
    sys.exit(main())
