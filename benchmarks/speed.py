"""Speed and memory of policysearch on the laws corpus (26,196 articles of laws.db), side by side
with rank_bm25 and bm25s on the same tokens, measured in one run on this machine.

    python benchmarks/speed.py            # standard run: benchmarks/results/speed.md
    python benchmarks/speed.py --scale    # 10k → 100k → 1M passages (about 30 minutes): speed-scale.md

Targets are printed with the measured value and the ratio against the baselines.
"""

from __future__ import annotations

import argparse
import gc
import json
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from policysearch import PolicySearch, IndexSettings
from policysearch.text.chunking import Chunker
from policysearch.reading.corpora import laws_db
from policysearch.index.sparse import BM25
from policysearch.text.tokenize import Tokenizer
from quality import CACHE, DATA, command_line, read_jsonl, report

LAWS = DATA / "lawsdb" / "laws.db"


def timed(fn, *args):
    start = time.perf_counter()
    value = fn(*args)
    return value, time.perf_counter() - start


def latencies(fn, queries, repeat: int = 1) -> tuple[float, float]:
    """p50 and p95 in milliseconds."""
    times = []
    for _ in range(repeat):
        for q in queries:
            start = time.perf_counter()
            fn(q)
            times.append((time.perf_counter() - start) * 1000)
    times.sort()
    return statistics.median(times), times[int(len(times) * 0.95) - 1]


def child(code: str) -> dict:
    """Run `code` in a fresh interpreter and return its peak RSS (VmHWM: ru_maxrss would carry the
    parent's peak across fork and exec on Linux) and wall time."""
    wrapper = code + ("\nimport json, re\nhwm = re.search(r'VmHWM:\\s+(\\d+)', open('/proc/self/status').read())"
                      "\nprint(json.dumps(dict(result, rss_mb=int(hwm.group(1)) / 1024)))")
    start = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", wrapper], capture_output=True, text=True, check=True)
    return dict(json.loads(out.stdout.strip().splitlines()[-1]), wall_s=time.perf_counter() - start)


def cli_start(*args: str) -> float:
    """`python -m policysearch ARGS` in a fresh interpreter, best of 3 seconds."""
    times = []
    for _ in range(3):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "policysearch", *args], capture_output=True, check=True)
        times.append(time.perf_counter() - start)
    return min(times)


def folder_size(folder: Path) -> float:
    return sum(f.stat().st_size for f in folder.rglob("*") if f.is_file()) / 2**20


def bm25_queries(bm25: BM25, tokens: list[list[str]], queries: list[list[str]]) -> tuple[list[tuple[str, str, str]], float]:
    """Our BM25 query latency beside rank_bm25 and bm25s over the same tokens, each timed the same
    way: the same 100 queries, three passes, top 10 by a partial sort. bm25s is a batch API, so it
    is timed both per query and as one batch of all 100 divided by 100 (returned too: the public
    path is compared with it)."""
    import bm25s
    from rank_bm25 import BM25Okapi

    sample = queries[:100]

    def top10(scores: np.ndarray) -> np.ndarray:
        best = np.argpartition(-scores, 10)[:10]
        return best[np.argsort(-scores[best])]

    ours = latencies(lambda t: bm25.search(t, 10), sample, repeat=3)
    okapi = BM25Okapi(tokens)
    rank = latencies(lambda t: top10(okapi.get_scores(t)), sample, repeat=3)
    fast = bm25s.BM25(k1=1.5, b=0.75, method="lucene")
    fast.index(tokens, show_progress=False)
    single = latencies(lambda t: fast.retrieve([t], k=10, show_progress=False, n_threads=1), sample, repeat=3)
    batches = [timed(lambda: fast.retrieve(sample, k=10, show_progress=False, n_threads=1))[1] for _ in range(3)]
    batch = statistics.median(batches) * 1000 / len(sample)
    return [
        ("query", "BM25 p50 / p95 (ours; 100 queries × 3)", f"{ours[0]:.3f} / {ours[1]:.3f} ms (target p50 ≤ 1 ms)"),
        ("query", "rank_bm25 BM25Okapi p50 (get_scores + argpartition)",
         f"{rank[0]:.2f} ms → ours ×{rank[0] / ours[0]:.0f} faster (target ≥ 30)"),
        ("query", "bm25s p50, one query per call (same tokens)", f"{single[0]:.3f} ms → ours ×{single[0] / ours[0]:.1f}"),
        ("query", "bm25s, one batch of 100 queries, per query", f"{batch:.3f} ms → ours ×{batch / ours[0]:.1f}"),
    ], batch


