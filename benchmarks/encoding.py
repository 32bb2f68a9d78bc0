"""Passage encoding with the default model in every precision, side by side: passages per second
with and without length-sorted batches, cosine to fp32, and retrieval quality on STARD, LawBench
and CMRC (dev and test halves) with each precision's passage vectors (int8 passages with int8
queries, as an int8 index searches, and with fp32 queries).

    python benchmarks/encoding.py      # benchmarks/results/encoding.md (about 40 minutes the first time)
    python benchmarks/encoding.py --skip-rates   # cosines and retrieval only (the rates want a quiet machine)

Each precision's corpus vectors are cached (benchmarks/cache/), so a rerun only searches.
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from collections.abc import Sequence

import numpy as np

from policysearch import IndexSettings, PolicySearch
from policysearch.text.chunking import context_line, indexed_text
from policysearch.index.dense import OnnxEncoder, SentenceTransformerEmbedder, native_bf16
from policysearch.eval import evaluate
from policysearch.index.models import int8_model
from policysearch.searching.searcher import Searcher
from quality import Benchmark, benchmarks, command_line, open_index, report, split

SAMPLE = 1024
REPEATS = 3
ORDER = ("fp32", "bf16", "int8", "int8, fp32 queries")  # how the passage vectors (and queries) are named in tables
SETS = ("stard-train", "lawbench-1-1", "lawbench-3-1", "lawbench-3-2", "cmrc2018-trial")


def indexed_texts(engine: PolicySearch) -> list[str]:
    """Every passage as the encoder sees it (context line and text)."""
    titles = {doc.id: doc.title for doc in engine.searcher.passages.documents()}
    context = engine.settings.context
    return [indexed_text(chunk, context_line(chunk, titles[chunk.doc_id], context))
            for chunk, _ in engine.searcher.passages.chunks(range(engine.manifest["chunks"]))]


def rates(texts: Sequence[str], precisions: Sequence[str]) -> list[str]:
    """Passages per second for each precision and encoder, with and without length-sorted batches
    (median of `REPEATS` runs, interleaved so a busy spell hits them all)."""
    base = SentenceTransformerEmbedder()
    texts = [base.passage_prefix + t for t in texts]
    workers = os.cpu_count() or 1
    onnx = {"fp32": OnnxEncoder.open(base.folder, workers=workers),
            "int8": OnnxEncoder.open_form(base.folder, base.fingerprint,
                                                 int8_model(base.folder, base.fingerprint, base.passage_prefix), workers)}
    torch_models = {p: SentenceTransformerEmbedder(precision=p).model for p in ("fp32", "bf16") if p in precisions}

    def torch_run(model, by_length: bool) -> None:  # sentence-transformers sorts inside encode: unsorted is a call per batch
        for at in range(0, len(texts), 1 if by_length else base.batch_size):
            model.encode(texts if by_length else texts[at:at + base.batch_size], batch_size=base.batch_size)
            if by_length:
                break

    runs: dict[tuple[str, str, bool], list[float]] = {}
    jobs = {(p, "onnxruntime, one batch per core"): (lambda s, e=e: e.encode(texts, by_length=s)) for p, e in onnx.items()}
    jobs |= {(p, "sentence-transformers (torch)"): (lambda s, m=m: torch_run(m, s)) for p, m in torch_models.items()}
    for job in jobs.values():
        job(True)  # warm up
    for _ in range(REPEATS):
        for (precision, engine), job in jobs.items():
            for by_length in (True, False):
                start = time.perf_counter()
                job(by_length)
                runs.setdefault((precision, engine, by_length), []).append(len(texts) / (time.perf_counter() - start))
    lines = ["| precision | encoder | length-sorted batches | passages/s (median) | best |", "|---|---|---|---|---|"]
    lines += [f"| {precision} | {engine} | {'yes' if by_length else 'no'} | {statistics.median(values):.1f} | "
              f"{max(values):.1f} |" for (precision, engine, by_length), values in runs.items()]
    return lines


class QueriesIn(SentenceTransformerEmbedder):
    """The default model with queries encoded by another ONNX form of it (fp32 beside int8 passages), to measure the mix."""

    def __init__(self, encoder: OnnxEncoder) -> None:
        super().__init__()
        self.encoder = encoder

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self.encoder.encode([self.query_prefix + t for t in texts])


def quality(sets: list[Benchmark], precisions: Sequence[str]) -> tuple[list[str], list[str], dict]:
    """Dense and hybrid R@10 / MRR@10 per set, half and precision; cosine of each precision's vectors to fp32."""
    results: dict[tuple[str, str, str, str], dict[str, float]] = {}
    cosines: list[str] = []
    by_index: dict[str, list[Benchmark]] = {}
    for bench in sets:
        by_index.setdefault(bench.index, []).append(bench)
    fp32_queries = None
    for index, members in by_index.items():
        vectors = {}
        for precision in precisions:
            engine = open_index(members[0], IndexSettings(precision=precision), f"-{precision}")
            vectors[precision] = np.asarray(engine.searcher.vectors.vectors)
            variants = [(precision, engine)]
            if precision == "int8":
                if fp32_queries is None:
                    model = engine.searcher.embedder
                    fp32_queries = QueriesIn(OnnxEncoder.open_form(model.folder, model.fingerprint))
                variants.append(("int8, fp32 queries", PolicySearch(Searcher.open(engine.root, embedder=fp32_queries))))
            for name, searcher in variants:
                for bench in members:
                    for half in ("dev", "test"):
                        queries = [q for q in bench.queries if split(q) == half]
                        for mode in ("dense", "hybrid"):
                            results[(bench.name, half, name, mode)] = evaluate(
                                lambda q, m=mode, e=searcher: e.search(q, k=10, mode=m), queries)
        for precision in precisions:
            cos = (vectors[precision] * vectors["fp32"]).sum(axis=1)
            cosines.append(f"| {index} | {precision} | {len(cos)} | {cos.min():.5f} / {cos.mean():.5f} |")
    lines = ["| set | passage vectors | mode | dev R@10 | dev MRR@10 | test R@10 | test MRR@10 | test ΔR@10 / ΔMRR@10 to fp32 |",
             "|---|---|---|---|---|---|---|---|"]
    names = sorted({key[2] for key in results}, key=lambda n: ORDER.index(n))
    for bench in sets:
        for name in names:
            for mode in ("dense", "hybrid"):
                dev, test = results[(bench.name, "dev", name, mode)], results[(bench.name, "test", name, mode)]
                base = results[(bench.name, "test", "fp32", mode)]
                lines.append(f"| {bench.name} | {name} | {mode} | {dev['recall@10']:.3f} | {dev['mrr@10']:.3f} | "
                             f"{test['recall@10']:.3f} | {test['mrr@10']:.3f} | "
                             f"{test['recall@10'] - base['recall@10']:+.3f} / {test['mrr@10'] - base['mrr@10']:+.3f} |")
    return lines, cosines, results


