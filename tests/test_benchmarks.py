"""The benchmark scripts keep working: a smoke run on a few questions and small corpora."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT, SHARED_DATA


def written(name: str) -> Path:
    """Where the scripts wrote `name`: the temporary folder conftest gives them."""
    return Path(os.environ["POLICYSEARCH_BENCHMARK_DIR"]) / "results" / name


def test_quality_smoke_run_writes_tables_and_plot() -> None:
    out = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "quality.py"), "--smoke", "--limit", "3", "--no-grid"],
        capture_output=True, text=True, timeout=900,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    results = json.loads(written("quality-smoke.json").read_text())["results"]
    assert written("recall-smoke.png").stat().st_size > 10_000
    if (SHARED_DATA / "policyqa").exists():
        halves = [name for name in results if name.startswith("policyqa (")]
        assert halves and set(halves) <= {"policyqa (dev)", "policyqa (test)"}, "questions split into dev and test"
        for name in halves:
            for ranker in ("bm25", "dense", "hybrid", "rank_bm25+jieba", "faiss-flat"):
                assert 0.0 <= results[name][ranker]["recall@10"] <= 1.0
            assert results[name]["hybrid"]["recall@10"] == 1.0
    else:
        assert "skip policyqa" in out.stderr


def test_answers_smoke_run_cross_validates_the_unit_ranker() -> None:
    shipped = (ROOT / "src" / "policysearch" / "data" / "answer_ranker.json").read_bytes()
    out = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "answers.py"), "--smoke", "--limit", "3"],
                         capture_output=True, text=True, timeout=900)
    assert out.returncode == 0, out.stderr[-2000:]
    results = json.loads(written("answers-smoke.json").read_text())
    assert results["speed"] and all(s["ask"] > 0 and s["search"] > 0 for s in results["speed"].values())
    if (SHARED_DATA / "policyqa").exists() and (SHARED_DATA / "cmrc2018").exists():
        for model in ("dense", "terms"):
            sets = results[model]["ranker"]
            assert 0.0 <= sets["policyqa"]["right"] <= sets["policyqa"]["holds_gold"] <= 1.0
            assert sum(sets["cmrc2018"]["units"].values()) == sets["cmrc2018"]["questions"]
            assert 0.0 <= sets["no-answer, cross-asked"]["balanced_accuracy"] <= 1.0
            assert 0.0 <= results[model]["spans"]["coverage"] <= 1.0
    assert (ROOT / "src" / "policysearch" / "data" / "answer_ranker.json").read_bytes() == shipped, "only --fit writes it"
    out = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "answers.py"), "--smoke", "--limit", "3",
                          "--speed-only"], capture_output=True, text=True, timeout=900)
    assert out.returncode == 0, out.stderr[-2000:]
    rows = [line.split(" | ") for line in written("answers-speed-smoke.md").read_text().splitlines()
            if line.startswith("| ") and line[2:3].isalpha() and not line.startswith("| corpus")]
    assert {row[0][2:] for row in rows} == set(results["speed"]) and all(float(row[3]) > 0 for row in rows)


def test_rerank_smoke_run_reports_every_set_before_and_after() -> None:
    shipped = (ROOT / "src" / "policysearch" / "data" / "reranker.json").read_bytes()
    out = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "rerank.py"), "--smoke", "--limit", "3"],
                         capture_output=True, text=True, timeout=900)
    assert out.returncode == 0, out.stderr[-2000:]
    table = json.loads(written("rerank-smoke.json").read_text())["table"]
    assert table, "at least one set ran"
    for rows in table.values():
        assert {"bm25", "dense", "hybrid, fused (before)", "hybrid, re-ranked (after)"} <= set(rows)
        assert all(0.0 <= r["mrr@10"] <= 1.0 for r in rows.values())
    assert (ROOT / "src" / "policysearch" / "data" / "reranker.json").read_bytes() == shipped, "only --fit writes it"


def test_ceiling_smoke_run_sets_the_encoder_against_the_cpus_fastest_product() -> None:
    out = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "ceiling.py"), "--smoke"],
                         capture_output=True, text=True, timeout=900)
    assert out.returncode == 0, out.stderr[-2000:]
    if "skip:" in out.stderr:
        pytest.skip(out.stderr.strip())
    rows = dict(line.strip("|").split("|")[:2] for line in written("ceiling-smoke.md").read_text().splitlines()
                if line.startswith("| ") and not line.startswith("| ---"))
    rows = {name.strip(): value.strip() for name, value in rows.items()}
    assert float(rows["fastest fp32 matrix product here, one thread (680 × 384 → 1536)"].split()[0]) > 1
    assert 0 < float(rows["the fp32 encoder's weighted products, per core"].split("=")[1].split("%")[0]) < 150
    assert all(float(rows[name]) > 0 for name in ("fp32", "int8, shipped recipe", "int8, every product"))
    assert 0 < float(rows["MatMul"].rstrip("%")) < 100, "the profiler's operators and their shares"


def test_avx2only_runs_a_command_with_the_code_paths_of_an_avx2_only_cpu() -> None:
    probe = ("from numpy._core._multiarray_umath import __cpu_features__ as f\n"
             "from policysearch.index.dense import auto_precision\n"
             "print(f['AVX2'], f['AVX512F'], f['AVX512_SPR'], auto_precision())")
    env = {k: v for k, v in os.environ.items() if k != "POLICYSEARCH_PRECISION"}  # what the CPU makes of `auto`
    out = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "avx2only.py"), sys.executable, "-c", probe],
                         capture_output=True, text=True, timeout=120, env=env)
    if "cannot make CPUID fault" in out.stderr:
        pytest.skip(out.stderr.strip())
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split() == ["True", "False", "False", "int8"], "AVX2 kept, AVX-512 hidden, auto is int8"
