"""The Milvus backend (Milvus Lite here, a cluster with --uri) against the local files, on the same
passages and the same model: top-10 overlap and quality per mode, latency and round trips per
query, quality after an in-place update, and the HNSW graph's dense recall against exact search.

    python benchmarks/milvus.py                       # Milvus Lite in benchmarks/cache/milvus.db
    python benchmarks/milvus.py --uri http://host:19530
    python benchmarks/milvus.py --scale               # 1 M synthetic passages (about an hour)

Writes benchmarks/results/milvus.md (or milvus-scale.md).
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from policysearch import Document, IndexSettings, PolicySearch
from policysearch.text.chunking import Chunker
from policysearch.reading.corpora import laws_db
from policysearch.building.indexer import Indexer
from policysearch.index.milvus import MilvusIndex, MilvusStore
from policysearch.records import Chunk
from policysearch.settings import SearchSettings
from policysearch.index.sparse import BM25, BM25Terms
from policysearch.index.store import write_passages
from policysearch.text.tokenize import Tokenizer
from quality import CACHE, DATA, benchmarks, evaluate, open_index, read_jsonl, report

MODES = ("bm25", "dense", "hybrid")
EFS = (64, 128, 256, 512)


def overlap(local: PolicySearch, remote: PolicySearch, questions: list[str], mode: str) -> float:
    shares = []
    for question in questions:
        here = {(h.doc_id, h.start) for h in local.search(question, k=10, mode=mode)}
        there = {(h.doc_id, h.start) for h in remote.search(question, k=10, mode=mode)}
        shares.append(len(here & there) / max(len(here), len(there), 1))
    return statistics.mean(shares)


def counting(store: MilvusStore) -> list[int]:
    """Count the store's read calls (each one round trip to the server)."""
    calls = [0]
    read = store.read

    def counted(*args, **kwargs):
        calls[0] += 1
        return read(*args, **kwargs)

    store.read = counted
    return calls


def percentiles(values: list[float]) -> tuple[float, float]:
    return float(np.percentile(values, 50)), float(np.percentile(values, 95))


def compare(tag: str, local: PolicySearch, remote: PolicySearch, bench, lines: list[str]) -> None:
    """One row per mode: overlap, quality on both, Milvus latency (query vectors cached) and round trips."""
    questions = [q.query for q in bench.queries]
    calls = counting(remote.searcher.milvus.store)
    for mode in MODES:
        ours = evaluate(lambda q, m=mode, e=local: e.search(q, k=10, mode=m), bench.queries)
        theirs = evaluate(lambda q, m=mode, e=remote: e.search(q, k=10, mode=m), bench.queries)  # also caches vectors
        calls[0], times = 0, []
        for question in questions:
            started = time.perf_counter()
            remote.search(question, k=10, mode=mode)
            times.append((time.perf_counter() - started) * 1000)
        p50, p95, trips = *percentiles(times), calls[0] / len(questions)
        share = overlap(local, remote, questions, mode)
        lines.append(f"| {tag} | {len(questions)} | {mode} | {share:.3f} | {ours['mrr@10']:.3f} | {theirs['mrr@10']:.3f} | "
                     f"{ours['recall@10']:.3f} | {theirs['recall@10']:.3f} | {p50:.0f} / {p95:.0f} | "
                     f"{trips:.2f} |")
        print(lines[-1], file=sys.stderr)


def updated(bench, uri: str, held_out: int) -> PolicySearch:
    """A Milvus index built without `held_out` documents (laws), which an update then adds in place."""
    folder = CACHE / "indexes" / "laws-milvus-updated"
    shutil.rmtree(folder, ignore_errors=True)
    rng = np.random.default_rng(0)
    later = set(rng.choice(len(bench.documents), held_out, replace=False).tolist())
    first = [d for i, d in enumerate(bench.documents) if i not in later]
    settings = IndexSettings(backend="milvus", milvus_uri=uri)
    engine = PolicySearch.build_documents(first, folder, settings)
    Indexer(folder, settings, SearchSettings(), embedder=engine.searcher.loaded_embedder).build(
        bench.documents, engine.searcher, [d.id for d in first])
    engine.refresh()
    return engine


def dense_recall(local: PolicySearch, remote: PolicySearch, queries: list[str], ef: int) -> float:
    """Share of the exact dense top 10 (local) that Milvus' HNSW graph returns at this ef."""
    remote.searcher.milvus.store.EF_SEARCH = ef
    found = []
    for query in queries:
        vector = local.searcher.query_vector(query)
        exact = set(local.searcher.backend.dense(vector, 10, None).rows.tolist())
        graph = set(remote.searcher.backend.dense(vector, 10, "").rows.tolist())
        found.append(len(exact & graph) / 10)
    return statistics.mean(found)


