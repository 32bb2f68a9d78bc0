"""The façade: build, open, search the bundled corpus; a loaded index answers as the built one."""

from __future__ import annotations

import json
import subprocess
import sys
from itertools import pairwise
from pathlib import Path

import pytest

from policysearch import Document, Filters, IndexSettings, PolicySearch, PolicySearchError, SearchSettings
from policysearch.index.store import FORMAT_VERSION

from conftest import CORPUS, FIVE_RINGS, SIX_POINTS


def test_five_rings_question_finds_both_passages_in_top_3(corpus_index: PolicySearch) -> None:
    texts = [h.text for h in corpus_index.search("什么是五环工作格局", k=3)]
    assert any(FIVE_RINGS in t for t in texts) and any(SIX_POINTS in t for t in texts)


def test_hits_carry_a_checkable_citation(corpus_index: PolicySearch) -> None:
    hit = corpus_index.search("调研月活动计划几月启动", k=1)[0]
    assert "市关工委拟于10月启动调研月活动" in hit.text
    assert (hit.title, hit.date, hit.source) == ("烟台市关工委召开主任办公会扩大会议", "2021-06-09", "烟台市关工委")
    document = corpus_index.document(hit.doc_id)
    assert document.text[hit.start:hit.end] == hit.text
    assert Path(hit.path).read_text(encoding="utf-8")[hit.start:hit.end] == hit.text
    assert any(hit.text[a:b] == "调研" for a, b in hit.highlights)


def test_opened_index_returns_exactly_what_the_built_one_did(corpus_index: PolicySearch) -> None:
    reopened = PolicySearch.open(corpus_index.root)
    for query in ["什么是五环工作格局", "党建带关建", "顾秀莲 视察", "市委32号文件"]:
        assert reopened.search(query, k=5) == corpus_index.search(query, k=5)


