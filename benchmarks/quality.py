"""Retrieval quality of policysearch on every labelled set in ../shared/data, side by side with
the baselines a user would otherwise write: rank_bm25.BM25Okapi over jieba.lcut tokens, and a bare
faiss flat index over the same model's vectors.

    python benchmarks/quality.py --chunks   # full run: tables in benchmarks/results/quality.md
    python benchmarks/quality.py --smoke    # tens of questions on small corpora (CI)

Sets whose data is missing are skipped with a message. Indexes and passage vectors are cached
under benchmarks/cache/, so a second run only searches.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path
from collections.abc import Callable, Sequence

import numpy as np

from policysearch import Document, Hit, IndexSettings, PolicySearch, PolicySearchError, SearchSettings
from policysearch.reading.corpora import laws_db
from policysearch.eval import CUTOFFS, Query, evaluate
from policysearch.reading.loaders import load
from policysearch.building.indexer import corpus_fingerprint

HERE = Path(__file__).resolve().parent
DATA = HERE.parent.parent / "shared" / "data"
CORPUS = HERE.parent / "corpus"
OUT = Path(os.environ.get("POLICYSEARCH_BENCHMARK_DIR") or HERE)  # the tests point it at a temporary folder
CACHE = OUT / "cache"
RESULTS = OUT / "results"
DEPTH = max(CUTOFFS)


QUERY_TIME = ("answer_ranker.json", "answers.py", "spans.py", "reranker.json", "reranker.py")


def code_fingerprint(leave_out: tuple[str, ...] = ()) -> str:
    """A hash of the library's source and data files (but the web page and the files named in
    `leave_out`): indexes and results cached by other code are stale, so a rerun after a change
    never quietly reuses old numbers."""
    digest = hashlib.sha256()
    package = HERE.parent / "src" / "policysearch"
    for file in sorted(package.rglob("*")):
        if file.is_file() and "__pycache__" not in file.parts and file.name not in leave_out and "web" not in file.parts:
            digest.update(file.relative_to(package).as_posix().encode())
            digest.update(file.read_bytes())
    return digest.hexdigest()[:12]


CODE = code_fingerprint()  # results
INDEX_CODE = code_fingerprint(QUERY_TIME)  # indexes: what only a query reads changes nothing they hold


@dataclass
class Benchmark:
    name: str
    index: str
    documents: list[Document]
    queries: list[Query]


def split(query: Query) -> str:
    """`dev` (knobs are chosen on it) or `test` (reported), fixed by a hash of the question id alone."""
    return "dev" if hashlib.sha256(query.qid.encode()).digest()[0] % 2 == 0 else "test"


def through_avx2only() -> bool:
    """Whether this process runs under benchmarks/avx2only.py (AVX-512 and newer hidden from CPUID)."""
    from avx2only import LIBRARY

    return LIBRARY in os.environ.get("LD_PRELOAD", "")


def machine() -> str:
    """The machine a result comes from: CPU model, the vector extensions that set its speed, the
    cores this process may use, the date and the precision `auto` picks there (numbers from
    another CPU can be 2-3 times off)."""
    import platform
    from datetime import date

    model, flags = platform.processor() or platform.machine(), set()
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "model name":
                model = value.strip()
            elif key.strip() == "flags":
                flags = set(value.split())
    except OSError:
        pass
    extensions = [name for flag, name in (("avx2", "AVX2"), ("avx512f", "AVX-512"), ("avx512_bf16", "AVX512-BF16"),
                                          ("amx_tile", "AMX")) if flag in flags]
    if through_avx2only():
        extensions = [name for name in extensions if name == "AVX2"] + [
            "the rest hidden from CPUID by benchmarks/avx2only.py: code paths of an AVX2-only CPU"]
    try:
        from policysearch.index.dense import auto_precision

        precision = f", `auto` precision {auto_precision()}"
    except ImportError:  # no dense extra: nothing here runs a model
        precision = ""
    return (f"{model} ({', '.join(extensions) or 'no AVX2'}), {len(os.sched_getaffinity(0))} cores, "
            f"Python {platform.python_version()}, {date.today().isoformat()}{precision}")


def command_line(script: str) -> str:
    """How this run was started, for its result file (through avx2only.py, when it was)."""
    command = " ".join([f"python benchmarks/{script}", *sys.argv[1:]])
    return f"python benchmarks/avx2only.py {command}" if through_avx2only() else command


def report(name: str, lines: list[str]) -> None:
    """Write a markdown result to benchmarks/results/`name` and print it; a result that does not
    say its machine gets a `Machine:` line under its title, so every file names its CPU."""
    if not any(line.startswith("Machine:") for line in lines):
        lines = lines[:1] + ["", f"Machine: {machine()}"] + lines[1:]
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / name).write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def law_queries(path: Path, keys: dict[int, str], split: str | None = None) -> list[Query]:
    out = []
    for row in read_jsonl(path):
        if split and row.get("split") != split:
            continue
        relevant = [keys[i] for i in row["relevant_ids"] if i in keys]
        if relevant:
            out.append(Query(str(row["qid"]), row["query"], relevant))
    return out


def benchmarks(smoke: bool, limit: int | None) -> list[Benchmark]:
    """Every set whose data is present; with `smoke`, a few questions over small corpora."""
    found: list[Benchmark] = []
    take = (lambda qs: qs[:limit or 8]) if smoke else (lambda qs: qs[:limit] if limit else qs)
    laws_path = DATA / "lawsdb" / "laws.db"
    if laws_path.exists():
        laws, keys = laws_db(laws_path)
        law_sets = [("stard-train", DATA / "stard" / "queries_lawsdb.jsonl", "train"),
                    ("lawbench-1-1", DATA / "lawbench" / "task1-1_queries_lawsdb.jsonl", None),
                    ("lawbench-3-1", DATA / "lawbench" / "task3-1_queries_lawsdb.jsonl", None),
                    ("lawbench-3-2", DATA / "lawbench" / "task3-2_queries_lawsdb.jsonl", None)]
        chosen = [(name, take(law_queries(path, keys, split))) for name, path, split in law_sets if path.exists()]
        for name, path, _ in law_sets:
            if not path.exists():
                print(f"skip {name}: {path} is missing", file=sys.stderr)
        if smoke:
            wanted = {i for i, key in keys.items() if key in {r for _, qs in chosen for q in qs for r in q.relevant}}
            laws, keys = laws_db(laws_path, articles=wanted | set(range(1, 26196, 400)))
        found += [Benchmark(name, "laws", laws, qs) for name, qs in chosen]
    else:
        print(f"skip STARD and LawBench: {laws_path} is missing", file=sys.stderr)
        laws = []
    cmrc = DATA / "cmrc2018"
    if (cmrc / "passages.jsonl").exists():
        rows = read_jsonl(cmrc / "queries.jsonl")
        queries = take([Query(r["qid"], r["query"], r["relevant_ids"]) for r in rows if r["query"].strip()])
        if len(queries) < len(rows) and not smoke and not limit:
            print(f"cmrc2018: {len(rows) - len(queries)} questions with an empty query left out", file=sys.stderr)
        passages = [Document(id=r["pid"], text=r["text"], title=r["title"], path=f"cmrc2018#{r['pid']}")
                    for r in read_jsonl(cmrc / "passages.jsonl")]
        if smoke:
            wanted = {r for q in queries for r in q.relevant}
            passages = [p for p in passages if p.id in wanted] + [p for p in passages if p.id not in wanted][:30]
        found.append(Benchmark("cmrc2018-trial", "cmrc", passages, queries))
    else:
        print(f"skip CMRC 2018: {cmrc} is missing", file=sys.stderr)
    policy = DATA / "policyqa" / "seed_dev.jsonl"
    if policy.exists():
        queries = take([Query(r["qid"], r["query"], evidence=r["evidence"]) for r in read_jsonl(policy)])
        bundled = load([CORPUS])
        found.append(Benchmark("policyqa", "bundled", bundled, queries))
        if laws:
            found.append(Benchmark("policyqa+laws", "bundled+laws", bundled + laws, queries))
    else:
        print(f"skip policyqa: {policy} is missing", file=sys.stderr)
    return found


def open_index(bench: Benchmark, settings: IndexSettings, tag: str) -> PolicySearch:
    """The cached index for these documents and settings (built if missing or stale)."""
    folder = CACHE / "indexes" / f"{bench.index}{tag}"
    code = folder / "CODE"  # the library source the cached index was built with
    try:
        engine = PolicySearch.open(folder)
        if engine.settings == settings and \
                engine.manifest["corpus_fingerprint"] == corpus_fingerprint(bench.documents) and \
                code.is_file() and code.read_text() == INDEX_CODE:
            return engine
    except PolicySearchError:
        pass
    print(f"building {folder.name}: {len(bench.documents)} documents", file=sys.stderr)
    engine = PolicySearch.build_documents(bench.documents, folder, settings)
    code.write_text(INDEX_CODE)
    return engine


def rank_bm25_baseline(engine: PolicySearch) -> Callable[[str], list[Hit]]:
    """What a user would write: BM25Okapi over jieba.lcut of the same passages, full sort."""
    import jieba
    from rank_bm25 import BM25Okapi

    jieba.setLogLevel(60)
    rows = list(range(engine.manifest["chunks"]))
    texts = [chunk.text for chunk, _ in engine.searcher.passages.chunks(rows)]
    bm25 = BM25Okapi([jieba.lcut(t) for t in texts])

    def search(query: str) -> list[Hit]:
        scores = bm25.get_scores(jieba.lcut(query))
        top = np.argsort(-scores)[:DEPTH]
        return engine.searcher.hits(top, scores[top])

    return search


def faiss_baseline(engine: PolicySearch) -> Callable[[str], list[Hit]]:
    """A bare faiss IndexFlatIP over the same vectors, queried with the same model, no fusion."""
    import faiss

    index = faiss.IndexFlatIP(engine.searcher.vectors.vectors.shape[1])
    index.add(np.ascontiguousarray(engine.searcher.vectors.vectors))

    def search(query: str) -> list[Hit]:
        scores, ids = index.search(engine.searcher.query_vector(query).reshape(1, -1), DEPTH)
        return engine.searcher.hits(ids[0][ids[0] >= 0], scores[0][ids[0] >= 0])

    return search


def run_rankers(engine: PolicySearch, queries: Sequence[Query], cites: bool = False) -> dict[str, dict[str, float]]:
    """Every ranker on `queries`; with `cites` (questions that name their article) also the hybrid
    without the citation lookup, to compare like with like against the baselines."""
    rankers: dict[str, Callable[[str], list[Hit]]] = {
        mode: (lambda q, m=mode: engine.search(q, k=DEPTH, mode=m)) for mode in ("bm25", "dense", "hybrid")
    }
    if cites:
        plain = PolicySearch.open(engine.root, search=replace(engine.search_settings, citations=False))
        rankers["hybrid, no citation lookup"] = lambda q: plain.search(q, k=DEPTH, mode="hybrid")
    rankers["rank_bm25+jieba"] = rank_bm25_baseline(engine)
    rankers["faiss-flat"] = faiss_baseline(engine)
    results = {}
    for name, ranker in rankers.items():
        start = time.perf_counter()
        results[name] = evaluate(ranker, queries)
        results[name]["seconds"] = time.perf_counter() - start
    return results


def fusion_name(method: str, wb: float, wd: float, k: float) -> str:
    return f"{method} bm25={wb} dense={wd}" + (f" k={k:g}" if method == "rrf" else "")


FUSIONS = [("rrf", 1.0, 1.0, 60.0), ("rrf", 1.0, 2.0, 60.0), ("rrf", 1.0, 3.0, 60.0), ("rrf", 1.0, 2.0, 20.0),
           ("score", 0.5, 0.5, 60.0), ("score", 0.3, 0.7, 60.0), ("score", 0.2, 0.8, 60.0)]


def fusion_grid(engine: PolicySearch, queries: Sequence[Query]) -> dict[str, dict[str, float]]:
    """Hybrid quality for each fusion setting, on the same index (query vectors are cached)."""
    saved = engine.search_settings
    out = {}
    for method, wb, wd, k in FUSIONS:
        engine.search_settings = replace(saved, fusion=method, bm25_weight=wb, dense_weight=wd, rrf_k=k)
        out[fusion_name(method, wb, wd, k)] = evaluate(
            lambda q: engine.search(q, k=DEPTH, mode="hybrid"), queries)
    engine.search_settings = saved
    return out


CHUNK_SIZES = [(120, 200), (200, 300), (300, 500)]


DEFAULT = SearchSettings()


def chunk_grid(sets: Sequence[Benchmark], tag: str) -> dict[str, dict[str, dict[str, float]]]:
    """Each mode at several chunk sizes, on the dev questions of the sets whose documents are
    longer than a passage."""
    out: dict[str, dict[str, dict[str, float]]] = {}
    for bench in sets:
        dev = [q for q in bench.queries if split(q) == "dev"]
        if bench.index not in ("cmrc", "bundled") or not dev:
            continue
        for size, limit in CHUNK_SIZES:
            settings = IndexSettings(chunk_size=size, chunk_max=limit)
            engine = open_index(bench, settings, f"{tag}-c{size}" if (size, limit) != (200, 300) else tag)
            fusion = fusion_name(DEFAULT.fusion, DEFAULT.bm25_weight, DEFAULT.dense_weight, DEFAULT.rrf_k)
            saved = CACHE / "results" / f"{bench.name}{tag}-{engine.folder.name}-{CODE}-{len(dev)}-{fusion}.json"
            if not saved.exists():
                saved.parent.mkdir(parents=True, exist_ok=True)
                saved.write_text(json.dumps({
                    mode: evaluate(lambda q, m=mode, e=engine: e.search(q, k=DEPTH, mode=m), dev)
                    for mode in ("bm25", "dense", "hybrid")
                }), encoding="utf-8")
            out[f"{bench.name} (dev) {size}/{limit}"] = json.loads(saved.read_text(encoding="utf-8"))
    return out


def table(results: dict[str, dict[str, dict[str, float]]], columns: Sequence[str]) -> str:
    lines = ["| set | ranker | " + " | ".join(columns) + " |", "|---|---|" + "---:|" * len(columns)]
    for set_name, rankers in results.items():
        for ranker, metrics in rankers.items():
            cells = (f"{metrics[c]:.0f}" if c == "queries" else f"{metrics[c]:.3f}" for c in columns)
            lines.append(f"| {set_name} | {ranker} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def plot(results: dict[str, dict[str, dict[str, float]]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(results)
    cols = min(4, len(names))
    rows = -(-len(names) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4 * cols, 3.4 * rows), squeeze=False)
    for ax in axes.flat[len(names):]:
        ax.set_visible(False)
    for ax, name in zip(axes.flat, names, strict=False):
        for ranker, metrics in results[name].items():
            ax.plot(CUTOFFS, [metrics[f"recall@{k}"] for k in CUTOFFS], marker="o", ms=3, label=ranker)
        ax.set_xscale("log")
        ax.set_title(name)
        ax.set_xlabel("k")
        ax.set_ylim(0, 1)
        ax.grid(alpha=0.3)
    for row in axes:
        row[0].set_ylabel("Recall@k")
    axes.flat[0].legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--smoke", action="store_true", help="a few questions on small corpora (CI)")
    parser.add_argument("--limit", type=int, help="at most this many questions per set")
    parser.add_argument("--no-grid", action="store_true", help="skip the fusion-weight grid")
    parser.add_argument("--chunks", action="store_true", help="also compare chunk sizes (CMRC, policyqa)")
    args = parser.parse_args()
    tag = "-smoke" if args.smoke else ""
    settings = IndexSettings()
    results: dict[str, dict[str, dict[str, float]]] = {}
    grid: dict[str, dict[str, dict[str, float]]] = {}
    sets = benchmarks(args.smoke, args.limit)
    if not sets:
        print("no benchmark data found under ../shared/data; nothing to do", file=sys.stderr)
        return 0
    for bench in sets:
        engine = open_index(bench, settings, tag)
        print(f"{bench.name}: {len(bench.queries)} questions, {engine.manifest['chunks']} passages", file=sys.stderr)
        saved = CACHE / "results" / f"{bench.name}{tag}-{engine.folder.name}-{CODE}-{len(bench.queries)}.json"
        parts = {part: [q for q in bench.queries if split(q) == part] for part in ("test", "dev")}
        if saved.exists():
            done = json.loads(saved.read_text(encoding="utf-8"))
        else:
            done = {"rankers": {part: run_rankers(engine, queries, bench.name == "lawbench-1-1")
                                for part, queries in parts.items() if queries},
                    "grid": {} if args.no_grid or not parts["dev"] else fusion_grid(engine, parts["dev"])}
            saved.parent.mkdir(parents=True, exist_ok=True)
            saved.write_text(json.dumps(done), encoding="utf-8")
        for part, rankers in done["rankers"].items():
            results[f"{bench.name} ({part})"] = rankers
        if done["grid"]:
            grid[f"{bench.name} (dev)"] = done["grid"]
    RESULTS.mkdir(parents=True, exist_ok=True)
    columns = ["recall@1", "recall@5", "recall@10", "recall@100", "mrr@10", "ndcg@10"]
    report = [f"# Retrieval quality{' (smoke)' if args.smoke else ''}", "",
              "Command: `python benchmarks/quality.py" + (" --smoke" if args.smoke else "") + "`. Each set's questions "
              "are split in two by a hash of their id: settings are chosen on `dev` (here and in `tune.py`), "
              "`test` is reported.", "", f"Machine: {machine()}", "", table(results, columns + ["queries"])]
    if grid:
        report += ["", "## Fusion settings (hybrid, dev questions)", "", table(grid, ["recall@10", "mrr@10", "ndcg@10"])]
    chunks = chunk_grid(sets, tag) if args.chunks else {}
    if chunks:
        report += ["", "## Chunk sizes (target/maximum characters)", "",
                   table(chunks, ["recall@1", "recall@10", "mrr@10", "ndcg@10"])]
    (RESULTS / f"quality{tag}.md").write_text("\n".join(report) + "\n", encoding="utf-8")
    (RESULTS / f"quality{tag}.json").write_text(json.dumps({"results": results, "fusion": grid, "chunks": chunks}, indent=1),
                                                encoding="utf-8")
    plot({name: rankers for name, rankers in results.items() if name.endswith("(test)")}, RESULTS / f"recall{tag}.png")
    print("\n".join(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