def standard(uri: str) -> list[str]:
    sets = {b.name: b for b in benchmarks(False, None)}
    if "stard-train" not in sets or "policyqa" not in sets:
        print("skip: needs ../shared/data (laws.db, STARD, policyqa)", file=sys.stderr)
        return []
    lines = ["| corpus | questions | mode | top-10 overlap with local | local MRR@10 | Milvus MRR@10 | local R@10 | Milvus R@10 "
             "| Milvus ms/query p50 / p95 | round trips/query |",
             "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|"]
    built = []
    for name, tag in (("policyqa", "bundled"), ("stard-train", "laws")):
        bench = sets[name]
        local = open_index(bench, IndexSettings(), "")
        started = time.perf_counter()
        remote = PolicySearch.build_documents(bench.documents, CACHE / "indexes" / f"{tag}-milvus",
                                              IndexSettings(backend="milvus", milvus_uri=uri))
        built.append(f"{tag}: {remote.manifest['chunks']:,} passages into Milvus in {time.perf_counter() - started:.0f} s "
                     "(vectors from the cache)")
        compare(tag, local, remote, bench, lines)
        if tag == "laws":
            held_out = len(bench.documents) // 10
            compare(f"laws, {held_out} of them added by an update", local, updated(bench, uri, held_out), bench, lines)
    lines += ["", *built, "", "## Dense recall@10 of Milvus' HNSW graph against exact search (laws)", "",
              "The laws built with `hnsw_threshold=1`, so Milvus searches an HNSW graph (M=32, efConstruction=80). "
              "ef is chosen on STARD train (dev) and reported on LawBench (test).", "",
              "| ef | STARD train (dev) | LawBench 1-1, 3-1, 3-2 (test) | ms/query p50 |", "|---:|---:|---:|---:|"]
    bench = sets["stard-train"]
    local = open_index(bench, IndexSettings(), "")
    graph = PolicySearch.build_documents(bench.documents, CACHE / "indexes" / "laws-milvus-hnsw",
                                         IndexSettings(backend="milvus", milvus_uri=uri, hnsw_threshold=1))
    dev = [q.query for q in bench.queries]
    test = [q.query for name in ("lawbench-1-1", "lawbench-3-1", "lawbench-3-2") if name in sets for q in sets[name].queries]
    for ef in EFS:
        times = []
        for query in dev[:200]:
            vector = local.searcher.query_vector(query)
            started = time.perf_counter()
            graph.searcher.backend.dense(vector, 10, "")
            times.append((time.perf_counter() - started) * 1000)
        lines.append(f"| {ef} | {dense_recall(local, graph, dev, ef):.4f} | {dense_recall(local, graph, test, ef):.4f} | "
                     f"{percentiles(times)[0]:.1f} |")
    return lines


def synthetic(size: int) -> tuple[list[Document], list[Chunk], list[list[str]]]:
    """`size` passages: the laws' passages over and over, each with two perturbing tokens (its
    copy number and a random one), in documents of 50 passages whose text is theirs joined."""
    documents, _ = laws_db(DATA / "lawsdb" / "laws.db")
    chunker = Chunker(IndexSettings())
    base = [c.text for d in documents for c in chunker.chunk(d)]
    tokens = Tokenizer().tokens_many(base)
    rng = np.random.default_rng(0)
    docs, chunks, corpus = [], [], []
    for first in range(0, size, 50):
        texts = [base[i % len(base)] for i in range(first, min(first + 50, size))]
        doc_id = f"synthetic-{first // 50}"
        offset = 0
        for ordinal, (i, text) in enumerate(zip(range(first, first + len(texts)), texts, strict=True)):
            chunks.append(Chunk(doc_id, ordinal, offset, offset + len(text), text))
            corpus.append(tokens[i % len(base)] + [f"v{i // len(base)}", f"r{rng.integers(1000)}"])
            offset += len(text) + 1
        docs.append(Document(id=doc_id, text="\n".join(texts), title=doc_id, path=f"{doc_id}.txt"))
    return docs, chunks, corpus


def folder_mb(folder: Path) -> float:
    return sum(f.stat().st_size for f in folder.rglob("*") if f.is_file()) / 2**20


def peak_mb() -> float:
    return int(re.search(r"VmHWM:\s+(\d+)", Path("/proc/self/status").read_text()).group(1)) / 1024


