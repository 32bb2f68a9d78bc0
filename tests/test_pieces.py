"""The fast query tokenizer and encoder give exactly what `tokenizers` and the full ONNX export give."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from policysearch.index.dense import OnnxEncoder, SentenceTransformerEmbedder
from policysearch.index.models import cache_dir, query_model
from policysearch.index.pieces import Unigram

from conftest import CORPUS, SHARED_DATA

tokenizers = pytest.importorskip("tokenizers")


@pytest.fixture(scope="module")
def model() -> SentenceTransformerEmbedder:
    return SentenceTransformerEmbedder(precision="fp32")


@pytest.fixture(scope="module")
def full(model: SentenceTransformerEmbedder):
    tokenizer = tokenizers.Tokenizer.from_file(str(model.folder / "tokenizer.json"))
    tokenizer.enable_truncation(512)
    tokenizer.no_padding()
    return tokenizer


@pytest.fixture(scope="module")
def fast(model: SentenceTransformerEmbedder, full, tmp_path_factory: pytest.TempPathFactory) -> Unigram:
    folder = tmp_path_factory.mktemp("pieces")
    assert Unigram.save(model.folder / "tokenizer.json", folder)
    return Unigram(folder, 512, lambda: full)


def real_texts() -> list[str]:
    text = next(CORPUS.glob("*.txt")).read_text(encoding="utf-8")
    texts = [line for line in text.splitlines() if line.strip()]
    db = SHARED_DATA / "lawsdb" / "laws.db"
    if db.exists():
        texts += [row[0] for row in sqlite3.connect(db).execute("SELECT article_text FROM articles WHERE id % 97 = 0")]
    return texts


def test_pieces_of_real_documents_equal_tokenizers(fast: Unigram, full) -> None:
    texts = real_texts() + ["", " ", "  两个  空格 ", "ＡＢＣ１２３　全角", "GDP增长5.2%，CPI上涨0.3%", "第一千零七十九条",
                            "😀①②𠀀 emoji", "<s>关工委</s><mask>", "\u0001\u0002控制符", "日本語のテキスト", "x" * 3000]
    assert fast.encode_batch(texts) == [e.ids for e in full.encode_batch(texts)]


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.one_of(st.characters(min_codepoint=0x4E00, max_codepoint=0x9FFF),
                                  st.characters(codec="utf-8")), max_size=80))
def test_pieces_of_any_text_equal_tokenizers(fast: Unigram, full, text: str) -> None:
    assert fast.encode_batch([text]) == [full.encode(text).ids]


def test_query_encoder_gives_the_full_exports_vectors(model: SentenceTransformerEmbedder) -> None:
    queries = ["query: 什么是五环工作格局", "query: 父母离婚后孩子归谁抚养", "query: <mask>是什么", "query: " + "关工委" * 400]
    quick = OnnxEncoder.open_form(model.folder, model.fingerprint)
    assert quick.table is not None  # the word embeddings are read from the memory-mapped table
    assert np.array_equal(quick.encode(queries), OnnxEncoder.open(model.folder).encode(queries))


def test_a_tokenizer_that_is_not_unigram_has_no_fast_form(tmp_path: Path) -> None:
    wordpiece = tokenizers.Tokenizer(tokenizers.models.WordPiece({"[UNK]": 0, "关": 1}, unk_token="[UNK]"))
    wordpiece.save(str(tmp_path / "tokenizer.json"))
    assert not Unigram.save(tmp_path / "tokenizer.json", tmp_path)
    assert not (tmp_path / "pieces.txt").exists()


def test_a_query_form_that_cannot_be_written_leaves_searches_on_the_full_model(model: SentenceTransformerEmbedder) -> None:
    (cache_dir() / "models").mkdir(parents=True, exist_ok=True)
    blocked = cache_dir() / "models" / "query-0000000000000000"
    blocked.write_text("not a folder", encoding="utf-8")  # something else where the form would go
    try:
        assert query_model(model.folder, "0000000000000000") is None
        quick = OnnxEncoder.open_form(model.folder, "0000000000000000")
        assert quick.table is None  # the full export, opened the slow way
        query = ["query: 五环工作格局"]
        assert np.array_equal(quick.encode(query), OnnxEncoder.open(model.folder).encode(query))
    finally:
        blocked.unlink()