def standard(rows: list[tuple[str, str, str]]) -> None:
    import jieba

    settings = IndexSettings()
    (documents, _), t_load = timed(laws_db, LAWS)
    chars = sum(len(d.text) for d in documents)
    chunker = Chunker(settings)
    chunks, t_chunk = timed(lambda: [c for d in documents for c in chunker.chunk(d)])
    tokenizer = Tokenizer()
    runs = [timed(tokenizer.tokens_many, [c.text for c in chunks]) for _ in range(3)]
    tokens, t_tok, t_best = runs[0][0], statistics.median(s for _, s in runs), min(s for _, s in runs)
    bm25, t_bm25 = timed(lambda: BM25().index(tokens))
    _, t_jieba = timed(lambda: [jieba.lcut(c.text) for c in chunks[:3000]])
    jieba_rate = sum(len(c.text) for c in chunks[:3000]) / t_jieba
    rows += [
        ("build", "load laws.db", f"{t_load:.2f} s ({len(documents)} laws, {chars / 1e6:.2f} M chars)"),
        ("build", "chunk", f"{t_chunk:.2f} s ({len(chunks)} passages)"),
        ("build", "tokenize (median of 3 runs)",
         f"{t_tok:.2f} s = {chars / t_tok / 1e6:.2f} M chars/s, best {chars / t_best / 1e6:.2f} "
         f"(target ≥ 3; jieba.lcut {jieba_rate / 1e6:.2f} M chars/s, ×{chars / t_tok / jieba_rate:.1f})"),
        ("build", "BM25 index", f"{t_bm25:.2f} s"),
        ("build", "load + chunk + tokenize + BM25", f"{t_load + t_chunk + t_tok + t_bm25:.2f} s (target ≤ 5 s)"),
    ]
    queries = [r["query"] for r in read_jsonl(DATA / "stard" / "queries_lawsdb.jsonl")[:200]]
    found, bm25s_batch = bm25_queries(bm25, tokens, [tokenizer.tokens(q) for q in queries])
    rows += found
    gc.collect()  # the baselines (rank_bm25 keeps a dict per passage) are freed before the engine is timed
    index = CACHE / "indexes" / "laws"
    engine = PolicySearch.open(index)
    engine.search(queries[0], mode="hybrid")
    public = queries[100:200]
    p50, p95 = latencies(lambda q: engine.search(q, k=10, mode="bm25"), public, repeat=3)
    searcher = engine.searcher
    terms = {q: searcher.tokens(q) for q in public}
    ranked = {q: searcher.backend.sparse(terms[q], 30, None) for q in public}
    scoring, _ = latencies(lambda q: searcher.backend.sparse(searcher.tokens(q), 30, None), public, repeat=3)
    building, _ = latencies(lambda q: searcher.hits(*ranked[q], terms[q], 10), public, repeat=3)
    rows += [("query", "BM25 through the public search() p50 / p95 (tokenise, score, 10 hits with highlights)",
              f"{p50:.3f} / {p95:.3f} ms (target p50 ≤ 1 ms); bm25s's batch per query ×{bm25s_batch / p50:.1f} "
              "(target ≥ 10)"),
             ("query", "of which scoring (tokenise, BM25, top 30) / building 10 hits, p50",
              f"{scoring:.3f} / {building:.3f} ms (target: building ≤ scoring)")]
    hybrid = 0.0
    for mode, mark in (("dense", "？"), ("hybrid", "。")):
        fresh = [q + mark for q in queries[:100]]
        p50, p95 = latencies(lambda q, m=mode: engine.search(q, k=10, mode=m), fresh)
        target = " (target p50 ≤ 25 ms)" if mode == "hybrid" else ""
        rows.append(("query", f"{mode} end to end p50 / p95", f"{p50:.1f} / {p95:.1f} ms{target}"))
        hybrid = p50
    p50, p95 = latencies(engine.ask, [q + "吗" for q in queries[:100]])
    rows.append(("query", "ask end to end p50 / p95 (answer sentence picked from 3 passages)",
                 f"{p50:.1f} / {p95:.1f} ms = {p50 / hybrid:.1f}× hybrid (target ≤ 3×)"))
    sample = [c.text for c in chunks[::30]][:1000]
    embedder = engine.searcher.embedder
    embedder.embed_passages(sample[:100])  # load the model first: the rate is per passage
    embeds = [timed(embedder.embed_passages, sample)[1] for _ in range(3)]
    rows.append(("build", f"embed passages ({embedder.precision}, {len(sample)} passages, median of 3 runs)",
                 f"{len(sample) / statistics.median(embeds):.1f} passages/s, "
                 f"best {len(sample) / min(embeds):.1f} (target ≥ 150; every precision: benchmarks/results/encoding.md)"))
    code = f"from policysearch import PolicySearch\ne = PolicySearch.open({str(index)!r})\n"
    bm25_child = child(code + f"e.search({queries[1]!r}, mode='bm25')\nresult = {{}}")
    hybrid_child = child(code + f"e.search({queries[1]!r}, mode='hybrid')\nresult = {{}}")
    sparse_start, dense_start = (cli_start("search", queries[2], "--mode", "bm25", "--index", str(index)),
                                 cli_start("search", queries[3], "--mode", "hybrid", "--index", str(index)))
    rows += [
        ("memory", "peak RSS, BM25 search", f"{bm25_child['rss_mb']:.0f} MB (target ≤ 300)"),
        ("memory", "peak RSS, hybrid search", f"{hybrid_child['rss_mb']:.0f} MB (target ≤ 1536)"),
        ("start", "CLI --version", f"{cli_start('--version'):.2f} s (target ≤ 0.3)"),
        ("start", "CLI cold start, --mode bm25", f"{sparse_start:.2f} s (target ≤ 1.5)"),
        ("start", "CLI cold start, --mode hybrid", f"{dense_start:.2f} s (target ≤ 0.5 + 1.5 × BM25 = "
                                                    f"{0.5 + 1.5 * sparse_start:.2f})"),
        ("disk", "index size", f"{folder_size(engine.folder):.0f} MB ({engine.manifest['chunks']} passages)"),
    ]


