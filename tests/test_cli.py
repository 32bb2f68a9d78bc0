"""The `policysearch` command run as a real process, as a user would."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from policysearch.records import KINDS
from conftest import CORPUS, FIVE_RINGS, SIX_POINTS


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "policysearch", *args], cwd=cwd, capture_output=True, text=True, timeout=300,
    )


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder laid out like a checkout: corpus/ and no index yet."""
    root = tmp_path_factory.mktemp("work")
    shutil.copytree(CORPUS, root / "corpus")
    return root


def test_first_search_builds_the_default_index_then_reuses_it(workdir: Path) -> None:
    first = run("search", "什么是五环工作格局", "--json", "-k", "3", cwd=workdir)
    assert first.returncode == 0, first.stderr
    assert "first use" in first.stderr
    hits = json.loads(first.stdout)
    texts = [h["text"] for h in hits]
    assert any(FIVE_RINGS in t for t in texts) and any(SIX_POINTS in t for t in texts)
    assert {"rank", "score", "title", "date", "source", "path", "start", "end", "highlights"} <= set(hits[0])
    again = run("search", "什么是五环工作格局", "--json", "-k", "3", cwd=workdir)
    assert "first use" not in again.stderr and json.loads(again.stdout) == hits


def test_plain_output_when_piped(workdir: Path) -> None:
    out = run("search", "调研月", "-k", "1", cwd=workdir)
    assert out.returncode == 0
    assert out.stdout.startswith("[1] ") and "\033[" not in out.stdout
    assert "烟台市关工委召开主任办公会扩大会议  2021-06-09  烟台市关工委" in out.stdout
    assert "市关工委拟于10月启动调研月活动" in out.stdout


def test_index_command_on_given_paths(workdir: Path, tmp_path: Path) -> None:
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "plan.txt").write_text("关于开展“五老”进校园活动的工作方案。", encoding="gbk")
    out = run("index", str(tmp_path / "docs"), "--index", str(tmp_path / "idx"), cwd=workdir)
    assert out.returncode == 0 and "indexed 1 document," in out.stderr
    found = run("search", "五老进校园", "--index", str(tmp_path / "idx"), "--json", cwd=workdir)
    assert json.loads(found.stdout)[0]["doc_id"] == "plan.txt"


def test_search_filters_by_source_and_date(workdir: Path) -> None:
    kept = run("search", "五环工作格局", "--source", "关工委", "--from", "2021-06", "--to", "2021", "--json", cwd=workdir)
    assert kept.returncode == 0 and json.loads(kept.stdout)
    none = run("search", "五环工作格局", "--from", "2022", cwd=workdir)
    assert none.returncode == 0 and none.stdout == "" and "no passage matches the query" in none.stderr
    bad = run("ask", "五环工作格局", "--to", "June", cwd=workdir)
    assert bad.returncode == 1 and bad.stderr.startswith("policysearch: error: --to 'June' is not a date; write YYYY, YYYY-MM")
    chinese = run("search", "五环工作格局", "--from", "2021年6月1日", "--to", "2021/06/30", "--json", cwd=workdir)
    assert chinese.returncode == 0 and json.loads(chinese.stdout)
    for flag, value in [("--from", "2021-13"), ("--to", "2021-02-30"), ("--from", "٢٠٢١")]:
        out = run("search", "五环工作格局", flag, value, cwd=workdir)
        assert out.returncode == 1 and out.stderr.startswith(f"policysearch: error: {flag} '{value}' is not a date")
    kind = run("search", "五环工作格局", "--kind", "key", cwd=workdir)
    assert kind.returncode == 1 and kind.stderr.strip() == (
        f"policysearch: error: kind 'key' is not a file type of the index; use one of {', '.join(KINDS)}")
    assert {"docx", "pdf", "ofd", "xlsx", "png", "pptx"} <= set(KINDS)


def test_version(workdir: Path) -> None:
    from policysearch import __version__

    out = run("--version", cwd=workdir)
    assert out.returncode == 0 and out.stdout.strip() == f"policysearch {__version__}"


def test_output_into_a_closed_pipe_ends_quietly(workdir: Path) -> None:
    assert run("search", "关工委", cwd=workdir).returncode == 0  # the index exists before the pipe test
    out = subprocess.run(f"{sys.executable} -m policysearch search 关工委 -k 20 | head -1", shell=True, cwd=workdir,
                         capture_output=True, text=True, timeout=300, executable="/bin/bash")
    assert out.stdout.startswith("[1] ") and out.stderr == ""