def test_rebuilding_replaces_the_index_and_keeps_one_previous_version(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("关于开展家庭教育宣传周活动的通知。", encoding="utf-8")
    PolicySearch.build([tmp_path / "a.txt"], tmp_path / "idx")
    (tmp_path / "b.txt").write_text("关于开展法治宣传进校园活动的通知。", encoding="utf-8")
    engine = PolicySearch.build([tmp_path / "b.txt"], tmp_path / "idx")
    assert [h.doc_id for h in engine.search("法治宣传")] == ["b.txt"]
    assert engine.search("家庭教育", mode="bm25") == []
    assert {h.doc_id for h in engine.search("家庭教育宣传周")} == {"b.txt"}
    assert len(list((tmp_path / "idx").glob("v-*"))) == 2
    assert not list((tmp_path / "idx").glob(".tmp-*"))


def test_empty_query_and_missing_index_are_clear_errors(corpus_index: PolicySearch, tmp_path: Path) -> None:
    with pytest.raises(PolicySearchError, match="query is empty"):
        corpus_index.search("   ")
    with pytest.raises(PolicySearchError, match="no index here"):
        PolicySearch.open(tmp_path / "nothing")


def test_truncated_index_file_is_refused(tmp_path: Path) -> None:
    engine = PolicySearch.build([CORPUS], tmp_path / "idx")
    weights = engine.folder / "bm25_weights.npy"
    weights.write_bytes(weights.read_bytes()[:-8])
    with pytest.raises(PolicySearchError, match="bm25_weights.npy is missing or truncated"):
        PolicySearch.open(tmp_path / "idx")


def test_verify_reports_an_intact_index(corpus_index: PolicySearch) -> None:
    out = subprocess.run([sys.executable, "-m", "policysearch", "verify", "--index", str(corpus_index.root)],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and "is intact" in out.stdout and "sizes and checksums match" in out.stdout


def test_edited_index_file_and_newer_format_are_refused(tmp_path: Path) -> None:
    engine = PolicySearch.build([CORPUS], tmp_path / "idx", IndexSettings(model=None))
    weights = engine.folder / "bm25_weights.npy"
    data = bytearray(weights.read_bytes())
    data[-1] ^= 0xFF
    weights.write_bytes(bytes(data))
    assert PolicySearch.open(tmp_path / "idx"), "opening checks sizes only; it never reads every byte"
    with pytest.raises(PolicySearchError, match="bm25_weights.npy has been changed or damaged; rebuild it with"):
        PolicySearch.open(tmp_path / "idx", verify=True)
    out = subprocess.run([sys.executable, "-m", "policysearch", "verify", "--index", str(tmp_path / "idx")],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 1 and "bm25_weights.npy has been changed or damaged" in out.stderr
    engine = PolicySearch.build([CORPUS], tmp_path / "idx2", IndexSettings(model=None))
    manifest = engine.folder / "manifest.json"
    manifest.write_text(manifest.read_text().replace(f'"format_version": {FORMAT_VERSION}', '"format_version": 99'))
    with pytest.raises(PolicySearchError, match=f"index format 99 is not format {FORMAT_VERSION} of this policysearch; rebuild"):
        PolicySearch.open(tmp_path / "idx2")


def _set(key: str, value: object):
    return lambda manifest: manifest | {key: value}


def _unlist(name: str):
    return lambda manifest: manifest | {"files": {k: v for k, v in manifest["files"].items() if k != name}}


@pytest.mark.parametrize("edit, words", [
    (lambda manifest: [manifest], "index format None is not format"),
    (_set("settings", None), "'settings' is not an object"),
    (_set("model", "x"), "'model' is not a model record"),
    (_set("chunks", "many"), "'chunks' or 'documents' is not a count"),
    (lambda m: m | {"settings": m["settings"] | {"index": m["settings"]["index"] | {"chunk_size": "big"}}},
         "settings.chunk_size is 'big'; expected int"),
        (lambda m: m | {"settings": m["settings"] | {"search": m["settings"]["search"] | {"fusion": "max"}}},
         "settings.fusion is 'max'; expected one of score, rrf"),
    (_unlist("bm25_weights.npy"), "it does not list bm25_weights.npy"),
    (_set("terms", [["五环", 5]]), "terms must be lists of words"),
    (_set("terms", 5), "the index manifest is damaged"),
])
def test_a_manifest_of_the_wrong_shape_is_refused_in_one_line(tmp_path: Path, edit, words: str) -> None:
    engine = PolicySearch.build([CORPUS], tmp_path / "idx", IndexSettings(model=None))
    path = engine.folder / "manifest.json"
    edited = edit(json.loads(path.read_text()))
    path.write_text(json.dumps(edited))
    if isinstance(edited, dict) and "bm25_weights.npy" not in edited["files"]:
        weights = engine.folder / "bm25_weights.npy"
        weights.write_bytes(weights.read_bytes()[:-8])  # unlisted, a truncated file would load and fail later
    with pytest.raises(PolicySearchError, match="rebuild it with") as refused:
        PolicySearch.open(tmp_path / "idx")
    assert words in str(refused.value)


def test_a_pointer_that_is_not_text_is_a_broken_pointer(tmp_path: Path) -> None:
    PolicySearch.build([CORPUS], tmp_path / "idx", IndexSettings(model=None))
    (tmp_path / "idx" / "CURRENT").write_bytes(b"v-\xff\xfe\n")
    with pytest.raises(PolicySearchError, match="the index pointer is broken; rebuild with"):
        PolicySearch.open(tmp_path / "idx")
    rebuilt = PolicySearch.build([CORPUS], tmp_path / "idx", IndexSettings(model=None))  # what the message says to do
    assert rebuilt.search("五环工作格局") and PolicySearch.open(tmp_path / "idx").search("五环工作格局")


def test_failed_build_leaves_the_previous_index(tmp_path: Path) -> None:
    PolicySearch.build([CORPUS], tmp_path / "idx")
    before = (tmp_path / "idx" / "CURRENT").read_text()
    (tmp_path / "empty.txt").write_text("")
    with pytest.raises(PolicySearchError):
        PolicySearch.build([tmp_path / "empty.txt"], tmp_path / "idx")
    assert (tmp_path / "idx" / "CURRENT").read_text() == before
    assert PolicySearch.open(tmp_path / "idx").search("五环工作格局")


@pytest.fixture(scope="module")
def dated_index(tmp_path_factory: pytest.TempPathFactory) -> PolicySearch:
    """Three notices from two sources and years, one of them Markdown; BM25 only."""
    folder = tmp_path_factory.mktemp("notices")
    notices = {
        "a.txt": "关于开展家庭教育宣传周的通知\n2021-05-10\n来源:烟台市关工委\n\n各区县关工委要组织家庭教育宣传活动。",
        "b.txt": "关于家庭教育指导服务的意见\n2023-03-01\n来源:山东省教育厅\n\n各地要建立家庭教育指导服务体系。",
        "c.md": "# 家庭教育工作总结\n2023-12-20\n来源:烟台市关工委\n\n全年开展家庭教育讲座十二场。",
    }
    for name, text in notices.items():
        (folder / name).write_text(text, encoding="utf-8")
    return PolicySearch.build([folder], tmp_path_factory.mktemp("idx") / "dated", IndexSettings(model=None))


@pytest.mark.parametrize("filters, expected", [
    (Filters(), {"a.txt", "b.txt", "c.md"}),
    (Filters(source="关工委"), {"a.txt", "c.md"}),
    (Filters(date_from="2023"), {"b.txt", "c.md"}),
    (Filters(date_to="2023-03"), {"a.txt", "b.txt"}),
    (Filters(date_from="2023-03-01", date_to="2023-03-01"), {"b.txt"}),
    (Filters(source="烟台", date_to="2022"), {"a.txt"}),
    (Filters(kind="md"), {"c.md"}),
    (Filters(source="教育部"), set()),
])
def test_filters_keep_only_matching_documents(dated_index: PolicySearch, filters: Filters, expected: set[str]) -> None:
    hits = dated_index.search("家庭教育", k=10, filters=filters)
    assert {h.doc_id for h in hits} == expected


def test_filters_apply_to_dense_and_hybrid_search_and_to_answers(corpus_index: PolicySearch) -> None:
    for mode in ("dense", "hybrid"):
        kept = corpus_index.search("什么是五环工作格局", k=3, mode=mode, filters=Filters(source="烟台市关工委"))
        every = corpus_index.search("什么是五环工作格局", k=3, mode=mode)
        assert [(h.start, h.end) for h in kept] == [(h.start, h.end) for h in every]
        assert [h.score for h in kept] == pytest.approx([h.score for h in every], abs=1e-5)
        assert corpus_index.search("什么是五环工作格局", mode=mode, filters=Filters(date_from="2022")) == []
    answer = corpus_index.ask("什么是五环工作格局", filters=Filters(date_to="2020"))
    assert not answer.answered and answer.passages == []


@pytest.mark.parametrize("value", ["2021-13", "2021-02-30", "2021年13月", "٢٠٢١", "2021x", "21-06-01"])
def test_a_filter_that_is_not_a_date_is_a_clear_error(value: str) -> None:
    with pytest.raises(PolicySearchError, match=f"date_from '{value}' is not a date; write YYYY"):
        Filters(date_from=value)


@pytest.mark.parametrize("value, iso", [("2023/03/01", "2023-03-01"), ("20230301", "2023-03-01"),
                                        ("2023年3月1日", "2023-03-01"), ("２０２３－０３", "2023-03"), ("2023年", "2023")])
def test_dates_are_read_in_the_forms_chinese_offices_write_them(dated_index: PolicySearch, value: str, iso: str) -> None:
    assert Filters(date_from=value).date_from == iso
    assert {h.doc_id for h in dated_index.search("家庭教育", k=10, filters=Filters(date_from=value))} == {"b.txt", "c.md"}


def test_an_unknown_kind_is_an_error_listing_the_kinds() -> None:
    with pytest.raises(PolicySearchError, match="kind 'key' is not a file type of the index; use one of bmp, csv, doc, docx, "):
        Filters(kind="key")


def test_no_two_hits_of_one_document_overlap(corpus_index: PolicySearch) -> None:
    for query in ["什么是五环工作格局", "关工委", "调研月活动计划几月启动", "六个坚持"]:
        for mode in ("bm25", "dense", "hybrid"):
            hits = corpus_index.search(query, k=10, mode=mode)
            assert hits
            spans = sorted((h.start, h.end) for h in hits)
            assert all(a_end <= b_start for (_, a_end), (b_start, _) in pairwise(spans)), (query, mode, spans)
            assert [h.rank for h in hits] == list(range(1, len(hits) + 1))
            for hit in hits:  # a merged hit is still the document's own text at its offsets
                assert corpus_index.document(hit.doc_id).text[hit.start:hit.end] == hit.text
                assert len(hit.text) <= 2 * corpus_index.settings.chunk_max
    five = corpus_index.search("什么是五环工作格局", k=3, mode="bm25")
    assert sum(FIVE_RINGS in h.text for h in five) == 1, "the key sentence is shown once"


def test_a_cited_law_missing_from_the_index_is_named_not_passed_over(corpus_index: PolicySearch) -> None:
    assert "no document named 印花税法 is in this index" in corpus_index.notice("印花税法第一条的内容是什么")
    answer = corpus_index.ask("印花税法第一条的内容是什么")
    assert not answer.answered and "印花税法" in answer.message
    assert corpus_index.notice("什么是五环工作格局") == ""


def test_text_beyond_the_basic_plane_comes_back_exactly_with_its_offsets(tmp_path: Path) -> None:
    texts = {"𠀀家.txt": "第一条 𠀀𠀁姓氏的居民😀办理户籍登记。\n第二条 户籍登记由公安机关办理，e\u0301 ｆｉ 不变。",
             "b.txt": "关于开展家庭教育宣传周活动的通知。" * 40}
    documents = [Document(id=name, text=text, title=name[:-4]) for name, text in texts.items()]
    engine = PolicySearch.build_documents(documents, tmp_path / "idx", IndexSettings(model=None))
    hits = engine.search("户籍登记", k=5, mode="bm25")
    assert {h.doc_id for h in hits} == {"𠀀家.txt"} and hits[0].title == "𠀀家"
    for hit in hits:
        assert texts[hit.doc_id][hit.start:hit.end] == hit.text
        assert hit.highlights and all(hit.text[a:b] in "户籍登记" for a, b in hit.highlights)
    assert [engine.document(name).text for name in texts] == list(texts.values())


def test_an_engine_closes_its_files_and_searches_many_queries(tmp_path: Path) -> None:
    with PolicySearch.build([CORPUS], tmp_path / "idx", IndexSettings(model=None)) as engine:
        queries = ["什么是五环工作格局", "调研月活动计划几月启动"]
        assert engine.search_many(queries, k=3) == [engine.search(q, k=3) for q in queries]
    with pytest.raises(PolicySearchError, match="this engine was closed; open the index again"):
        engine.search("五环工作格局")


def test_query_time_settings_change_without_a_rebuild_and_stay_after_an_update(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.txt").write_text("关于开展家庭教育宣传周活动的通知。", encoding="utf-8")
    built = PolicySearch.build([docs], tmp_path / "idx", search=SearchSettings(fusion="rrf"))
    assert PolicySearch.open(tmp_path / "idx").search_settings == SearchSettings(fusion="rrf"), "saved with the index"
    engine = PolicySearch.open(tmp_path / "idx", search=SearchSettings(mode="bm25"))
    assert engine.search("家庭教育", k=3) == engine.search("家庭教育", k=3, mode="bm25")
    (docs / "b.txt").write_text("关于开展法治宣传进校园活动的通知。", encoding="utf-8")
    built.update([docs])
    assert engine.refresh() and engine.search_settings.mode == "bm25"
    assert [h.doc_id for h in engine.search("法治宣传", k=1)] == ["b.txt"]
    assert PolicySearch.open(tmp_path / "idx").search_settings == SearchSettings(fusion="rrf"), "an update keeps them"


def test_a_hit_on_part_of_a_split_article_shows_the_whole_article_with_its_heading(tmp_path: Path) -> None:
    law = tmp_path / "中华人民共和国示例保护法.txt"
    long = "监护人应当为未成年人提供生活、健康、安全等方面的保障，关注未成年人的生理、心理状况和情感需求。" * 5
    law.write_text(f"中华人民共和国示例保护法\n第二章 家庭保护\n第十六条 {long}\n{long}\n未成年人的父母应当履行抚养义务。\n"
                   "第三章 学校保护\n第二十五条 学校应当全面贯彻国家教育方针。\n", encoding="utf-8")
    engine = PolicySearch.build([law], tmp_path / "idx", IndexSettings(model=None, chunk_size=120, chunk_max=200),
                                SearchSettings(article_max=1000))
    first = engine.search("父母应当履行抚养义务", k=3)[0]
    article = engine.document(first.doc_id).text.split("\n")[2:5]
    assert first.text == "\n".join(article) and first.article == "第十六条" and first.section == "第二章 家庭保护"
    assert [h.article for h in engine.search("父母应当履行抚养义务", k=3)].count("第十六条") == 1, "shown once"
    engine.search_settings = SearchSettings(article_max=0)
    assert engine.search("父母应当履行抚养义务", k=1)[0].text.endswith("未成年人的父母应当履行抚养义务。")
    assert len(engine.search("父母应当履行抚养义务", k=1)[0].text) <= 200


@pytest.fixture(scope="module")
def bm25_index(tmp_path_factory: pytest.TempPathFactory) -> PolicySearch:
    return PolicySearch.build([CORPUS], tmp_path_factory.mktemp("idx") / "bm25", IndexSettings(model=None))


@pytest.mark.parametrize("call, words", [
    (lambda e: e.search("五环", k="5"), "k must be a whole number"),
    (lambda e: e.search("五环", k=5.5), "k must be a whole number"),
    (lambda e: e.search("五环", k=None), "k must be a whole number"),
    (lambda e: e.search("五环", k=True), "k must be a whole number"),
    (lambda e: e.ask("五环", k="3"), "k for ask must be 1 to"),
    (lambda e: e.search("五环", filters={"source": "关工委"}), "filters must be a Filters"),
    (lambda e: e.search_many("政府"), "queries must be a list"),
    (lambda e: Filters(date_from=None), "Filters.date_from is None"),
    (lambda e: Filters(kind=None), "Filters.kind is None"),
    (lambda e: Filters(date_from=2021), "Filters.date_from is 2021"),
    (lambda e: PolicySearch.open(None), "index_dir must be a folder path"),
    (lambda e: PolicySearch.build("docs", "unused"), r"paths must be a list of files or folders, not one str; write \['docs'\]"),
    (lambda e: e.remove("a.txt"), "ids_or_paths must be a list"),
    (lambda e: PolicySearch.build([CORPUS], "unused", settings={"model": None}), "settings must be IndexSettings"),
])
def test_a_wrong_argument_is_one_error_naming_it(bm25_index: PolicySearch, call, words: str) -> None:
    with pytest.raises(PolicySearchError, match=words):
        call(bm25_index)
    assert not Path("unused").exists()


def test_a_closed_engine_says_so_for_every_read(tmp_path: Path) -> None:
    engine = PolicySearch.build([CORPUS], tmp_path / "idx", IndexSettings(model=None))
    doc_id = engine.document_ids()[0]
    engine.close()
    for call in (lambda: engine.document(doc_id), engine.count, engine.document_ids, engine.list_documents,
                 lambda: engine.notice("五环")):
        with pytest.raises(PolicySearchError, match="this engine was closed"):
            call()


def test_a_query_of_nothing_readable_gets_a_notice_not_an_error(bm25_index: PolicySearch) -> None:
    assert "empty" in bm25_index.notice("\ud800\udcff")


def test_symbolic_links_inside_an_index_are_refused(tmp_path: Path) -> None:
    import shutil

    engine = PolicySearch.build([CORPUS], tmp_path / "idx", IndexSettings(model=None))
    folder = engine.folder
    engine.close()
    passages = folder / "passages.sqlite"
    outside = tmp_path / "elsewhere.sqlite"
    shutil.move(passages, outside)
    passages.symlink_to(outside)
    with pytest.raises(PolicySearchError, match="passages.sqlite is a symbolic link"):
        PolicySearch.open(tmp_path / "idx")
    out = subprocess.run([sys.executable, "-m", "policysearch", "verify", "--index", str(tmp_path / "idx")],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 1 and "symbolic link" in out.stderr
    passages.unlink()
    shutil.move(outside, passages)
    moved = tmp_path / "version-elsewhere"
    shutil.move(folder, moved)
    folder.symlink_to(moved, target_is_directory=True)
    with pytest.raises(PolicySearchError, match="version folder is a symbolic link"):
        PolicySearch.open(tmp_path / "idx")


def test_passages_of_another_version_are_refused_at_open(tmp_path: Path) -> None:
    small = PolicySearch.build([CORPUS], tmp_path / "small", IndexSettings(model=None))
    (tmp_path / "two").mkdir()
    for name in ("a", "b"):
        (tmp_path / "two" / f"{name}.txt").write_text(f"{name}：关于开展五老进校园活动的通知。" * 3, encoding="utf-8")
    other = PolicySearch.build([tmp_path / "two"], tmp_path / "other", IndexSettings(model=None))
    target, source = small.folder / "passages.sqlite", other.folder / "passages.sqlite"
    small.close(), other.close()
    manifest = json.loads((small.folder / "manifest.json").read_text(encoding="utf-8"))
    target.write_bytes(source.read_bytes())
    manifest["files"]["passages.sqlite"]["size"] = target.stat().st_size  # sizes agree: only the counts tell
    (small.folder / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    with pytest.raises(PolicySearchError, match="passages.sqlite do not match the manifest's 1 documents"):
        PolicySearch.open(tmp_path / "small")


def test_the_same_model_in_another_folder_opens_the_index(corpus_index: PolicySearch, tmp_path: Path) -> None:
    from policysearch.index.models import default_model_dir

    copy = tmp_path / "e5-copy"
    for file in default_model_dir().rglob("*"):
        if file.is_file():
            (copy / file.relative_to(default_model_dir())).parent.mkdir(parents=True, exist_ok=True)
            (copy / file.relative_to(default_model_dir())).symlink_to(file)
    assert PolicySearch.open(corpus_index.root, model=str(copy)).search("五环工作格局", k=1)
    with pytest.raises(PolicySearchError, match="was built with model"):
        PolicySearch.open(corpus_index.root, model=str(tmp_path))  # not a model folder at all
