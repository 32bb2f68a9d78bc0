"""Shared fixtures: the bundled corpus, one index built from it per session, and ../shared data."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from policysearch import PolicySearch

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "corpus"
SHARED_DATA = ROOT.parent / "shared" / "data"
FIVE_RINGS = "“五环”工作格局具有时代特色"
SIX_POINTS = "一个引领、两个争创、三个致力于、四项工作任务、五环工作格局、六个坚持"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--precision", choices=["auto", "fp32", "bf16", "int8"], default="auto",
                     help="what IndexSettings(precision='auto') means in this run (POLICYSEARCH_PRECISION), so the "
                          "suite runs the path another CPU takes: --precision int8 is an AVX2-only machine's, "
                          "bf16 an AMX one's, fp32 the one before int8 was measured good enough")


def pytest_xdist_auto_num_workers(config: pytest.Config) -> int:
    """`-n auto`: one worker per core this process may use, at most 4 (each loads the model)."""
    return max(1, min(4, len(os.sched_getaffinity(0))))


def pytest_configure(config: pytest.Config) -> None:
    chosen = config.getoption("--precision")
    if chosen != "auto":
        os.environ["POLICYSEARCH_PRECISION"] = chosen  # subprocesses inherit it


@pytest.fixture(scope="session", autouse=True)
def hermetic(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Caches (converted model, vectors) and benchmark outputs go to temporary folders, never to
    the user's cache or the checkout; subprocesses inherit the same settings."""
    os.environ["POLICYSEARCH_CACHE"] = str(tmp_path_factory.mktemp("cache"))
    os.environ["POLICYSEARCH_BENCHMARK_DIR"] = str(tmp_path_factory.mktemp("benchmarks"))


@pytest.fixture(scope="session")
def corpus_index(tmp_path_factory: pytest.TempPathFactory) -> PolicySearch:
    return PolicySearch.build([CORPUS], tmp_path_factory.mktemp("idx") / "bundled")


@pytest.fixture(scope="session")
def laws_db() -> Path:
    path = SHARED_DATA / "lawsdb" / "laws.db"
    if not path.exists():
        pytest.skip(f"{path} is missing")
    return path


from hypothesis import settings as hypothesis_settings  # noqa: E402

hypothesis_settings.register_profile("ci", max_examples=300, deadline=None)
hypothesis_settings.register_profile("fuzz", max_examples=5000, deadline=None)
hypothesis_settings.load_profile("ci")
