"""What kind of answer a question asks for (a date, a number, a person, a definition…) and
where answers of that kind sit in a sentence: evidence for the answer ranker and the span `ask`
shows in bold. Patterns are general Chinese question and entity forms, not words of any corpus."""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache

KINDS = ("date", "number", "person", "place", "organisation", "work", "name", "definition", "list", "reason", "method")
TYPED = ("date", "number", "person", "place", "organisation", "work", "name")  # kinds a short span can answer

_DIGIT = "0-9０-９"
_HAN_NUMBER = "零〇一二两三四五六七八九十百千万亿"
_UNITS = ("个|名|位|次|种|项|年|岁|天|日|月|周|小时|分钟|秒|人|家|所|座|条|部|届|倍|股|件|篇|本|首|场|局|枚|块|"
          "元|美元|万|亿|千|百|米|公里|千米|厘米|毫米|平方米|平方公里|公顷|亩|吨|公斤|千克|克|度|层|集|章|节|"
          "册|卷|%|％|成|辆|架|艘|门|支|队|所|间|户|头|只|颗|份|轮|期|批|级|代|季|张|区|公分|公尺|英寸|英尺|英里|发|分|票|字")

_ASKS = {
    "date": re.compile(r"何时|什么时候|哪一?年|哪一?天|几月|几号|何年|年份|日期|什么时[间期]|时间是"
                       r"|哪个(?:月|朝代|时期|世纪|年代)|什么(?:年代|季节|朝代)|哪个季节|几点|何日"),
    "number": re.compile(rf"多少|(?<!哪)几(?:{_UNITS})|多[大高长重远深久宽厚]|第几|几成|百分之几|比例是"),
    "person": re.compile(r"谁|哪[位个]人|哪位|什么人|何人|哪些人|姓名|名字叫"),
    "place": re.compile(r"哪里|哪儿|何处|何地|在哪(?![一个些所家位部年天])|哪[个座]?(?:国家|城市|省|地区|地方|州|县|国|岛|城)"
                        r"|什么(?:地方|地区)|位于|哪国"),
    "organisation": re.compile(r"哪[些个家所支]?(?:单位|部门|公司|机构|组织|大学|学校|球队|俱乐部|队|团体|企业|银行)"
                               r"|什么(?:公司|机构|组织|部门|团体|学校|大学|单位)|哪家|哪所|哪支"),
    "work": re.compile(r"哪[部张首本篇]|什么(?:作品|电影|电视剧|书|歌曲?|专辑|诗集|游戏|小说|节目|杂志|报纸)"),
    "name": re.compile(r"叫什么|又[名称叫]|简称|全称|称为什么|誉为|号称|别[名称]|原名|本名|艺名|学名|英文名|代号|编号|名字是"),
    "definition": re.compile(r"什么是|是什么|指什么|是指|含义|定义|何为|何谓|意思"),
    "list": re.compile(r"哪些|有什么|包括什么|包含什么|有几"),
    "reason": re.compile(r"为什么|为何|原因|因为什么|什么目的|用来做什么|作用"),
    "method": re.compile(r"如何|怎么|怎样|什么方式|哪些措施|办法|方法|措施"),
}
_DATE = re.compile(rf"(?:公元前?)?[{_DIGIT}]{{1,4}}年(?:[{_DIGIT}]{{1,2}}月(?:[{_DIGIT}]{{1,2}}[日号])?)?"
                   rf"(?:[—\-至到~][{_DIGIT}]{{1,4}}年?)?"
                   rf"|[{_DIGIT}]{{1,2}}月(?:[{_DIGIT}]{{1,2}}[日号])?(?:[—\-至到~][{_DIGIT}]{{1,2}}[日号])?"
                   rf"|[{_HAN_NUMBER}]{{2,4}}年(?:[{_HAN_NUMBER}]{{1,3}}月)?(?:[{_HAN_NUMBER}]{{1,3}}日)?"
                   rf"|[{_HAN_NUMBER}{_DIGIT}]{{1,3}}世纪(?:[{_DIGIT}]0年代)?(?:[初中末]期?)?|[{_DIGIT}]{{2,4}}年代")
