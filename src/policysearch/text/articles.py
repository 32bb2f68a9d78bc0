"""Article numbers of laws and regulations (第十二条, 第12条, 第三十条之一): one pattern, the
Chinese numerals, and one canonical key, used by the chunker, the tokenizer, citations and eval."""

from __future__ import annotations

import re

NUMERALS = "零〇一二两三四五六七八九十百千万"
_NUMBER = rf"[{NUMERALS}\d]{{1,9}}"
_SUFFIX = "(之[一二三四五六七八九十]{1,3})?"
ARTICLE = re.compile(rf"第({_NUMBER})(条|章|节|编|款|项){_SUFFIX}")
"""An article, chapter, section, part, paragraph or item reference; groups: number, unit, 之N suffix."""
STRUCTURE_START = re.compile(rf"\s*第{_NUMBER}[条章节编]")
"""Text that opens a structural unit of a law (第N条/章/节/编): a passage starts there."""
ARTICLE_HEADING = re.compile(rf"(?:^|\n)[ \t　]*(第{_NUMBER}条{_SUFFIX})")
"""An article number at the start of a line: group 1 is the article a passage belongs to."""

_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
_UNITS = {"十": 10, "百": 100, "千": 1000, "万": 10000}


def cn_number(text: str) -> int:
    """Chinese or Arabic numeral to int: "十二" → 12, "一百零五" → 105, "20" → 20."""
    if text.isdigit():
        return int(text)
    total, section, digit = 0, 0, 0
    for ch in text:
        if ch in _DIGITS:
            digit = _DIGITS[ch]
        elif ch == "万":
            total += (section + digit) * 10000
            section, digit = 0, 0
        elif ch in _UNITS:
            section += (digit or 1) * _UNITS[ch]
            digit = 0
    return total + section + digit


def canonical(match: re.Match[str]) -> str:
    """第十二条 and 第12条 both become 第12条, so either spelling finds the other."""
    number, unit, suffix = match.group(1), match.group(2), match.group(3) or ""
    return f"第{cn_number(number)}{unit}{suffix}"


def article_key(text: str) -> str:
    """The canonical key of a text that is one article reference ("第十二条" → "第12条");
    other text is returned stripped, so a label that is no article still compares as written."""
    text = text.strip()
    match = ARTICLE.fullmatch(text)
    return canonical(match) if match else text
