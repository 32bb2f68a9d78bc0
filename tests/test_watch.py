"""`policysearch watch`: a real watcher process follows a real folder; what is added, changed or
removed there is searchable (or gone) within seconds, through bursts, lock files and slow writes."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from policysearch import IndexSettings, PolicySearch
from policysearch.interfaces.watcher import wanted

pytest.importorskip("watchfiles")

WAIT = 60.0  # seconds a change may take to be searchable on a loaded 2-core machine


def until(check: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + WAIT
    while not check():
        assert time.monotonic() < deadline, f"not within {WAIT:.0f} s: {what}"
        time.sleep(0.3)


def found(index: Path, query: str) -> list[str]:
    """The file names of the BM25 hits for `query` in the index's latest version."""
    with PolicySearch.open(index) as engine:
        return [Path(h.path).name for h in engine.search(query, k=5, mode="bm25")]


@pytest.fixture()
def watched(tmp_path: Path) -> Iterator[tuple[Path, Path, subprocess.Popen]]:
    folder, index = tmp_path / "docs", tmp_path / "index"
    folder.mkdir()
    (folder / "plan.txt").write_text("年度工作计划\n开展关爱留守儿童活动。\n", encoding="utf-8")
    PolicySearch.build([folder], index, IndexSettings(model=None)).close()
    process = subprocess.Popen([sys.executable, "-m", "policysearch", "watch", str(folder), "--index", str(index)],
                               stderr=subprocess.PIPE, text=True, env=os.environ.copy())
    line = ""
    while "watching" not in line:
        line = process.stderr.readline()
        assert line, "the watcher stopped before watching"
    yield folder, index, process
    process.terminate()
    process.wait(timeout=30)


def test_an_added_changed_and_removed_file_is_followed(watched: tuple[Path, Path, subprocess.Popen]) -> None:
    folder, index, _ = watched
    (folder / "notice.txt").write_text("关于网络素养教育的通知\n开展红色经典诵读比赛。\n", encoding="utf-8")
    until(lambda: "notice.txt" in found(index, "诵读比赛"), "the added file is searchable")
    (folder / "notice.txt").write_text("关于网络素养教育的通知\n组织防溺水安全教育。\n", encoding="utf-8")
    until(lambda: "notice.txt" in found(index, "防溺水") and not found(index, "诵读比赛"), "the change is searchable")
    (folder / "notice.txt").unlink()
    until(lambda: not found(index, "防溺水"), "the removed file is gone")
    assert found(index, "留守儿童") == ["plan.txt"], "the file that did not change stays"


def test_a_burst_of_a_thousand_writes_lock_files_and_a_slow_write(watched: tuple[Path, Path, subprocess.Popen]) -> None:
    folder, index, _ = watched
    (folder / "~$plan.docx").write_bytes(b"\x00lock")  # Word's lock file beside an open document
    (folder / ".~lock.plan.docx#").write_text("libreoffice", encoding="utf-8")
    for i in range(1000):
        (folder / f"n{i:04d}.txt").write_text(f"第{i}号简报\n编号{i:04d}的活动安排。\n", encoding="utf-8")
    slow = folder / "minutes.txt"
    with open(slow, "w", encoding="utf-8") as handle:
        handle.write("会议纪要\n")
        handle.flush()
        time.sleep(2.0)
        handle.write("会议决定成立青少年心理健康服务站。\n")
    until(lambda: PolicySearch.open(index).count()[0] == 1002, "every written file is indexed")
    assert found(index, "心理健康服务站")[0] == "minutes.txt", "the slowly written file is indexed whole"
    assert found(index, "编号0999")[0] == "n0999.txt"


@pytest.mark.parametrize(("name", "kept"), [("通知.docx", True), ("~$通知.docx", False), (".~lock.通知.docx#", False),
                                             ("通知.docx.tmp", False), ("报告.pdf.crdownload", False), ("纪要.txt~", False),
                                             (".纪要.txt.swp", False)])
def test_editors_temporary_files_start_no_update(name: str, kept: bool) -> None:
    assert wanted(f"/docs/{name}") is kept