_NUMBER = re.compile(rf"第?[约近逾超过余]{{0,2}}(?:[{_DIGIT}]+(?:[.,．][{_DIGIT}]+)*|[{_HAN_NUMBER}]+)(?:多|余)?[万亿千百]*"
                     rf"(?:{_UNITS}|公尺|英尺|英里|\s?(?:km²|m²|km|cm|kg|m\b|g\b))")
_WORK = re.compile(r"《[^《》]{1,40}》")
_NAME = re.compile(r"(?:又名|又称|又叫|简称|全称|称为|称作|誉为|号称|别名|别称|原名|本名|艺名|学名|英文名|代号|编号|名为|叫做)"
                   r"(?:是|为|：|:)?\s*([「“\"《]?[^，。；、,;（(「“\"《」”》]{1,20}[」”\"》]?)")
_SHORT_FOR = re.compile(r"是什么的(?:简称|缩写)")
_FULL_NAME = re.compile(r"([^，。；、,;：:（(「“《》”」]{4,40}?)[（(，,]?\s*(?:简称|缩写|通称)")
_WORD = re.compile(r"[\w\u3400-\u9fff]")
_HOLDS = {
    "definition": re.compile(r"是指|指的是|即|是一[种个位座家所部支]|称为|简称|又称|又名|俗称|意思是|定义为|是由"),
    "list": re.compile(r"、.+、|包括|包含|分别|以及|等[。，,；;]"),
    "reason": re.compile(r"因为|由于|因此|所以|为了|原因|导致|以便|用于|用来|目的"),
    "method": re.compile(r"通过|采取|采用|坚持|加强|建立|做好|利用|实行|推进|落实|开展|要求"),
}
_ORG_END = re.compile(r"(?:委员会|委|公司|集团|大学|学院|学校|中学|小学|医院|银行|政府|部|局|厅|署|办|办公室|协会|学会|"
                      r"研究所|研究院|中心|组织|基金会|俱乐部|队|法院|检察院|议会|联盟|党|军|社|馆|所|站|处|科|组|会)$")
_ENDS = {"organisation": _ORG_END}
_VAGUE_TIME = re.compile(r"时期|时代|朝代|季节|年代|世纪|时间段|多久|多长时间")
_MEASURES = (  # what a measuring question asks for, and the units that can answer it
    (re.compile(r"多长时间|多久|时长|期限|有效期"), re.compile(r"(年|月|天|日|周|小时|分钟|秒)$")),
    (re.compile(r"多[长高远深宽厚]|长度|高度|距离|深度|宽度|海拔|身高|体长"),
     re.compile(r"(米|公里|千米|厘米|毫米|英尺|英里|公尺|m|km|cm)$", re.IGNORECASE)),
    (re.compile(r"多重|体重|重量|质量"), re.compile(r"(克|千克|公斤|吨|斤|磅|kg|g)$", re.IGNORECASE)),
    (re.compile(r"面积|多大的?(?:地方|面积|土地)"), re.compile(r"(平方米|平方公里|公顷|亩|km²|m²)$")),
    (re.compile(r"多少钱|价格|费用|金额|资金|投资"), re.compile(r"(元|美元|欧元|英镑|日元|港元|万|亿)$")),
)
_ASKED_UNIT = re.compile(rf"(?:多少|几)({_UNITS})")
_JOINER = re.compile(r"[、，,和及与]|以及")
_RANGE = re.compile(r"\s*(?:至|到|-|—|–|～|~)\s*")
_OF = re.compile(r"的?")  # 山东省烟台市, 泰国的曼谷: one place
_NAME_TAGS = {"person": ("nr",), "place": ("ns",), "organisation": ("nt",)}


