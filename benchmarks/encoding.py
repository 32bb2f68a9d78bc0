"""Passage encoding with the default model: fp32 against bfloat16 (used where the CPU has AMX or
AVX512-BF16), in passages per second on the laws corpus, and what bf16 does to STARD train.

    python benchmarks/encoding.py      # benchmarks/results/encoding.md (about 10 minutes)

Needs the laws index that `python benchmarks/quality.py` builds (its vectors are the fp32 ones).
"""

from __future__ import annotations

import os
import platform
import sys
import time

import numpy as np

from policysearch import IndexSettings
from policysearch.dense import VectorIndex, native_bf16
from quality import CACHE, DATA, benchmarks, evaluate, open_index, report

SAMPLE = 1024


def main() -> int:
    import torch

    folder = next(iter(sorted((CACHE / "indexes" / "laws").glob("v-*"))), None)
    if not (DATA / "lawsdb" / "laws.db").exists() or folder is None:
        print("skip: needs ../shared/data/lawsdb/laws.db and the laws index (python benchmarks/quality.py)", file=sys.stderr)
        return 0
    if not native_bf16():
        print("skip: this CPU has no native bfloat16, so policysearch encodes in fp32 here", file=sys.stderr)
        return 0
    stard = next(b for b in benchmarks(False, None) if b.name == "stard-train")
    engine = open_index(stard, IndexSettings(), "")
    texts = [chunk.text for chunk, _ in engine.searcher.passages.chunks(range(engine.manifest["chunks"]))]
    fp32 = np.asarray(engine.searcher.vectors.vectors)
    embedder = engine.searcher.embedder
    sample = texts[::len(texts) // SAMPLE][:SAMPLE]

    embedder.model.to(torch.float32)
    embedder.embed_passages(sample[:100])
    start = time.perf_counter()
    embedder.embed_passages(sample)
    fp32_rate = len(sample) / (time.perf_counter() - start)

    embedder.model.to(torch.bfloat16)
    embedder.embed_passages(sample[:100])
    start = time.perf_counter()
    bf16 = embedder.embed_passages(texts)
    bf16_rate = len(texts) / (time.perf_counter() - start)
    cosine = (fp32 * bf16).sum(axis=1)

    quality = {}
    for name, vectors in (("fp32", fp32), ("bf16", bf16)):
        engine.searcher.vectors = engine.searcher.backend.vectors = VectorIndex(np.ascontiguousarray(vectors),
                                                                                  engine.settings.hnsw_threshold)
        for mode in ("dense", "hybrid"):
            quality[(name, mode)] = evaluate(lambda q, m=mode: engine.search(q, k=10, mode=m), stard.queries)

    machine = f"{platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}"
    lines = ["# Passage encoding", "", f"Command: `python benchmarks/encoding.py` on {machine}", "",
             "| precision | passages/s | passages | cosine to fp32 (min / mean) |", "|---|---|---|---|",
             f"| fp32 | {fp32_rate:.1f} | {len(sample)} (every {len(texts) // SAMPLE}th) | 1 |",
             f"| bf16 | {bf16_rate:.1f} | {len(texts)} (all) | {cosine.min():.5f} / {cosine.mean():.5f} |",
             "", f"STARD train, {len(stard.queries)} questions:", "",
             "| precision | mode | Recall@10 | MRR@10 |", "|---|---|---|---|"]
    lines += [f"| {name} | {mode} | {r['recall@10']:.3f} | {r['mrr@10']:.3f} |" for (name, mode), r in quality.items()]
    report("encoding.md", lines)
    return 0


if __name__ == "__main__":
    sys.exit(main())
