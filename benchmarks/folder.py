"""A folder of many small files, as an office share holds them: a first build, an update with
nothing changed, and an update after one file changed, each timed, BM25 only (no model), so
the numbers are the cost of walking, hashing, reading in worker processes and publishing.

    python benchmarks/folder.py                 # 50,000 files: benchmarks/results/folder.md
    python benchmarks/folder.py --files 2000    # a shorter run
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from policysearch import IndexSettings, PolicySearch
from quality import DATA, report


def write_folder(folder: Path, files: int) -> None:
    """`files` notices of a few sentences each, cut from the government work reports (or
    numbered sentences when they are missing), 500 to a subfolder."""
    reports = sorted((DATA / "govreports").glob("*.txt"))
    sentences = [s + "。" for path in reports for s in path.read_text(encoding="utf-8").split("。") if len(s) > 20]
    sentences = sentences or [f"第{i}号通知：各区市关工委要认真贯彻落实会议精神，切实做好调研工作。" for i in range(1000)]
    for i in range(files):
        sub = folder / f"{i // 500:03d}"
        sub.mkdir(parents=True, exist_ok=True)
        body = "".join(sentences[(i * 3 + j) % len(sentences)] for j in range(3))
        (sub / f"通知{i:05d}.txt").write_text(f"关于第{i}项工作的通知\n{body}\n", encoding="utf-8")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", type=int, default=50_000)
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        folder, index = Path(tmp) / "docs", Path(tmp) / "idx"
        write_folder(folder, args.files)
        start = time.perf_counter()
        engine = PolicySearch.build([folder], index, IndexSettings(model=None))
        full = time.perf_counter() - start
        rows.append(f"| first build | {engine.count()[0]} | {full:.1f} | 1.00 |")
        start = time.perf_counter()
        changes = engine.update([folder])
        took = time.perf_counter() - start
        assert not (changes.added or changes.updated or changes.removed), changes.summary()
        rows.append(f"| update, nothing changed | {len(changes.unchanged)} unchanged | {took:.1f} | {took / full:.2f} |")
        first = next(folder.rglob("*.txt"))
        first.write_text(first.read_text(encoding="utf-8") + "补充说明：本通知自发布之日起施行。\n", encoding="utf-8")
        start = time.perf_counter()
        changes = engine.update([folder])
        took = time.perf_counter() - start
        rows.append(f"| update, one file changed | {changes.summary()} | {took:.1f} | {took / full:.2f} |")
    report("folder.md", ["# A folder of many small files", "",
                         f"Command: `python benchmarks/folder.py --files {args.files}`; BM25 only.", "",
                         "| run | documents | seconds | share of the first build |", "|---|---|---|---|", *rows])
    return 0


if __name__ == "__main__":
    sys.exit(main())