def asks(question: str) -> set[str]:
    """The kinds of answer the question asks for (none for a plain topic query); 几月 asks
    for a date, not a number."""
    kinds = {kind for kind, pattern in _ASKS.items() if pattern.search(question)}
    return kinds - {"number"} if "date" in kinds else kinds


_HELD = (*_HOLDS.items(), ("date", _DATE), ("number", _NUMBER), ("work", _WORK), ("name", _NAME))  # kind, pattern


def holds(sentence: str, kinds: Iterable[str] = KINDS) -> set[str]:
    """Which of `kinds` (default: all) a sentence holds, by pattern and by jieba's part-of-speech
    tags; the tagger (most of the cost) runs only when a name kind is asked about."""
    wanted = set(kinds)
    found = {kind for kind, pattern in _HELD if kind in wanted and pattern.search(sentence)}
    return found | {kind for kind in _NAME_TAGS if kind in wanted and _named(sentence, kind, hmm=False)}


def answer_span(question: str, sentence: str) -> tuple[int, int] | None:
    """`[start, end)` in `sentence` of the phrase of the kind the question asks for that the
    question does not already say: with several, the one of the unit asked for, then the one
    nearest to the words the sentence shares with the question. None when the question asks for
    no such kind, when nothing fits, or when nothing tells several apart. For 哪些 questions,
    phrases joined by 、/和/及 count as one list; 100米至2,800米 is one range."""
    kinds = asks(question)
    wanted = [kind for kind in TYPED if kind in kinds]
    if len(wanted) > 1 and wanted[-1] in ("work", "name"):  # 哪部电影 asks for the title, not a number
        wanted = wanted[-1:]
    if len(wanted) != 1:
        return None
    kind, said = wanted[0], unspaced(question)
    if kind == "date" and _VAGUE_TIME.search(question) or kind == "person" and "谁的" in question:
        return None  # a period (什么时期) or a relation (谁的母亲) is not a date or a name
    if kind == "name" and _SHORT_FOR.search(question):  # 首钢是什么的简称: the full name, before 简称
        return next((m.span(1) for m in _FULL_NAME.finditer(sentence) if unspaced(m.group(1)) not in said), None)
    found = [(s, e) for s, e in typed_spans(sentence, kind) if unspaced(sentence[s:e]) not in said]
    found = _joined(sentence, found, _RANGE if kind in ("date", "number") else _OF if kind == "place" else None)
    if "list" in kinds:
        found = _joined(sentence, found, _JOINER)
    found = list({unspaced(sentence[s:e]): (s, e) for s, e in reversed(found)}.values())[::-1]  # the first of equal ones
    if kind == "number":
        found = _measured(question, sentence, found)
    if len(found) > 1:
        found = _nearest(question, sentence, found)
    return found[0] if len(found) == 1 else None


