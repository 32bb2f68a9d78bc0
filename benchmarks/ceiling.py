"""How close passage encoding runs to this CPU's limit, and where its time goes: the fp32 ONNX
encoder's arithmetic rate against the fastest fp32 matrix product onnxruntime does here on one
core, the share of each operator in its kernel time, and the passages per second of fp32, the
shipped int8 recipe and int8 in every product, on the passages of the build yardstick (1,500
law articles, as `build.py --yardstick` writes them).

    python benchmarks/ceiling.py          # benchmarks/results/ceiling.md (about 5 minutes)
    python benchmarks/ceiling.py --smoke  # 40 articles, one run of each: ceiling-smoke.md (CI)
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import numpy as np

from policysearch import IndexSettings, PolicySearch
from policysearch.index.dense import OnnxEncoder, SentenceTransformerEmbedder
from policysearch.index.models import int8_model
from policysearch.reading.corpora import laws_db
from build import ARTICLES
from encoding import indexed_texts
from quality import DATA, command_line, report

ROUNDS = 3


def yardstick_passages(tmp: Path, articles: int = ARTICLES) -> list[str]:
    """The passages the build yardstick embeds, with their context lines (a BM25-only build);
    fewer `articles` take every so many of the same."""
    laws = DATA / "lawsdb" / "laws.db"
    db = sqlite3.connect(f"file:{laws}?mode=ro", uri=True)
    ids = [row[0] for row in db.execute("SELECT id FROM articles")]
    db.close()
    chosen = ids[::len(ids) // ARTICLES][:ARTICLES][::ARTICLES // articles][:articles]
    documents, _ = laws_db(laws, articles=set(chosen), as_files=True)
    with PolicySearch.build_documents(documents, tmp / "bm25", IndexSettings(model=None)) as engine:
        return indexed_texts(engine)


def matmul_peak() -> float:
    """GFLOP/s of one fp32 product the shape of a feed-forward layer (680 tokens × 384 → 1536), one thread."""
    import onnxruntime
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    x, w = rng.random((680, 384), np.float32), rng.random((384, 1536), np.float32)
    graph = helper.make_graph([helper.make_node("MatMul", ["x", "w"], ["y"])], "peak",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, list(x.shape))],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [680, 1536])],
                              [numpy_helper.from_array(w, "w")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1
    session = onnxruntime.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
    best = float("inf")
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(50):
            session.run(None, {"x": x})
        best = min(best, time.perf_counter() - start)
    return 2 * x.shape[0] * x.shape[1] * w.shape[1] * 50 / best / 1e9


def flops_per_token(folder: Path) -> float:
    """Multiply-adds ×2 of the weighted products of one token through the encoder."""
    config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    hidden, ffn, layers = config["hidden_size"], config["intermediate_size"], config["num_hidden_layers"]
    return 2.0 * layers * (4 * hidden * hidden + 2 * hidden * ffn)


def operator_shares(model: Path, texts: list[str], tokens, tmp: Path) -> list[tuple[str, float]]:
    """Each operator's share of kernel time over a sixth of the passages, one thread, onnxruntime's profiler."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1
    options.enable_profiling = True
    options.profile_file_prefix = str(tmp / "profile")
    encoder = OnnxEncoder(onnxruntime.InferenceSession(str(model), options, providers=["CPUExecutionProvider"]), tokens)
    encoder.encode(texts[::6])
    events = json.loads(Path(encoder.session.end_profiling()).read_text(encoding="utf-8"))
    spent: Counter[str] = Counter()
    for event in events:
        if event.get("cat") == "Node" and event["name"].endswith("_kernel_time"):
            spent[event["args"]["op_name"]] += event["dur"]
    total = sum(spent.values())
    return [(name, value / total) for name, value in spent.most_common(8)]


def main() -> int:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--smoke", action="store_true", help="40 articles, one run of each encoder")
    args = parser.parse_args()
    if not (DATA / "lawsdb" / "laws.db").exists():
        print("skip: needs ../shared/data/lawsdb/laws.db", file=sys.stderr)
        return 0
    rounds = 1 if args.smoke else ROUNDS
    logging.disable(logging.WARNING)
    embedder = SentenceTransformerEmbedder(precision="fp32")
    folder, workers = embedder.folder, os.cpu_count() or 1
    with tempfile.TemporaryDirectory() as tmp:
        texts = [embedder.passage_prefix + text for text in yardstick_passages(Path(tmp), 40 if args.smoke else ARTICLES)]
        full = OnnxEncoder.open(folder)
        tokens = sum(len(row) for row in full.tokens(texts))
        prefix = embedder.passage_prefix
        models = {"fp32": folder / "onnx" / "model.onnx",
                  "int8, shipped recipe": int8_model(folder, embedder.fingerprint, prefix),
                  "int8, every product": int8_model(folder, embedder.fingerprint, prefix, every=True)}
        encoders = {name: OnnxEncoder.open(folder, workers=workers) if name == "fp32" else
                    OnnxEncoder.open_form(folder, embedder.fingerprint, path, workers) for name, path in models.items()}
        seconds: dict[str, list[float]] = {name: [] for name in models}
        for encoder in encoders.values():
            encoder.encode(texts[:64])  # warm up
        for _ in range(rounds):  # taken in turn, so a busy spell hits them all
            for name, encoder in encoders.items():
                start = time.perf_counter()
                encoder.encode(texts)
                seconds[name].append(time.perf_counter() - start)
        shares = operator_shares(models["fp32"], texts, full.tokens, Path(tmp))
    peak, per_token = matmul_peak(), flops_per_token(folder)
    fp32 = statistics.median(seconds["fp32"])
    rate = tokens * per_token / fp32 / workers / 1e9
    lines = ["# How close passage encoding runs to the CPU's limit", "",
             f"Command: `{command_line('ceiling.py')}`; {len(texts)} passages of the build yardstick "
             f"({tokens} tokens, {tokens / len(texts):.1f} a passage), {workers} batches at a time, one thread each.", "",
             "| what | measured |", "|---|---|",
             f"| fastest fp32 matrix product here, one thread (680 × 384 → 1536) | {peak:.1f} GFLOP/s |",
             f"| the fp32 encoder's weighted products, per core | {rate:.1f} GFLOP/s = {rate / peak:.0%} of that |",
             f"| arithmetic in one token | {per_token / 1e6:.1f} MFLOP |",
             f"| fp32 passages/s at that peak on every core | {peak * 1e9 * workers / per_token / (tokens / len(texts)):.1f} |",
             "", f"| encoder | passages/s (median of {rounds} runs taken in turn) | × fp32 |", "|---|---|---|"]
    lines += [f"| {name} | {len(texts) / statistics.median(runs):.1f} | {fp32 / statistics.median(runs):.2f} |"
              for name, runs in seconds.items()]
    lines += ["", "Operators' shares of the fp32 encoder's kernel time (a sixth of the passages, one thread):", "",
              "| operator | share |", "|---|---|", *[f"| {name} | {share:.1%} |" for name, share in shares]]
    report("ceiling-smoke.md" if args.smoke else "ceiling.md", lines)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