def test_escape_sequences_in_documents_never_reach_the_terminal(tmp_path: Path) -> None:
    (tmp_path / "docs").mkdir()
    evil = ("恶意\x1b]0;标题\x07通知\n\x1b[2J\x1b]52;c;ZXZpbA==\x07关于五老进校园活动的通知。\x9b31m隐藏文字\n"
            + "各区市关工委要认真贯彻落实会议精神。" * 30)
    (tmp_path / "docs" / "evil\x1b[31m.txt").write_text(evil, encoding="utf-8")
    assert run("index", "docs", "--index", "idx", "--no-dense", cwd=tmp_path).returncode == 0
    for command in ("search", "ask"):
        out = run(command, "五老进校园活动", "--index", "idx", cwd=tmp_path)
        assert out.returncode == 0 and "五老进校园" in out.stdout
        for control in ("\x1b", "\x07", "\x9b"):
            assert control not in out.stdout and control not in out.stderr
        assert "\ufffd]52;c;ZXZpbA==" in out.stdout


def test_json_output_and_per_query_tables_carry_no_raw_controls(tmp_path: Path) -> None:
    """C1 controls (U+009B opens an escape sequence on many terminals) and bidirectional
    overrides are escaped in JSON, and a question id cannot retitle the terminal."""
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "a.txt").write_text("关于五老进校园\x9b2J活动的通知\u202e。各区市关工委要认真贯彻落实会议精神。",
                                            encoding="utf-8")
    assert run("index", "docs", "--index", "idx", "--no-dense", cwd=tmp_path).returncode == 0
    out = run("search", "五老进校园活动", "--index", "idx", "--json", cwd=tmp_path)
    assert out.returncode == 0 and "\x9b" not in out.stdout and "\u202e" not in out.stdout
    assert "\\u009b" in out.stdout and "\u009b2J" in json.loads(out.stdout)[0]["text"]  # the text itself is kept
    (tmp_path / "q.jsonl").write_text(json.dumps({"qid": "\x1b]0;owned\x07", "query": "五老进校园", "relevant_ids": ["a.txt"]})
                                      + "\n", encoding="utf-8")
    table = run("eval", "q.jsonl", "--index", "idx", "--per-query", "--mode", "bm25", cwd=tmp_path)
    assert table.returncode == 0 and "\x1b" not in table.stdout and "\x07" not in table.stdout, table.stderr


@pytest.mark.parametrize(
    ("setup", "args", "message"),
    [
        (None, ["index", "missing_folder"], "missing_folder: no such file or folder"),
        ("empty.txt", ["index", "bad/empty.txt"], "empty.txt: the file is empty"),
        ("binary.txt", ["index", "bad/binary.txt"], "binary.txt: looks like a binary file"),
        ("slides.key", ["index", "bad/slides.key"], "slides.key: unsupported file type"),
        (None, ["search", ""], "the query is empty"),
        (None, ["search", "五环", "--index", "no_such_index"], "no_such_index: no index here"),
        (None, ["serve", "--index", "no_such_index"], "no_such_index: no index here"),
    ],
)
def test_user_mistakes_give_one_line_and_no_index(tmp_path: Path, setup: str | None, args: list[str], message: str) -> None:
    (tmp_path / "bad").mkdir()
    if setup:
        content = bytes(range(256)) * 4 if setup == "binary.txt" else b"PK\x03\x04" if setup.endswith("key") else b""
        (tmp_path / "bad" / setup).write_bytes(content)
    out = run(*args, "--index", "idx", cwd=tmp_path) if args[0] == "index" else run(*args, cwd=tmp_path)
    assert out.returncode != 0
    assert out.stderr.count("\n") == 1 and message in out.stderr and "Traceback" not in out.stderr
    assert not (tmp_path / "idx" / "CURRENT").exists()
    assert not list(tmp_path.glob("idx/.tmp-*")) and not list(tmp_path.glob("idx/v-*"))


HEAVY = ("torch", "sentence_transformers", "transformers", "faiss", "onnxruntime", "fastapi", "uvicorn")