def scale(rows: list[tuple[str, str, str]]) -> None:
    """BM25 and HNSW as the corpus grows: replicated laws passages with perturbed tokens; random
    unit vectors at 1M, HNSW recall measured against flat search on the real vectors."""
    import faiss

    documents, _ = laws_db(LAWS)
    tokenizer = Tokenizer()
    base = tokenizer.tokens_many([c.text for d in documents for c in Chunker().chunk(d)])
    queries = [tokenizer.tokens(r["query"]) for r in read_jsonl(DATA / "stard" / "queries_lawsdb.jsonl")[:100]]
    rng = np.random.default_rng(0)
    for size in (10_000, 100_000, 1_000_000):
        corpus = [base[i % len(base)] + [f"v{i // len(base)}", f"r{rng.integers(1000)}"] for i in range(size)]
        bm25, seconds = timed(lambda c=corpus: BM25().index(c))
        p50, _ = latencies(lambda t, b=bm25: b.search(t, 10), queries)
        rows.append(("scale", f"BM25 {size:,} passages", f"build {seconds:.1f} s, query p50 {p50:.2f} ms" +
                     (" (target ≤ 50 ms)" if size == 1_000_000 else "")))
        del corpus, bm25
    real = np.load(next((CACHE / "indexes" / "laws").glob("v-*/vectors.npy")))
    flat = faiss.IndexFlatIP(real.shape[1])
    flat.add(real)
    hnsw = faiss.IndexHNSWFlat(real.shape[1], 32, faiss.METRIC_INNER_PRODUCT)
    hnsw.hnsw.efConstruction = 80
    hnsw.add(real)
    hnsw.hnsw.efSearch = 128
    probe = real[rng.choice(len(real), 200, replace=False)] + rng.normal(0, 0.02, (200, real.shape[1])).astype(np.float32)
    _, truth = flat.search(probe, 10)
    _, got = hnsw.search(probe, 10)
    recall = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(truth, got, strict=True)])
    rows.append(("scale", f"HNSW recall@10 vs flat, real vectors ({len(real):,})", f"{recall:.3f} (target ≥ 0.95)"))
    for size in (10_000, 100_000, 1_000_000):
        vectors = rng.normal(size=(size, 384)).astype(np.float32)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        index = faiss.IndexHNSWFlat(384, 32, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = 80
        _, seconds = timed(index.add, vectors)
        index.hnsw.efSearch = 128
        p50, _ = latencies(lambda q, ix=index: ix.search(q.reshape(1, -1), 10), vectors[:200])
        rss = int(re.search(r"VmHWM:\s+(\d+)", Path("/proc/self/status").read_text()).group(1)) / 1024
        rows.append(("scale", f"HNSW {size:,} vectors",
                     f"build {seconds:.0f} s, query p50 {p50:.2f} ms, process peak RSS {rss:.0f} MB" +
                     (" (target ≤ 5 ms)" if size == 1_000_000 else "")))
        del vectors, index


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", action="store_true", help="run 10k / 100k / 1M passages instead")
    parser.add_argument("--output", help="the result file in benchmarks/results (default speed.md, speed-scale.md)")
    args = parser.parse_args()
    if not LAWS.exists():
        print(f"skip: {LAWS} is missing", file=sys.stderr)
        return 0
    if not list((CACHE / "indexes" / "laws").glob("v-*")):
        print("build the laws index first: python benchmarks/quality.py", file=sys.stderr)
        return 1
    rows: list[tuple[str, str, str]] = []
    (scale if args.scale else standard)(rows)

    command = command_line("speed.py")
    lines = ["# Speed" + (" at scale" if args.scale else ""), "", f"Command: `{command}`", "",
             "| stage | what | measured |", "|---|---|---|"] + [f"| {a} | {b} | {c} |" for a, b, c in rows]
    report(args.output or ("speed-scale.md" if args.scale else "speed.md"), lines)
    return 0


if __name__ == "__main__":
    sys.exit(main())
