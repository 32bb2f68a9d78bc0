"""Incremental updates equal fresh builds; SIGKILL never breaks an index; readers never see a mix."""

from __future__ import annotations

import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from policysearch import PolicySearch, IndexSettings

from conftest import CORPUS

QUERIES = ["什么是五环工作格局", "五老进校园活动", "家庭教育宣传周", "调研月", "活动地点"]


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "policysearch", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=300)


def test_incremental_update_equals_a_fresh_build_and_touches_only_changed_files(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    shutil.copytree(CORPUS, docs)
    (docs / "plan.txt").write_text("关于开展“五老”进校园活动的工作方案。一、活动时间为9月。", encoding="utf-8")
    (docs / "old.txt").write_text("即将撤回的通知：本周暂停调研。", encoding="gbk")
    first = cli("index", "docs", "--index", "idx", cwd=tmp_path)
    assert first.returncode == 0 and "full build" in first.stderr
    (docs / "plan.txt").write_text("关于开展“五老”进校园活动的工作方案。二、活动地点在各区市学校。", encoding="utf-8")
    (docs / "new.txt").write_text("家庭教育宣传周于5月举行。", encoding="utf-8")
    (docs / "old.txt").unlink()
    second = cli("index", "docs", "--index", "idx", cwd=tmp_path)
    assert "1 added, 1 updated, 1 removed, 1 unchanged" in second.stderr
    updated = PolicySearch.open(tmp_path / "idx")
    assert cli("index", "docs", "--index", "fresh", cwd=tmp_path).returncode == 0
    fresh = PolicySearch.open(tmp_path / "fresh")
    for query in QUERIES:
        for mode in ("bm25", "hybrid"):
            assert updated.search(query, k=5, mode=mode) == fresh.search(query, k=5, mode=mode)
    third = cli("index", "docs", "--index", "idx", cwd=tmp_path)
    assert "0 added, 0 updated, 0 removed, 3 unchanged" in third.stderr


def test_an_update_embeds_only_the_passages_of_changed_documents(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    shutil.copytree(CORPUS, docs)
    (docs / "plan.txt").write_text("关于开展“五老”进校园活动的工作方案。一、活动时间为9月。", encoding="utf-8")
    engine = PolicySearch.build([docs], tmp_path / "idx")
    first = engine.searcher
    (docs / "plan.txt").write_text("关于开展“五老”进校园活动的工作方案。二、活动地点在各区市学校。", encoding="utf-8")
    embedded: list[int] = []
    changes = engine.update([docs], progress=lambda stage, total: embedded.append(total) if stage == "embedding" else None)
    assert changes.updated == ["plan.txt"] and embedded == [1], "only plan.txt's one passage is embedded again"
    assert engine.searcher is not first
    with pytest.raises(sqlite3.ProgrammingError):
        first.passages.count()  # the version it served before is closed
    fresh = PolicySearch.build([docs], tmp_path / "fresh")
    for query in QUERIES:
        for mode in ("bm25", "dense", "hybrid"):
            assert engine.search(query, k=5, mode=mode) == fresh.search(query, k=5, mode=mode)
    assert engine.remove(["plan.txt"]).removed == ["plan.txt"]
    assert engine.search("五环工作格局", k=1)[0].doc_id != "plan.txt" and engine.count()[0] == 1


def test_add_and_remove_in_python(tmp_path: Path) -> None:
    engine = PolicySearch.build([CORPUS], tmp_path / "idx", IndexSettings(model=None))
    (tmp_path / "notice.txt").write_text("关于举办家庭教育讲座的通知。", encoding="utf-8")
    changes = engine.add([tmp_path / "notice.txt"])
    assert changes.added == ["notice.txt"] and engine.search("家庭教育讲座")[0].doc_id == "notice.txt"
    assert engine.remove([str(tmp_path / "notice.txt")]).removed == ["notice.txt"]
    assert all(h.doc_id != "notice.txt" for h in engine.search("家庭教育讲座"))
    assert PolicySearch.open(tmp_path / "idx").count()[0] == 1


def write_corpus(folder: Path, marker: str, files: int = 150) -> None:
    folder.mkdir(exist_ok=True)
    for i in range(files):
        (folder / f"doc{i:03d}.txt").write_text(
            f"{marker}第{i}号文件。关于加强关心下一代工作的通知。"
            "" + "各区市关工委要认真贯彻落实会议精神，切实做好调研工作。" * 40,
            encoding="utf-8")


def markers(engine: PolicySearch) -> set[str]:
    return {h.text[:3] for h in engine.search("关心下一代工作的通知", k=20, mode="bm25")}


def test_sigkill_at_random_moments_leaves_the_previous_index_usable(tmp_path: Path) -> None:
    write_corpus(tmp_path / "docs", "甲版本")
    assert cli("index", "docs", "--index", "idx", "--no-dense", cwd=tmp_path).returncode == 0
    write_corpus(tmp_path / "docs", "乙版本")
    start = time.perf_counter()
    assert cli("index", "docs", "--index", "probe", "--no-dense", cwd=tmp_path).returncode == 0
    duration = time.perf_counter() - start
    rng = random.Random(7)
    for round_ in range(20):
        process = subprocess.Popen([sys.executable, "-m", "policysearch", "index", "docs", "--index", "idx",
                                    "--no-dense", "--rebuild"], cwd=tmp_path,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(0.05, duration))
        process.send_signal(signal.SIGKILL)
        process.wait()
        seen = markers(PolicySearch.open(tmp_path / "idx"))
        assert seen in ({"甲版本"}, {"乙版本"}), (round_, seen)
        write_corpus(tmp_path / "docs", "甲版本" if round_ % 2 else "乙版本")
    for _ in range(2):  # the second run finds nothing changed: it cleans all the same
        (tmp_path / "idx" / ".tmp-999999999-dead").mkdir()
        assert cli("index", "docs", "--index", "idx", "--no-dense", cwd=tmp_path).returncode == 0
        assert not list((tmp_path / "idx").glob(".tmp-*"))
    assert len(list((tmp_path / "idx").glob("v-*"))) <= 2


def test_versions_a_killed_build_left_are_removed_by_the_next_run_even_when_nothing_changed(tmp_path: Path) -> None:
    index = tmp_path / "idx"
    for marker in ("甲版本", "乙版本"):
        write_corpus(tmp_path / "docs", marker, files=5)
        assert cli("index", "docs", "--index", "idx", "--no-dense", cwd=tmp_path).returncode == 0
    published = (index / "CURRENT").read_text().strip()
    versions = sorted(p.name for p in index.glob("v-*"))
    assert len(versions) == 2 and published in versions
    # a build killed after renaming its folder but before publishing it, and one killed after
    # publishing but before dropping the oldest, both leave a third folder
    shutil.copytree(index / published, index / "v-20990101T000000-0dead000")
    shutil.copytree(index / published, index / "v-20000101T000000-0a1d0000")
    assert cli("index", "docs", "--index", "idx", "--no-dense", cwd=tmp_path).returncode == 0  # nothing changed
    assert sorted(p.name for p in index.glob("v-*")) == versions
    assert markers(PolicySearch.open(index)) & {"甲版本", "乙版本"} == {"乙版本"}


def test_readers_see_the_old_or_the_new_index_never_a_mix(tmp_path: Path) -> None:
    write_corpus(tmp_path / "docs", "甲版本", files=60)
    assert cli("index", "docs", "--index", "idx", "--no-dense", cwd=tmp_path).returncode == 0
    long_lived = PolicySearch.open(tmp_path / "idx")
    reader = subprocess.Popen([sys.executable, "-c", (
        "import sys, time\nfrom policysearch import PolicySearch\n"
        f"end = time.time() + 8\nseen = set()\n"
        "while time.time() < end:\n"
        f"    hits = PolicySearch.open({str(tmp_path / 'idx')!r}).search('关心下一代工作的通知', k=20, mode='bm25')\n"
        "    found = {h.text[:3] for h in hits}\n"
        "    assert len(found) == 1, found\n"
        "    seen |= found\n"
        "print(sorted(seen))\n")], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    for round_ in range(6):
        write_corpus(tmp_path / "docs", "乙版本" if round_ % 2 == 0 else "甲版本", files=60)
        assert cli("index", "docs", "--index", "idx", "--no-dense", cwd=tmp_path).returncode == 0
    out, err = reader.communicate(timeout=60)
    assert reader.returncode == 0, err[-2000:]
    assert "乙版本" in out
    assert markers(long_lived) == {"甲版本"}


def test_two_writers_at_once_never_break_the_index(tmp_path: Path) -> None:
    write_corpus(tmp_path / "a", "甲版本", files=40)
    write_corpus(tmp_path / "b", "乙版本", files=40)
    assert cli("index", "a", "--index", "idx", "--no-dense", cwd=tmp_path).returncode == 0
    command = [sys.executable, "-m", "policysearch", "index", "--index", "idx", "--no-dense", "--rebuild"]
    for round_ in range(6):
        first = subprocess.Popen([*command, "a"], cwd=tmp_path, stderr=subprocess.PIPE, text=True)
        second = subprocess.Popen([*command, "b"], cwd=tmp_path, stderr=subprocess.PIPE, text=True)
        errors = [p.communicate(timeout=300)[1] for p in (first, second)]
        assert first.returncode == 0 and second.returncode == 0, errors
        seen = markers(PolicySearch.open(tmp_path / "idx"))
        assert seen in ({"甲版本"}, {"乙版本"}), (round_, seen)
        assert len(list((tmp_path / "idx").glob("v-*"))) <= 2


def _file_size_limit(limit: int):
    import resource

    return lambda: resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))


def _rebuild_fails_cleanly(tmp_path: Path, index: Path, preexec=None) -> None:
    out = subprocess.run([sys.executable, "-m", "policysearch", "index", "docs", "--index", str(index), "--no-dense",
                          "--rebuild"], cwd=tmp_path, capture_output=True, text=True, timeout=300, preexec_fn=preexec)
    assert out.returncode == 1 and "Traceback" not in out.stderr, out.stderr
    line = out.stderr.strip().splitlines()[-1]
    assert line.startswith(f"policysearch: error: {index}: cannot write the index ("), out.stderr
    assert line.endswith("free some disk space and run again (the previous version is intact)"), line
    assert markers(PolicySearch.open(index)) == {"甲版本"}
    assert not list(index.glob(".tmp-*"))


def test_a_full_disk_is_one_clear_line_and_the_old_index_stays(tmp_path: Path) -> None:
    import os

    write_corpus(tmp_path / "docs", "甲版本", files=20)
    disk = tmp_path / "disk"
    disk.mkdir()
    mounted = os.geteuid() == 0 and subprocess.run(["mount", "-t", "tmpfs", "-o", "size=600k", "tmpfs", str(disk)],
                                                   capture_output=True).returncode == 0
    try:
        assert cli("index", "docs", "--index", str(disk / "idx"), "--no-dense", cwd=tmp_path).returncode == 0
        write_corpus(tmp_path / "docs", "乙版本")
        if mounted:  # a real full disk: a 600 kB file system
            _rebuild_fails_cleanly(tmp_path, disk / "idx")
        _rebuild_fails_cleanly(tmp_path, disk / "idx", _file_size_limit(100_000))  # a file-size limit, as quotas do
    finally:
        if mounted:
            subprocess.run(["umount", "--lazy", str(disk)], check=True)  # the engines opened above may still map files


def test_a_damaged_vector_cache_is_passed_over_with_a_warning(tmp_path: Path, corpus_index: PolicySearch) -> None:
    import os

    from policysearch.index.dense import VectorCache
    from policysearch.index.models import cache_dir

    cache = tmp_path / "cache"
    (cache / "vectors").mkdir(parents=True)
    (cache / "models").symlink_to(cache_dir() / "models", target_is_directory=True)  # the converted model, reused
    model = corpus_index.manifest["model"]
    damaged = cache / "vectors" / VectorCache.file_name(model["fingerprint"], model["precision"])
    damaged.write_bytes(b"not a database at all" * 100)
    out = subprocess.run([sys.executable, "-m", "policysearch", "index", str(CORPUS), "--index", "idx"], cwd=tmp_path,
                         capture_output=True, text=True, timeout=300, env={**os.environ, "POLICYSEARCH_CACHE": str(cache)})
    assert out.returncode == 0, out.stderr
    assert "vector cache" in out.stderr and "unusable" in out.stderr and "embedding without it" in out.stderr
    rebuilt, first = (PolicySearch.open(tmp_path / "idx").search("什么是五环工作格局", k=3, mode="dense"),
                      corpus_index.search("什么是五环工作格局", k=3, mode="dense"))
    # the same passages in the same order; int8 scores differ in the last digits (activations are scaled per batch)
    assert [(h.doc_id, h.start, h.end) for h in rebuilt] == [(h.doc_id, h.start, h.end) for h in first]
    assert [h.score for h in rebuilt] == pytest.approx([h.score for h in first], abs=0.005)
