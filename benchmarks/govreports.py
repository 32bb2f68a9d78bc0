"""Long structured policy text: the 72 government work reports in ../shared/data/govreports (1.1 M
characters), as a check of chunking, headings and term discovery on documents no one here wrote,
and of build time and query latency on them.

    python benchmarks/govreports.py     # benchmarks/results/govreports.md (about 10 minutes the first time)
"""

from __future__ import annotations

import statistics
import sys
import time
from collections import Counter

from policysearch import IndexSettings, PolicySearch
from policysearch.text.chunking import Chunker
from policysearch.reading.loaders import load
from policysearch.text.terms import TermFinder
from policysearch.text.tokenize import Tokenizer
from quality import CACHE, DATA, report

REPORTS = DATA / "govreports"


def main() -> int:
    if not REPORTS.is_dir():
        print(f"skip: {REPORTS} is missing", file=sys.stderr)
        return 0
    documents = load([REPORTS])
    chunker = Chunker(IndexSettings())
    chunks = [chunk for doc in documents for chunk in chunker.chunk(doc)]
    headings = {part for chunk in chunks for part in chunk.heading.split(" > ") if part}
    heading_only = sum(chunk.text.strip() in headings for chunk in chunks)
    depth = Counter(len(chunk.heading.split(" > ")) if chunk.heading else 0 for chunk in chunks)
    lengths = [len(chunk.text) for chunk in chunks]

    tokenizer = Tokenizer()
    texts = [doc.text for doc in documents]
    start = time.perf_counter()
    quoted = TermFinder().quoted(texts, tokenizer.tokens)
    recurring = TermFinder().recurring(tokenizer.tokens_many(texts))
    discovery = time.perf_counter() - start

    timings = {}
    for terms in ("none", "quoted", "quoted+recurring"):
        folder = CACHE / "indexes" / f"govreports-bm25-{terms}".replace("+", "-")
        start = time.perf_counter()
        PolicySearch.build_documents(documents, folder, IndexSettings(model=None, terms=terms))
        timings[terms] = time.perf_counter() - start
    start = time.perf_counter()
    PolicySearch.build_documents(documents, CACHE / "indexes" / "govreports", IndexSettings()).close()
    full = time.perf_counter() - start
    queries = sorted(headings)[:300]
    latency = {}
    for mode in ("bm25", "dense", "hybrid"):
        engine = PolicySearch.open(CACHE / "indexes" / "govreports")  # fresh: no query vectors kept from another mode
        engine.search("政府工作报告", mode=mode)
        times = []
        for query in queries:
            begin = time.perf_counter()
            engine.search(query, k=10, mode=mode)
            times.append((time.perf_counter() - begin) * 1000)
        latency[mode] = (statistics.median(times), sorted(times)[int(len(times) * 0.95) - 1])

    lines = ["# Government work reports (long structured policy text)", "",
             "Command: `python benchmarks/govreports.py`.", "",
             f"- {len(documents)} reports, {sum(map(len, texts)):,} characters, {len(chunks):,} passages "
             f"(median {statistics.median(lengths):.0f} characters, longest {max(lengths)}).",
             f"- Passages that are a heading alone: {heading_only}. Passages under at least one heading: "
             f"{1 - depth[0] / len(chunks):.1%}; by heading depth: "
             + ", ".join(f"{d}: {n}" for d, n in sorted(depth.items())) + ".",
             f"- Terms discovered: {len(quoted)} quoted, {len(recurring)} recurring, in {discovery:.1f} s; "
             "quoted examples: " + "、".join(sorted("".join(t) for t in quoted)[:12]) + ".",
             f"- BM25-only build: {timings['none']:.1f} s without terms, {timings['quoted']:.1f} s with quoted terms "
             f"(the default), {timings['quoted+recurring']:.1f} s with recurring ones too; "
             f"full build with the default model (vectors from the cache when present): {full:.1f} s.",
             f"- Query latency over {len(queries)} heading lines as queries, k=10 (p50 / p95 ms): "
             + ", ".join(f"{mode} {p50:.1f} / {p95:.1f}" for mode, (p50, p95) in latency.items()) + "."]
    report("govreports.md", lines)
    return 0


if __name__ == "__main__":
    sys.exit(main())