def scale(uri: str, size: int) -> list[str]:
    """Insert `size` synthetic passages with random unit vectors straight into a collection, then
    time queries through `MilvusIndex` and compare the local folders of both backends."""
    docs, chunks, corpus = synthetic(size)
    terms = BM25Terms()
    started = time.perf_counter()
    sparse = terms.add(corpus, corpus)
    weighting = time.perf_counter() - started
    rng = np.random.default_rng(1)
    vectors = rng.normal(size=(size, 384)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    store = MilvusStore(uri, f"policysearch_scale_{size}")
    store.drop()
    store.create(384, exact=size < IndexSettings().hnsw_threshold)
    store.WRITE_TIMEOUT = 7200.0  # the HNSW graph of a million vectors takes a while on 2 cores
    started = time.perf_counter()
    store.insert(docs, chunks, range(size), {d.id: i for i, d in enumerate(docs)}, sparse, vectors, 1)
    inserting = time.perf_counter() - started  # the rows, then waiting until all are indexed
    print(f"inserted and indexed {size:,} passages in {inserting:.0f} s (BM25 weights {weighting:.0f} s before)",
          file=sys.stderr)
    del sparse
    with tempfile.TemporaryDirectory() as ours, tempfile.TemporaryDirectory() as theirs:
        terms.save(Path(ours))
        (Path(ours) / "manifest.json").write_text(json.dumps({"passages": size}), encoding="utf-8")
        BM25().index(corpus, corpus).save(Path(theirs))
        write_passages(Path(theirs), docs, chunks)
        np.save(Path(theirs) / "vectors.npy", vectors)
        here, local = folder_mb(Path(ours)), folder_mb(Path(theirs))
    print(f"local folder {here:.1f} MB against {local:,.0f} MB", file=sys.stderr)
    store.TIMEOUT = 600.0  # the first search after loading a million rows took 56 s in Milvus Lite
    started = time.perf_counter()
    store.load()
    loading = time.perf_counter() - started
    index = MilvusIndex(store, 1, terms)
    queries = [r["query"] for r in read_jsonl(DATA / "stard" / "queries_lawsdb.jsonl")[:200]]
    query_tokens = [Tokenizer().tokens(q) for q in queries]
    query_vectors = rng.normal(size=(len(queries), 384)).astype(np.float32)
    query_vectors /= np.linalg.norm(query_vectors, axis=1, keepdims=True)
    runs = {"bm25": lambda i: index.sparse(query_tokens[i], 30, ""),
            "dense": lambda i: index.dense(query_vectors[i], 30, ""),
            "hybrid": lambda i: index.candidates(query_tokens[i], query_vectors[i], 50, "")}
    timing, first = {}, 0.0
    for mode, run in runs.items():
        times = []
        for i in range(len(queries)):
            begun = time.perf_counter()
            run(i)
            times.append((time.perf_counter() - begun) * 1000)
        first = first or times[0] / 1000
        timing[mode] = percentiles(times[10:])
        print(f"{mode}: p50 / p95 {timing[mode][0]:.1f} / {timing[mode][1]:.1f} ms", file=sys.stderr)
    peak = peak_mb()
    store.drop()
    return [f"| passages inserted and indexed | {size:,} in {inserting:.0f} s: {size / inserting:,.0f} passages/s "
            f"(BM25 weights {weighting:.0f} s before; loading the collection {loading:.0f} s after) |",
            f"| first search after loading | {first:.0f} s |",
            *(f"| {mode} query p50 / p95 | {p50:.1f} / {p95:.1f} ms |" for mode, (p50, p95) in timing.items()),
            f"| local index folder | {here:.1f} MB, against {local:,.0f} MB for the local backend: {100 * here / local:.2f} % |",
            f"| peak memory of the process (Milvus Lite runs inside it) | {peak:,.0f} MB |"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--uri", default=str(CACHE / "milvus.db"), help="Milvus Lite file or server URL")
    parser.add_argument("--scale", type=int, nargs="?", const=1_000_000, help="synthetic passages to insert (1 M)")
    args = parser.parse_args()
    where = args.uri.rsplit("/", 1)[-1]
    if args.scale:
        if not (DATA / "lawsdb" / "laws.db").exists():
            print("skip: needs ../shared/data/lawsdb/laws.db", file=sys.stderr)
            return 0
        lines = ["# Milvus backend at scale", "", f"Command: `python benchmarks/milvus.py --scale` (Milvus at `{where}`)", "",
                 "| what | measured |", "|---|---|", *scale(args.uri, args.scale)]
        report("milvus-scale.md", lines)
        return 0
    rows = standard(args.uri)
    if rows:
        report("milvus.md", ["# Milvus backend", "", f"Command: `python benchmarks/milvus.py` (Milvus at `{where}`)", "", *rows])
    return 0


if __name__ == "__main__":
    sys.exit(main())