def test_a_bm25_only_install_indexes_and_searches_without_torch(tmp_path: Path) -> None:
    """The core package alone (no `dense`, no `server` extra): those packages cannot be imported here."""
    shutil.copytree(CORPUS, tmp_path / "corpus")
    without = ("import sys\n" + "".join(f"sys.modules[{name!r}] = None\n" for name in HEAVY) +
               "from policysearch.interfaces.cli import main\n"
               "status = main(sys.argv[1:])\n"
               f"assert not [m for m in sys.modules if m.split('.')[0] in {HEAVY!r} and sys.modules[m] is not None]\n"
               "sys.exit(status)\n")

    def run_without(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-c", without, *args], cwd=tmp_path, capture_output=True, text=True,
                              timeout=300)

    first = run_without("search", "什么是五环工作格局", "--json", "-k", "3")
    assert first.returncode == 0, first.stderr
    assert "building a BM25-only index" in first.stderr and "policysearch[dense]" in first.stderr
    assert any(FIVE_RINGS in hit["text"] for hit in json.loads(first.stdout))
    hybrid = run_without("search", "什么是五环工作格局", "--mode", "hybrid")
    assert hybrid.returncode == 1 and "has no dense vectors" in hybrid.stderr
    built = run_without("index", "corpus", "--index", "dense", "--model", "multilingual-e5-small")
    assert built.returncode == 1 and "pip install 'policysearch[dense]'" in built.stderr and "Traceback" not in built.stderr
    served = run_without("serve", "--port", "0")
    assert served.returncode == 1 and served.stderr.strip().endswith("pip install 'policysearch[server]'")


def test_a_hit_names_the_section_it_sits_in(tmp_path: Path) -> None:
    law = tmp_path / "laws" / "中华人民共和国示例保护法.txt"
    law.parent.mkdir()
    law.write_text("中华人民共和国示例保护法\n第二章 家庭保护\n第十六条 未成年人的父母应当履行抚养义务。\n"
                   "第三章 学校保护\n第二十五条 学校应当全面贯彻国家教育方针。\n", encoding="utf-8")
    assert run("index", "laws", "--no-dense", cwd=tmp_path).returncode == 0
    out = run("search", "父母应当履行抚养义务", "-k", "1", cwd=tmp_path)
    assert out.returncode == 0 and "第二章 家庭保护" in out.stdout and "第十六条" in out.stdout


def test_index_counts_the_files_it_skipped_and_docs_lists_what_it_indexed(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "方案.txt").write_text("关于开展“五老”进校园活动的工作方案。\n各校要安排专人负责。", encoding="utf-8")
    (docs / "汇报.key").write_bytes(b"PK\x03\x04 slides")
    (docs / "空白.txt").write_bytes(b"")
    out = run("index", "docs", "--no-dense", cwd=tmp_path)
    assert out.returncode == 0 and "indexed 1 document," in out.stderr
    assert "汇报.key: .key is not a supported type" in out.stderr and "空白.txt: the file is empty" in out.stderr
    assert out.stderr.rstrip().endswith("2 files skipped — see the warnings above")
    listed = run("docs", cwd=tmp_path)
    assert listed.returncode == 0 and listed.stdout.splitlines() == ["type\tpassages\tdate\ttitle\tsource\tid",
                                                                    "txt\t1\t-\t方案\t-\t方案.txt"]
    assert "1 documents in indexes/default" in listed.stderr
    entry = json.loads(run("docs", "--json", cwd=tmp_path).stdout)
    assert entry == {"id": "方案.txt", "kind": "txt", "title": "方案", "date": "", "source": "", "passages": 1}


def test_index_into_a_pipe_reports_progress_lines_and_the_time_of_each_stage(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                            capsys: pytest.CaptureFixture[str]) -> None:
    from policysearch.interfaces import cli

    docs = tmp_path / "docs"
    docs.mkdir()
    for n in range(1, 4):
        lines = [f"第{k}项：{n}号方案要求各区市关工委组织第{k}次家庭教育讲座，邀请{n + k}位五老志愿者参加。"
                 for k in range(1, 25)]
        (docs / f"方案{n}.txt").write_text("\n".join(lines), encoding="utf-8")
    monkeypatch.setattr(cli._Progress, "EVERY", 0.0)  # a line at every step instead of every few seconds
    assert cli.main(["index", str(docs), "--index", str(tmp_path / "idx"), "--precision", "fp32"]) == 0  # batches of 8
    err = capsys.readouterr().err
    assert "loading: 1/3 files" in err and "loading: 2/3 files, " in err and " files/s, about " in err
    assert "embedding: 8/" in err and "embedding: 16/" in err and " passages/s, about " in err and "left" in err
    assert "\r" not in err, "no bar redraws when stderr is not a terminal"
    last = err.rstrip().splitlines()[-1]
    assert last.startswith("took ") and all(f"{stage} " in last for stage in ("loading", "tokenising", "embedding", "writing"))
