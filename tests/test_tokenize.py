"""Queries and passages share one token path, so the spellings users mix still match."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from policysearch.text.articles import cn_number
from policysearch.text.tokenize import Tokenizer, normalize, term_spans


@pytest.fixture(scope="module", params=["rjieba", "jieba"])
def tok(request: pytest.FixtureRequest) -> Tokenizer:
    return Tokenizer(request.param)


def test_full_width_and_case_are_folded(tok: Tokenizer) -> None:
    assert tok.tokens("ＡＢＣ市委３２号文件") == tok.tokens("abc市委32号文件")
    assert "32" in tok.tokens("市委32号文件")


@given(st.text(alphabet=st.sampled_from("，；（）：！？。、《》“”％－ＡＢａ１２３ABc市委第条号\u3000\u2009ﬁ①㍻e\u0301ｶﾞ")))
def test_normalize_is_nfkc_then_lower_case(text: str) -> None:
    assert normalize(text) == unicodedata.normalize("NFKC", text).lower()


def test_article_numbers_match_in_both_numeral_styles(tok: Tokenizer) -> None:
    assert "第12条" in tok.tokens("未成年人保护法第十二条")
    assert "第12条" in tok.tokens("未成年人保护法第12条的规定")
    assert "第105条之一" in tok.tokens("刑法第一百零五条之一")


def test_an_index_term_is_added_whole_beside_its_words(tok: Tokenizer) -> None:
    terms = Tokenizer(tok.segmenter, [tok.tokens("五环工作格局"), tok.tokens("党建带关建")])
    query = terms.tokens("什么是五环工作格局")
    assert "五环工作格局" in query and {"五环", "工作", "格局"} <= set(query)
    assert "党建带关建" in terms.tokens("进一步加大“党建带关建”工作力度")
    assert "五环工作格局" not in tok.tokens("什么是五环工作格局")  # nothing is shipped: the terms are the index's


def test_stopwords_and_punctuation_are_dropped(tok: Tokenizer) -> None:
    assert tok.tokens("什么是？！。，") == []
    assert tok.tokens("父母离婚后孩子归谁抚养") == ["父母", "离婚", "孩子", "抚养"]


def test_both_segmenters_agree_on_the_bundled_corpus() -> None:
    from conftest import CORPUS

    text = next(CORPUS.glob("*.txt")).read_text(encoding="utf-8")
    assert Tokenizer("rjieba").tokens(text) == Tokenizer("jieba").tokens(text)


def test_chinese_numerals() -> None:
    assert [cn_number(x) for x in ["十", "十二", "二十", "一百零五", "一千二百三十四", "两万零三", "7"]] == [
        10, 12, 20, 105, 1234, 20003, 7,
    ]


def test_term_spans_point_into_the_original_text() -> None:
    text = "市委３２号文件和“党建带关建”"
    spans = term_spans(text, ["32", "党建带关建"])
    assert [text[a:b] for a, b in spans] == ["３２", "党建带关建"]
    widened = "㈠加强①“党建带关建”ＡＢ"  # ㈠ → (一) and ① → 1 change the length under NFKC
    spans = term_spans(widened, ["党建带关建", "ab"])
    assert [widened[a:b] for a, b in spans] == ["党建带关建", "ＡＢ"]


def test_overlapping_terms_are_one_highlight_and_single_characters_none() -> None:
    text = "《未成年人保护法》保护未成年人"
    spans = term_spans(text, ["未成年人", "成年人保护", "法", "保护"])
    assert [text[a:b] for a, b in spans] == ["未成年人保护", "保护", "未成年人"]


def test_many_texts_on_all_cores_give_the_same_tokens() -> None:
    from conftest import CORPUS

    text = next(CORPUS.glob("*.txt")).read_text(encoding="utf-8")
    texts = [text[i:i + 300] for i in range(0, len(text), 300)] * 800
    assert sum(map(len, texts)) > 2_000_000
    tok = Tokenizer()
    assert tok.tokens_many(texts) == [tok.tokens(t) for t in texts]


def test_the_word_memo_stays_bounded_in_a_long_running_process() -> None:
    tok = Tokenizer()
    memo = tok._emit  # the memo is the thing under test: its size is the promise
    words = [f"词{i}号" for i in range(memo.limit + 5_000)]
    for start in range(0, len(words), 5_000):
        tok.tokens(" ".join(words[start:start + 5_000]))
    assert len(memo) <= memo.limit
    assert tok.tokens("五环工作格局 关工委") == Tokenizer().tokens("五环工作格局 关工委")
