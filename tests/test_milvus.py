"""The Milvus backend against Milvus Lite (a file), or a real cluster when MILVUS_URI is set:
the same hits as the local index, filters, updates, and reopening in another process."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import urllib.parse
from pathlib import Path

import pytest

from conftest import CORPUS, FIVE_RINGS, SIX_POINTS
from policysearch import Filters, PolicySearch, PolicySearchError, IndexSettings

pytest.importorskip("pymilvus", reason="the Milvus tests need the test extras (pymilvus, milvus-lite)")

QUESTIONS = ["什么是五环工作格局", "中国关工委主任是哪天来烟台视察的", "调研月活动计划几月启动", "接待工作的档案资料如何整理",
             "工作汇报会上听取了哪些单位的汇报", "党建带关建", "视察期间哪些市领导陪同", "上级领导来视察后下一步怎么落实"]


def uri_for(tmp: Path) -> str:
    return os.environ.get("MILVUS_URI") or str(tmp / "milvus.db")


@pytest.fixture(scope="module")
def milvus_index(tmp_path_factory: pytest.TempPathFactory) -> PolicySearch:
    folder = tmp_path_factory.mktemp("milvus")
    return PolicySearch.build([CORPUS], folder / "idx", IndexSettings(backend="milvus", milvus_uri=uri_for(folder)))


@pytest.mark.parametrize("mode", ["bm25", "dense", "hybrid"])
def test_five_rings_in_the_top_3_in_every_mode(milvus_index: PolicySearch, mode: str) -> None:
    texts = [h.text for h in milvus_index.search("什么是五环工作格局", k=3, mode=mode)]
    assert any(FIVE_RINGS in t for t in texts) and any(SIX_POINTS in t for t in texts)


@pytest.mark.parametrize("mode, least", [("bm25", 1.0), ("dense", 1.0), ("hybrid", 0.9)])
def test_top_10_agrees_with_the_local_index(milvus_index: PolicySearch, corpus_index: PolicySearch, mode: str,
                                            least: float) -> None:
    shares = []
    for question in QUESTIONS:
        here = {(h.doc_id, h.start) for h in corpus_index.search(question, k=10, mode=mode)}
        there = {(h.doc_id, h.start) for h in milvus_index.search(question, k=10, mode=mode)}
        shares.append(len(here & there) / max(len(here), len(there), 1))
    assert sum(shares) / len(shares) >= least


def test_bm25_scores_equal_the_local_ones(milvus_index: PolicySearch, corpus_index: PolicySearch) -> None:
    here = corpus_index.search("五环工作格局 六个坚持", k=5, mode="bm25")
    there = milvus_index.search("五环工作格局 六个坚持", k=5, mode="bm25")
    assert [(h.start, round(h.score, 4)) for h in here] == [(h.start, round(h.score, 4)) for h in there]


def test_filters_and_answers_work_through_milvus(milvus_index: PolicySearch) -> None:
    assert milvus_index.search("五环工作格局", mode="hybrid", filters=Filters(date_to="2020")) == []
    kept = milvus_index.search("五环工作格局", k=3, filters=Filters(source="关工委", date_from="2021-06", date_to="2021"))
    assert kept and {h.source for h in kept} == {"烟台市关工委"}
    answer = milvus_index.ask("调研月活动计划几月启动")
    assert answer.answered and "10月启动调研月活动" in answer.text


def test_updates_change_the_live_collection_and_each_reader_sees_one_whole_version(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    shutil.copytree(CORPUS, docs)
    engine = PolicySearch.build([docs], tmp_path / "idx",
                                IndexSettings(model=None, backend="milvus", milvus_uri=uri_for(tmp_path)))
    collection = engine.manifest["milvus"]["collection"]
    plan = docs / "plan.txt"
    plan.write_text("关于开展“五老”进校园活动的工作方案。\n五老进校园活动由市关工委组织。", encoding="utf-8")
    assert engine.update([docs]).added == ["plan.txt"]
    before = PolicySearch.open(tmp_path / "idx")  # a reader that stays on this version
    plan.write_text("关于开展家庭教育宣传周活动的通知。", encoding="utf-8")
    assert engine.update([docs]).updated == ["plan.txt"]
    assert engine.manifest["milvus"]["collection"] == collection and engine.manifest["milvus"]["version"] == 3
    assert [h.doc_id for h in engine.search("家庭教育宣传周", k=1)] == ["plan.txt"]
    assert all(h.doc_id != "plan.txt" for h in engine.search("五老进校园", k=5)), "the old passages are gone"
    assert before.search("五老进校园", k=1)[0].text.startswith("关于开展“五老”进校园活动"), "the older reader keeps its version"
    assert all(h.doc_id != "plan.txt" for h in before.search("家庭教育宣传周", k=5))
    assert before.document("plan.txt").text.startswith("关于开展“五老”")
    assert engine.document("plan.txt").text.startswith("关于开展家庭")
    engine.remove(["plan.txt"])
    local = PolicySearch.build([CORPUS], tmp_path / "local", IndexSettings(model=None))
    assert engine.count() == local.count() and engine.document_ids() == local.document_ids()
    health = engine.searcher.health()
    assert health["collection"] == collection and health["passages"] == local.count()[1]
    assert health["rows"] == health["passages"] + 1, "only the rows the previous version still reads are kept"


def test_a_killed_update_is_invisible_to_readers_and_undone_by_the_next_writer(tmp_path: Path) -> None:
    from policysearch.reading.loaders import load
    from policysearch.records import Chunk

    docs = tmp_path / "docs"
    shutil.copytree(CORPUS, docs)
    engine = PolicySearch.build([docs], tmp_path / "idx",
                                IndexSettings(model=None, backend="milvus", milvus_uri=uri_for(tmp_path)))
    expected = [(h.doc_id, h.start) for h in engine.search("五环工作格局", k=5)]
    milvus = engine.searcher.milvus
    report = load([docs])[0]
    stray = Chunk(report.id, 0, 0, 10, report.text[:10])  # what a writer killed before publishing leaves:
    milvus.store.insert([report], [stray], [10_000], {report.id: 9}, [{0: 1.0}], None, 2)  # a new row,
    milvus.store.retire([report.id], 2)  # and the report's rows hidden from the next version
    assert [(h.doc_id, h.start) for h in engine.search("五环工作格局", k=5)] == expected
    (docs / "plan.txt").write_text("关于开展“五老”进校园活动的工作方案。", encoding="utf-8")
    assert engine.update([docs]).added == ["plan.txt"]
    assert [(h.doc_id, h.start) for h in engine.search("五环工作格局", k=5)] == expected
    assert engine.count()[0] == 2 and engine.searcher.health()["rows"] == engine.count()[1], "the stray rows are gone"


def test_a_dropped_connection_is_one_line_naming_the_server(tmp_path: Path) -> None:
    uri = uri_for(tmp_path)
    engine = PolicySearch.build([CORPUS], tmp_path / "idx", IndexSettings(model=None, backend="milvus", milvus_uri=uri))
    assert engine.search("五环工作格局", k=1)
    engine.searcher.milvus.store.client.close()  # the channel goes away under an open index
    with pytest.raises(PolicySearchError) as caught:
        engine.search("五环工作格局", k=1)
    message = str(caught.value)
    assert message.startswith(f"Milvus at {uri} failed on search (") and "\n" not in message
    assert message.endswith("check that the server is up and reachable, then run again")


def test_an_unreachable_server_is_one_line_from_the_cli(tmp_path: Path) -> None:
    import socket

    engine = PolicySearch.build([CORPUS], tmp_path / "idx",
                                IndexSettings(model=None, backend="milvus", milvus_uri=str(tmp_path / "milvus.db")))
    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]  # closed once the block ends: nothing listens there
    manifest = engine.folder / "manifest.json"
    manifest.write_text(manifest.read_text(encoding="utf-8").replace(json.dumps(str(tmp_path / "milvus.db")),
                                                                     json.dumps(f"http://127.0.0.1:{port}")), encoding="utf-8")
    engine.close()
    for command in (["search", "五环"], ["health"]):
        out = subprocess.run([sys.executable, "-m", "policysearch", *command, "--index", str(tmp_path / "idx")],
                             capture_output=True, text=True, timeout=300)
        assert out.returncode == 1 and len(out.stderr.strip().splitlines()) == 1, out.stderr
        assert out.stderr.startswith(f"policysearch: error: cannot reach Milvus at http://127.0.0.1:{port}: ")


def test_a_milvus_index_folder_holds_only_its_manifest_and_the_query_side_of_bm25(tmp_path: Path) -> None:
    from test_server import start_server
    from policysearch.index.store import MANIFEST, MILVUS_FILES, PREVIOUS

    docs = tmp_path / "docs"
    shutil.copytree(CORPUS, docs)
    law = docs / "中华人民共和国示例保护法.txt"
    long = "监护人应当为未成年人提供生活、健康、安全等方面的保障，关注未成年人的生理、心理状况和情感需求。" * 5
    law.write_text(f"中华人民共和国示例保护法\n第二章 家庭保护\n第十六条 {long}\n{long}\n未成年人的父母应当履行抚养义务。\n"
                   "第三章 学校保护\n第二十五条 学校应当全面贯彻国家教育方针。\n", encoding="utf-8")
    index = tmp_path / "idx"
    built = subprocess.run([sys.executable, "-m", "policysearch", "index", str(docs), "--index", str(index),
                            "--backend", "milvus", "--uri", uri_for(tmp_path)],
                           capture_output=True, text=True, timeout=600)  # another process: Milvus Lite is one process's
    assert built.returncode == 0, built.stderr
    folder = next(index.glob("v-*"))
    assert sorted(p.name for p in folder.iterdir()) == sorted([MANIFEST, PREVIOUS, *MILVUS_FILES])
    server = start_server(index)
    try:
        status, health = server.get("/api/health")
        assert status == 200 and health["backend"] == "milvus" and health["documents"] == 2
        assert health["rows"] == health["passages"] > 20 and health["server_version"] and health["collection"]
        for mode in ("bm25", "dense", "hybrid"):
            texts = [h["text"] for h in server.get("/api/search", q="什么是五环工作格局", k=3, mode=mode)[1]["hits"]]
            assert any(FIVE_RINGS in t for t in texts) and any(SIX_POINTS in t for t in texts), mode
        cited = server.get("/api/search", q="示例保护法第十六条规定了什么", k=3)[1]["hits"][0]
        assert cited["article"] == "第十六条" and cited["text"].endswith("未成年人的父母应当履行抚养义务。")
        status, document = server.get("/api/documents/" + urllib.parse.quote(cited["doc_id"]))
        assert status == 200 and document["text"] == law.read_text(encoding="utf-8").replace("\r\n", "\n")
        assert document["text"][cited["start"]:cited["end"]] == cited["text"]
    finally:
        server.process.terminate()
        server.process.wait(timeout=30)
    engine = PolicySearch.open(index)
    (docs / "plan.txt").write_text("关于开展“五老”进校园活动的工作方案。", encoding="utf-8")
    assert engine.update([docs]).added == ["plan.txt"]
    assert sorted(p.name for p in engine.folder.iterdir()) == sorted([MANIFEST, PREVIOUS, *MILVUS_FILES])
    assert [h.doc_id for h in engine.search("五老进校园活动的方案", k=1, mode="dense")] == ["plan.txt"]


def test_cli_indexes_into_milvus_and_searches_in_another_process(tmp_path: Path) -> None:
    shutil.copytree(CORPUS, tmp_path / "corpus")
    uri = os.environ.get("MILVUS_URI") or "./milvus.db"
    run = lambda *args: subprocess.run([sys.executable, "-m", "policysearch", *args], cwd=tmp_path,  # noqa: E731
                                       capture_output=True, text=True, timeout=600)
    built = run("index", "corpus", "--backend", "milvus", "--uri", uri, "--index", "indexes/milvus")
    assert built.returncode == 0, built.stderr
    found = run("search", "什么是五环工作格局", "--index", "indexes/milvus", "--json", "-k", "3")
    assert found.returncode == 0, found.stderr
    assert any(FIVE_RINGS in h["text"] for h in json.loads(found.stdout))
    manifest = json.loads(next((tmp_path / "indexes" / "milvus").glob("v-*/manifest.json")).read_text())
    assert manifest["settings"]["index"]["backend"] == "milvus"


def test_backend_without_uri_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(PolicySearchError, match="settings.milvus_uri is empty; the milvus backend needs"):
        PolicySearch.build([CORPUS], tmp_path / "idx", IndexSettings(model=None, backend="milvus"))


def test_a_passage_without_indexable_terms_is_stored_and_never_matches(tmp_path: Path) -> None:
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "a.txt").write_text("关于开展家庭教育宣传周的通知。", encoding="utf-8")
    (tmp_path / "docs" / "b.txt").write_text("……！！？？", encoding="utf-8")
    engine = PolicySearch.build([tmp_path / "docs"], tmp_path / "idx",
                                IndexSettings(model=None, backend="milvus", milvus_uri=uri_for(tmp_path)))
    assert [h.doc_id for h in engine.search("家庭教育", k=5)] == ["a.txt"]


def test_collections_left_by_killed_builds_are_swept_and_other_indexes_kept(tmp_path: Path) -> None:
    from policysearch.index.milvus import MilvusStore
    from policysearch.index.store import Store

    uri = uri_for(tmp_path)
    settings = IndexSettings(model=None, backend="milvus", milvus_uri=uri)
    engine = PolicySearch.build([CORPUS], tmp_path / "idx", settings)
    other = PolicySearch.build([CORPUS], tmp_path / "other", settings)
    prefix = f"policysearch_{Store(tmp_path / 'idx').identity()}_"
    for orphan in ("deadbeef0001", "deadbeef0002"):  # what a build killed after creating its collection leaves
        MilvusStore(uri, prefix + orphan).create(None)
    engine = PolicySearch.build([CORPUS], tmp_path / "idx", settings)
    names = set(engine.searcher.milvus.store.client.list_collections())
    assert not {n for n in names if n.endswith(("deadbeef0001", "deadbeef0002"))}
    assert other.manifest["milvus"]["collection"] in names and engine.manifest["milvus"]["collection"] in names
    assert engine.manifest["milvus"]["previous"] in names, "readers of the previous version keep it"


def test_wildcards_in_a_source_filter_are_literal_as_in_the_local_index(tmp_path: Path) -> None:
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "a.txt").write_text("通知\n2021-05-10\n来源:市关工委_办公室\n\n关于开展家庭教育宣传周的通知。",
                                             encoding="utf-8")
    (tmp_path / "docs" / "b.txt").write_text("意见\n2021-06-10\n来源:市教育局\n\n关于家庭教育指导服务的意见。", encoding="utf-8")
    local = PolicySearch.build([tmp_path / "docs"], tmp_path / "local", IndexSettings(model=None))
    remote = PolicySearch.build([tmp_path / "docs"], tmp_path / "remote",
                                IndexSettings(model=None, backend="milvus", milvus_uri=uri_for(tmp_path)))
    for source, expected in [("_", {"a.txt"}), ("%", set()), ("关工委_办", {"a.txt"}), ("市", {"a.txt", "b.txt"}), ("\\", set())]:
        for engine in (local, remote):
            found = {h.doc_id for h in engine.search("家庭教育", k=10, filters=Filters(source=source))}
            assert found == expected, (source, engine.settings.backend, found)


def test_a_document_number_filter_finds_the_same_official_document_on_both_backends(tmp_path: Path) -> None:
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "3号.txt").write_text("烟台市关心下一代工作委员会文件\n烟关工委发〔2021〕3号\n"
                                              "关于开展家庭教育宣传周活动的通知\n各区市关工委：\n"
                                              "定于5月15日开展家庭教育宣传周活动。", encoding="utf-8")
    (tmp_path / "docs" / "4号.txt").write_text("烟台市关心下一代工作委员会文件\n烟关工委发〔2021〕4号\n关于家庭教育讲座的通知\n"
                                              "各区市关工委：\n请组织家庭教育讲座。", encoding="utf-8")
    local = PolicySearch.build([tmp_path / "docs"], tmp_path / "local", IndexSettings(model=None))
    remote = PolicySearch.build([tmp_path / "docs"], tmp_path / "remote",
                                IndexSettings(model=None, backend="milvus", milvus_uri=uri_for(tmp_path)))
    for engine in (local, remote):
        hits = engine.search("家庭教育", k=10, filters=Filters(number="〔2021〕3号"))
        assert [(h.doc_id, h.number) for h in hits] == [("3号.txt", "烟关工委发〔2021〕3号")], engine.settings.backend


@pytest.mark.skipif(bool(os.environ.get("MILVUS_URI")), reason="about Milvus Lite's file lock")
def test_a_milvus_lite_file_held_by_a_server_is_named_as_the_cause(tmp_path: Path) -> None:
    import re
    import threading

    built = subprocess.run([sys.executable, "-m", "policysearch", "index", str(CORPUS), "--index", str(tmp_path / "idx"),
                            "--no-dense", "--backend", "milvus", "--uri", str(tmp_path / "milvus.db")],
                           capture_output=True, text=True, timeout=300)  # in another process: this one holds no lock
    assert built.returncode == 0, built.stderr
    serve = subprocess.Popen([sys.executable, "-m", "policysearch", "serve", "--index", str(tmp_path / "idx"),
                              "--port", "0"], stderr=subprocess.PIPE, text=True)
    try:
        assert re.search(r"http://\S+/", serve.stderr.readline())
        threading.Thread(target=serve.stderr.read, daemon=True).start()
        out = subprocess.run([sys.executable, "-m", "policysearch", "search", "五环", "--index", str(tmp_path / "idx")],
                             capture_output=True, text=True, timeout=300)
        assert out.returncode == 1 and "Traceback" not in out.stderr
        assert out.stderr.strip().splitlines() == [
            f"policysearch: error: the Milvus Lite file {tmp_path / 'milvus.db'} is in use by another process "
            "(a running `policysearch serve`?): Milvus Lite opens a file in one process at a time; stop that "
            "process, or use a Milvus server (--uri http://host:19530)"]
    finally:
        serve.terminate()
        serve.wait(timeout=30)


def test_dense_search_over_hundreds_of_law_passages_finds_what_exact_search_finds(tmp_path: Path, laws_db: Path) -> None:
    from policysearch.reading.corpora import laws_db as read_laws
    from policysearch.reading.loaders import load

    documents = load([CORPUS]) + read_laws(laws_db)[0][:6]  # about 600 passages
    local = PolicySearch.build_documents(documents, tmp_path / "local")
    question = "什么是五环工作格局"
    expected = [(h.doc_id, h.start) for h in local.search(question, k=10, mode="dense")]
    assert expected[0][0] == local.search(question, k=1, mode="bm25")[0].doc_id, "the report's passage is the best"
    engine = PolicySearch.build_documents(documents, tmp_path / "milvus", IndexSettings(backend="milvus",
                                                                                      milvus_uri=uri_for(tmp_path)))
    assert [(h.doc_id, h.start) for h in engine.search(question, k=10, mode="dense")] == expected  # exact below 200,000
