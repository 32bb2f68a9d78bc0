"""A first build as a new user makes it, from files to a published index, with an empty vector
cache (the converted model is kept): the 72 government work reports in ../shared/data/govreports
(loaded from files) and the 378 laws of laws.db. Reports how long each stage took, the wall
time, and how long tokenising ran beside embedding (the two overlap).

    python benchmarks/build.py     # benchmarks/results/build.md (about 8 minutes)
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

from policysearch import PolicySearch
from policysearch.reading.corpora import laws_db
from policysearch.index.models import cache_dir
from quality import DATA, report


class Stages:
    """A `progress` for the build that notes when each stage started and last moved."""

    def __init__(self) -> None:
        self.start: dict[str, float] = {}
        self.end: dict[str, float] = {}
        self.total: dict[str, int] = {}

    def __call__(self, stage: str, total: int):
        self.start[stage] = self.end[stage] = time.perf_counter()
        self.total[stage] = total

        def tick(count: int) -> None:
            self.end[stage] = time.perf_counter()

        return tick

    def took(self, stage: str) -> float:
        return self.end.get(stage, 0.0) - self.start.get(stage, 0.0)

    def beside(self, one: str, other: str) -> float:
        """Seconds during which both stages ran."""
        if one not in self.start or other not in self.start:
            return 0.0
        return max(0.0, min(self.end[one], self.end[other]) - max(self.start[one], self.start[other]))


def main() -> int:
    reports, laws = DATA / "govreports", DATA / "lawsdb" / "laws.db"
    if not reports.is_dir() or not laws.exists():
        print(f"skip: needs {reports} and {laws}", file=sys.stderr)
        return 0
    models = cache_dir() / "models"
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "cache").mkdir()
        (Path(tmp) / "cache" / "models").symlink_to(models)
        os.environ["POLICYSEARCH_CACHE"] = str(Path(tmp) / "cache")  # no cached vectors
        for name, build in (
            ("govreports (72 .txt files, 1.1 M chars)", lambda to, p: PolicySearch.build([reports], to, progress=p)),
            ("laws.db (378 laws, in memory)", lambda to, p: PolicySearch.build_documents(laws_db(laws)[0], to, progress=p)),
        ):
            stages = Stages()
            start = time.perf_counter()
            engine = build(Path(tmp) / name.split()[0], stages)
            wall = time.perf_counter() - start
            passages = engine.manifest["chunks"]
            rows.append(f"| {name} | {passages} | {engine.manifest['model']['precision']} | "
                        + " | ".join(f"{stages.took(s):.1f}" if s in stages.start else "–"
                                     for s in ("loading", "tokenising", "embedding", "writing"))
                        + f" | {stages.beside('tokenising', 'embedding'):.1f} | {wall:.1f} | {passages / wall:.0f} |")
    report("build.md", ["# A first build, stage by stage", "", "Command: `python benchmarks/build.py`; "
                        "an empty vector cache, the default settings.", "",
                        "| corpus | passages | precision | loading s | tokenising s | embedding s | writing s | "
                        "tokenising beside embedding s | wall s | passages/s overall |",
                        "|---|---|---|---|---|---|---|---|---|---|", *rows])
    return 0


if __name__ == "__main__":
    sys.exit(main())