def pooled(results: dict) -> dict[tuple[str, str, str, str], dict[str, float]]:
    """The sets of one source (STARD; LawBench's three tasks; CMRC) as one, weighted by questions."""
    out: dict[tuple[str, str, str, str], dict[str, float]] = {}
    for (name, half, vectors, mode), metrics in results.items():
        total = out.setdefault((name.split("-")[0], half, vectors, mode), {"recall@10": 0.0, "mrr@10": 0.0, "queries": 0})
        for key in ("recall@10", "mrr@10"):
            total[key] += metrics[key] * metrics["queries"]
        total["queries"] += metrics["queries"]
    for total in out.values():
        total["recall@10"] /= total["queries"]
        total["mrr@10"] /= total["queries"]
    return out


def worst_dev_loss(results: dict, name: str) -> float:
    """The largest drop from fp32 in dev R@10 or MRR@10 over STARD, LawBench and CMRC and both
    modes: the default's rule (LawBench's tasks pooled; one question of a task's half is 0.008–0.011)."""
    return max(results[(s, "dev", "fp32", m)][k] - results[(s, "dev", name, m)][k]
               for (s, half, n, m) in results if n == name and half == "dev" for k in ("recall@10", "mrr@10"))


def summary(results: dict) -> list[str]:
    lines = ["| source | passage vectors | mode | dev questions | dev R@10 | dev MRR@10 | test R@10 | test MRR@10 | "
             "test ΔR@10 / ΔMRR@10 to fp32 |", "|---|---|---|---|---|---|---|---|---|"]
    for (source, half, name, mode), dev in sorted(results.items(), key=lambda item: (
            item[0][0], ORDER.index(item[0][2]), item[0][3])):
        if half != "dev":
            continue
        test, base = results[(source, "test", name, mode)], results[(source, "test", "fp32", mode)]
        lines.append(f"| {source} | {name} | {mode} | {dev['queries']} | {dev['recall@10']:.3f} | {dev['mrr@10']:.3f} | "
                     f"{test['recall@10']:.3f} | {test['mrr@10']:.3f} | {test['recall@10'] - base['recall@10']:+.3f} / "
                     f"{test['mrr@10'] - base['mrr@10']:+.3f} |")
    return lines


def main() -> int:
    import argparse

    import torch

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--skip-rates", action="store_true", help="leave out the passages-per-second table")
    args = parser.parse_args()

    sets = [b for b in benchmarks(False, None) if b.name in SETS]
    if not sets:
        print("skip: needs ../shared/data (laws.db, STARD, LawBench, CMRC)", file=sys.stderr)
        return 0
    precisions = ["fp32", "int8"] + (["bf16"] if native_bf16() else [])
    laws = next((b for b in sets if b.index == "laws"), sets[0])
    texts = indexed_texts(open_index(laws, IndexSettings(precision="fp32"), "-fp32"))
    sample = texts[::max(1, len(texts) // SAMPLE)][:SAMPLE]
    speed = [] if args.skip_rates else [
        f"## Passages per second ({len(sample)} laws passages with their context lines, every "
        f"{len(texts) // len(sample)}th; median of {REPEATS} interleaved runs)", "", *rates(sample, precisions), ""]
    table, cosines, results = quality(sets, precisions)
    sources = pooled(results)
    rule = [f"| {name} | {worst_dev_loss(sources, name):+.4f} |" for name in sorted({k[2] for k in results}) if name != "fp32"]
    lines = ["# Passage encoding", "", f"Command: `{command_line('encoding.py')}`; torch {torch.__version__}, "
             f"native bf16: {'yes' if native_bf16() else 'no'}" + ("; passages per second not measured "
             "(`--skip-rates`: `python benchmarks/build.py --yardstick` times whole builds)" if args.skip_rates else ""),
             "", *speed,
             "## Cosine to fp32 vectors (min / mean, every passage)", "",
             "| corpus | precision | passages | cosine |", "|---|---|---|---|", *cosines, "",
             "## Retrieval with each precision's passage vectors (queries int8 beside int8 passages, else fp32, "
             "unless named)", "",
             "The default is chosen on the dev halves: the largest loss from fp32 in R@10 or MRR@10 over STARD, "
             "LawBench (its three tasks pooled) and CMRC, in either mode, must stay under 0.005. The test halves "
             "are reported.", "", "| passage vectors | largest dev loss to fp32 |", "|---|---|", *rule, "",
             *summary(sources), "", "Per set:", "", *table]
    report("encoding.md", lines)
    return 0


if __name__ == "__main__":
    sys.exit(main())