def _measured(question: str, sentence: str, spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Numbers that fit the question: ordinals for 第几, the unit of 多少分钟, a length for 多长."""
    if "第几" in question:
        return [(s, e) for s, e in spans if sentence[s - 1:s] == "第" or sentence[s:e].startswith("第")]
    unit = _ASKED_UNIT.search(question)
    if unit and len(spans) > 1:
        return [(s, e) for s, e in spans if sentence[s:e].endswith(unit.group(1))] or spans
    for asked, units in _MEASURES:
        if asked.search(question):
            if units is _MEASURES[0][1]:  # a duration may read like a date: 二十年, 1-3月
                spans = [m.span() for m in _NUMBER.finditer(sentence) if m.group() not in question]
            return [(s, e) for s, e in spans if units.search(sentence[s:e])]
    return spans


def _nearest(question: str, sentence: str, spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """The span closest to where the sentence repeats the question (its two-character pieces),
    the first of equally close ones; all of them when the sentence repeats none."""
    pieces = {question[i:i + 2] for i in range(len(question) - 1)}
    anchors = [i for i in range(len(sentence) - 1) if sentence[i:i + 2] in pieces]
    if not anchors:
        return spans
    distance = [min(max(s - a - 2, a - e, 0) for a in anchors) for s, e in spans]
    best = min(distance)
    return [span for span, d in zip(spans, distance, strict=True) if d == best][:1]


def _joined(sentence: str, spans: list[tuple[int, int]], joiner: re.Pattern | None) -> list[tuple[int, int]]:
    """Spans with only `joiner` between them (a list's 、, a range's 至) merged into one."""
    out: list[tuple[int, int]] = []
    for start, end in spans:
        if out and joiner and joiner.fullmatch(sentence[out[-1][1]:start]):
            out[-1] = (out[-1][0], end)
        else:
            out.append((start, end))
    return out


def typed_spans(sentence: str, kind: str) -> list[tuple[int, int]]:
    """Spans of `kind` (one of `TYPED`) in `sentence`, left to right, none inside another."""
    if kind == "date":
        return [m.span() for m in _DATE.finditer(sentence)]
    if kind == "number":
        dates = [m.span() for m in _DATE.finditer(sentence)]
        return [m.span() for m in _NUMBER.finditer(sentence) if not any(s <= m.start() < e for s, e in dates)]
    if kind == "work":
        return [m.span() for m in _WORK.finditer(sentence)]
    if kind == "name":
        named = [m.span(1) for m in _NAME.finditer(sentence) if len(_WORD.findall(m.group(1))) > 1]
        return named or typed_spans(sentence, "work")  # 第一部诗集叫什么: the title in 《》
    return [(s, e) for s, e in _named(sentence, kind, hmm=True) if e - s > 1]


def _named(sentence: str, kind: str, hmm: bool) -> list[tuple[int, int]]:
    """Runs of words that jieba tags as names of `kind`; organisations also as a run of nouns
    ending in an organisation word (…委员会, …大学)."""
    spans: list[tuple[int, int]] = []
    nouns: list[tuple[int, int]] = []  # the run of nouns ending here
    ending = _ENDS.get(kind)
    for word, flag, start in _tagged(sentence, hmm):
        end = start + len(word)
        if flag.startswith(_NAME_TAGS[kind]):
            if spans and spans[-1][1] == start:
                spans[-1] = (spans[-1][0], end)
            else:
                spans.append((start, end))
        if ending:
            nouns = nouns + [(start, end)] if flag[:1] in "nj" else []
            if nouns and len(word) > 1 and ending.search(word):
                first = nouns[max(0, len(nouns) - 4)][0]
                spans = [(s, e) for s, e in spans if not first <= s < end] + [(first, end)]
                nouns = []
    return spans


def load_tagger() -> None:
    """Load jieba's dictionary and tagger now (about 1.4 s), as a server does when it starts,
    rather than in the first answer that marks a name."""
    _tagged("顾秀莲来烟台视察", True)


@lru_cache(maxsize=4096)
def _tagged(sentence: str, hmm: bool) -> tuple[tuple[str, str, int], ...]:
    """(word, part-of-speech flag, offset) for each word of the sentence: from rjieba without the
    HMM (the same name tags as jieba.posseg, without its 1.4 s dictionary load), from jieba.posseg
    with it (the two HMMs cut unknown words differently)."""
    if hmm:
        import jieba
        import jieba.posseg

        jieba.setLogLevel(60)
        pairs = [(pair.word, pair.flag) for pair in jieba.posseg.cut(sentence, HMM=True)]
    else:
        import rjieba

        pairs = rjieba.tag(sentence, False)
    words, offset = [], 0
    for word, flag in pairs:
        words.append((word, flag, offset))
        offset += len(word)
    return tuple(words)


def unspaced(text: str) -> str:
    """The text without whitespace, for comparing phrases across line breaks and spaces."""
    return re.sub(r"\s+", "", text)
