"""Pick the span that answers a question from the top passages — a sentence, a run of them, a
whole list, the body under a heading or question line, a spreadsheet row, or a short passage —
with its citation, a confidence in [0, 1] and, when the question asks for a date, number or
name, the answer in it.

Every answer unit of the retrieved passages (`units`) is a candidate with the cheap features in
`FEATURES`. Two logistic rankers shipped in `data/answer_ranker.json` (fitted by
`benchmarks/answers.py --fit`) score them: one on words and structure for every unit, one that
adds the dense cosine for the few best (encoding every unit would cost more than the rest of
`ask`). The best score, calibrated on held-out questions, is the confidence; below
`SearchSettings.answer_threshold` we say that nothing answers the question.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from difflib import SequenceMatcher
from functools import lru_cache
from importlib import resources
from typing import Any

import numpy as np

from ..text.articles import NUMERALS
from ..text.chunking import sentences
from ..records import Answer, Hit, Retrieval
from .spans import KINDS, TYPED, answer_span, asks, holds, unspaced

NO_ANSWER = "no passage in the corpus answers this"
UNIT_MAX = 300  # characters an answer may span, unless the question asks for a list or steps
LIST_MAX = 600  # characters a whole list or a heading's body may span when the question asks for one
RUN = 3  # sentences a run may add to its first
UNITS = ("sentence", "run", "list", "body", "row", "passage")
FEATURES = (
    "dense",          # cosine of the unit to the question (shortlisted units only)
    "dense_gap",      # that cosine minus the best shortlisted one's
    "overlap",        # share of the question's idf weight the unit holds
    "overlap_gap",    # that share minus the best candidate's
    "near_overlap",   # share of the question's idf weight in the sentences just before and after it
    "focus",          # share of the idf weight of the question's terms that are not in the title
    "focus_chars",    # share of the question's characters that are not in the title or a question word
    "local",          # like overlap, each term weighed down by how many sentences of its passage have it
    "pairs",          # share of the question's two-character pieces in the unit, the rarer among candidates the more
    "bm25",           # BM25 of the unit against the question, over the question's idf weight
    "common",         # longest common substring of one of its sentences with the question, over the question's length
    "novelty",        # share of the unit's characters the question does not have
    "rank",           # 1 / rank of its passage
    "passage",        # its passage's score over the top passage's
    "first",          # 1 for a unit that opens its passage
    "position",       # where it starts in its passage, 0 (start) to 1 (end)
    "length",         # log of its length in characters
    *(f"kind_{kind}" for kind in KINDS),  # the question asks for this kind and the unit holds it
    "kind_missing",   # the question asks for a date, number, name… and the unit holds none of those asked
    "sentences",      # log of how many sentences the unit spans
    *(f"unit_{unit}" for unit in UNITS[1:]),  # what kind of unit it is (a sentence when all are 0)
    "after_lead",     # share of the question's idf weight in the lead line just before the unit: a line that
                      # echoes the question points to the answer that follows it
    "section",        # share of the question's idf weight in the heading path of a passage the unit opens
    "coverage",       # share of its passage's characters the unit spans
    "section_whole",  # section × coverage: a passage under a heading that matches the question, taken whole
    "lead_whole",     # after_lead × coverage: what a matching lead line introduces, taken whole
    "items",          # log of one plus the list items the unit holds
    "wants_list",     # the question asks for a list or a method, and the unit is a list, a body or a row
    "typed_length",   # the question asks for a date, number or name: the unit's log length
    "list_length",    # the question asks for a list or a method: the unit's log length
    "list_sentences", # the question asks for a list or a method: the log of the sentences it spans
    "open_end",       # the unit stops after 「；」 or 「：」 with more text after it: a list or clause run cut off
    "open_start",     # the unit starts right after 「；」 or 「：」 in the same paragraph: it starts mid-run
)
DENSE = ("dense", "dense_gap")
SHORTLIST = 2  # units the dense ranker re-ranks: each costs one encoding
DENSE_CHARS = 24  # characters of a unit's opening that are encoded: the cost grows with the length (chosen on dev)
_HAN_OR_WORD = re.compile(r"[\w\u3400-\u9fff]")
_ASKING = set("什么哪些谁是的了吗呢几多少如何怎么怎样为何为啥请问有")  # characters of asking, not of the topic
_MARKERS = (  # list item and heading markers, each a family: items of one list share one
    ("shi", re.compile(rf"[{NUMERALS}]+是")),
    ("ordinal", re.compile(rf"第[{NUMERALS}]+[，,、：:]|首先|其次|再次|最后[，,]")),
    ("paren", re.compile(rf"[（(][{NUMERALS}]+[）)]")),
    ("paren_digit", re.compile(r"[（(]\d+[）)]")),
    ("dun", re.compile(rf"[{NUMERALS}]+、")),
    ("digit", re.compile(r"\d+[.、．](?!\d)")),
    ("circled", re.compile("[\u2460-\u2473\u2776-\u277f]")),
)
_HEADING_FAMILIES = ("paren", "paren_digit", "dun", "digit", "ordinal")
_LEAD_MAX = 40  # characters: a longer marked sentence is an item with its text, not a heading
_CELL = re.compile(r"[^；：:\n]{1,30}[：:][^；\n]*")


@dataclass
class Sentence:
    """One sentence of a passage and what its units are built from: `[start, end)` in the hit's
    text, its paragraph, the list or heading marker it opens with, and whether it is a lead line
    (a heading, a question, or an intro ending in 「：」)."""

    start: int
    end: int
    paragraph: int
    marker: str
    lead: bool


@dataclass
class Candidate:
    """One answer unit: sentences `first` to `last` of its passage (`sentences`, the hit's text
    parsed once and shared by all its units), of kind `unit` (one of `UNITS`); `lead` is the
    sentence before it when that one is a lead line."""

    hit: Hit
    sentences: list[Sentence]
    first: int
    last: int
    unit: str = "sentence"
    lead: int | None = None

    @property
    def start(self) -> int:
        return self.sentences[self.first].start

    @property
    def end(self) -> int:
        return self.sentences[self.last].end

    @property
    def count(self) -> int:
        return len(self.sentences)

    @property
    def text(self) -> str:
        return self.hit.text[self.start:self.end]


@dataclass
class Ranker:
    """A logistic model over named features (standardised by `mean` and `scale`) and its Platt
    calibration (`slope`, `intercept`) that turns the best score into a probability."""

    names: list[str]
    mean: list[float]
    scale: list[float]
    weights: list[float]
    bias: float
    slope: float = 1.0
    intercept: float = 0.0

    def scores(self, features: np.ndarray) -> np.ndarray:
        """Logit of each candidate (rows of `features`, columns in `FEATURES` order)."""
        columns = features[:, [FEATURES.index(name) for name in self.names]]
        return (columns - np.array(self.mean)) / np.array(self.scale) @ np.array(self.weights) + self.bias

    def confidence(self, score: float) -> float:
        """The calibrated probability that the candidate with this score holds the answer."""
        return 1.0 / (1.0 + math.exp(-(self.slope * score + self.intercept)))

    def to_dict(self) -> dict[str, Any]:
        return {"names": self.names, "mean": self.mean, "scale": self.scale, "weights": self.weights,
                "bias": self.bias, "slope": self.slope, "intercept": self.intercept}


@lru_cache(maxsize=1)
def shipped_rankers() -> dict[str, Ranker]:
    """The rankers in the package: `terms` scores every candidate, `dense` re-ranks the shortlist
    of an index with vectors."""
    data = json.loads(resources.files("policysearch").joinpath("data/answer_ranker.json").read_text(encoding="utf-8"))
    return {name: Ranker(**data["rankers"][name]) for name in ("dense", "terms")}


Tokens = Callable[[str], list[str]]
Encode = Callable[[Sequence[str]], np.ndarray]


def answer(found: Retrieval, tokens: Tokens, encode: Encode | None, threshold: float) -> Answer:
    """The answer to the retrieved question: the cited article when it names one, else the
    best-ranked unit, or no answer below `threshold`. `tokens` are BM25 terms of a text;
    `encode` (None without vectors) embeds texts as passages for the shortlist."""
    question, hits = found.question, found.hits
    if found.article is not None:
        return _article(question, found.article, hits)
    if found.notice:
        return Answer(question, False, "", 0.0, passages=hits, message=found.notice)
    options = units(question, hits)
    if not options:
        return Answer(question, False, "", 0.0, passages=hits, message=NO_ANSWER)
    vector = found.vector
    cosines = (lambda rows: encode([options[i].text[:DENSE_CHARS] for i in rows]) @ vector) \
        if encode is not None and vector is not None else None
    index, confidence = choose(features(found, tokens, options), shipped_rankers(), cosines)
    if confidence < threshold:
        return Answer(question, False, "", confidence, passages=hits, message=NO_ANSWER)
    best = options[index]
    hit, start = best.hit, best.hit.start + best.start
    span = answer_span(question, best.text)
    return Answer(
        question=question, answered=True, text=best.text, confidence=confidence, doc_id=hit.doc_id,
        title=hit.title, date=hit.date, source=hit.source, path=hit.path, article=hit.article, section=hit.section,
        start=start, end=hit.start + best.end, passages=hits, number=hit.number,
        span_start=start + span[0] if span else None, span_end=start + span[1] if span else None,
    )


def choose(rows: np.ndarray, rankers: dict[str, Ranker],
           cosines: Callable[[list[int]], np.ndarray] | None) -> tuple[int, float]:
    """The best candidate and its confidence. The `terms` ranker scores every candidate on its
    `rows` of features; with `cosines` (the question's cosine to the candidates at the given
    indexes), its top `SHORTLIST` are re-ranked by the `dense` ranker, which also sees meaning."""
    scores = rankers["terms"].scores(rows)
    if cosines is None:
        best = int(np.argmax(scores))
        return best, rankers["terms"].confidence(float(scores[best]))
    short = shortlist(scores)
    scores = rankers["dense"].scores(with_cosines(rows[short], cosines(short)))
    best = int(np.argmax(scores))
    return short[best], rankers["dense"].confidence(float(scores[best]))


def shortlist(scores: np.ndarray) -> list[int]:
    """Indexes of the `SHORTLIST` best scores, best first (the first of equal ones first)."""
    return [int(i) for i in np.argsort(-scores, kind="stable")[:SHORTLIST]]


def with_cosines(rows: np.ndarray, cosine: np.ndarray) -> np.ndarray:
    """A copy of shortlisted `rows` with their dense columns filled in from their cosines."""
    rows = rows.copy()
    rows[:, FEATURES.index("dense")] = cosine
    rows[:, FEATURES.index("dense_gap")] = cosine - cosine.max()
    return rows


def limit_for(question: str) -> int:
    """How long an answer to `question` may be: `LIST_MAX` when it asks for a list or a method."""
    return LIST_MAX if asks(question) & {"list", "method"} else UNIT_MAX


def parse(text: str) -> list[Sentence]:
    """The sentences of a passage's text with their paragraphs, markers and lead lines."""
    spans = sentences(text)
    out: list[Sentence] = []
    for i, (start, end) in enumerate(spans):
        paragraph = text.count("\n", 0, start)
        marker = next((name for name, pattern in _MARKERS if pattern.match(text, start)), "")
        alone = (i + 1 == len(spans) or text.count("\n", 0, spans[i + 1][0]) > paragraph) and \
            (i == 0 or out[-1].paragraph < paragraph)
        sentence = text[start:end]
        following = next((name for name, pattern in _MARKERS if i + 1 < len(spans) and pattern.match(text, spans[i + 1][0])), "")
        lead = i + 1 < len(spans) and (
            sentence[-1] in "？?：:"
            or marker in _HEADING_FAMILIES and end - start <= _LEAD_MAX and sentence[-1] not in "；;，,"
            and following != marker and not _CELL.fullmatch(sentence)
            or alone and end - start <= _LEAD_MAX // 2 and sentence[-1] not in "。！!；;，,")
        out.append(Sentence(start, end, paragraph, marker, lead))
    return out


def units(question: str, hits: list[Hit]) -> list[Candidate]:
    """Every answer unit of the hits, none longer than `limit_for(question)` characters (a
    sentence always counts): sentences, runs of up to `RUN` more, whole lists, the body after
    a lead line, spreadsheet rows (a line of 列名：值 cells) and short passages whole. No unit
    ends on a lead line (a heading, a question line, an intro ending in 「：」) that text follows:
    such a line restates the question, and what follows it is the answer. No run of sentences
    stops at a 「；」 or 「：」 that its text goes on from: it would cut a list or clause run."""
    limit = limit_for(question)
    found: list[Candidate] = []
    for hit in hits:
        parsed = parse(hit.text)
        count = len(parsed)
        spans = [(i, i, "sentence", _lead_before(parsed, i)) for i in range(count)]
        spans += [(first, last, "row", None) for first, last in _rows(hit.text, parsed)]
        spans += [(first, last, "list", None) for first, last in _lists(parsed)]
        for i, sentence in enumerate(parsed):
            body = _body(parsed, i, limit) if sentence.lead else None
            if body is not None:
                spans.append((i + 1, body, "body", i))
                if hit.text[sentence.end - 1] in "：:":
                    spans.append((i, body, "body", None))
        if count > 1:
            spans.append((0, count - 1, "passage", None))
        spans += [(i, last, "run", _lead_before(parsed, i))
                  for i in range(count) for last in range(i + 1, min(i + RUN, count - 1) + 1)]
        seen: set[tuple[int, int]] = set()
        for first, last, unit, lead in spans:
            where = (parsed[first].start, parsed[last].end)
            if where not in seen and _whole(hit.text, parsed, first, last, limit):
                seen.add(where)
                found.append(Candidate(hit, parsed, first, last, unit, lead))
    return found


def _lead_before(parsed: list[Sentence], i: int) -> int | None:
    """The sentence before sentence `i` when it is a lead line."""
    return i - 1 if i and parsed[i - 1].lead else None


def _whole(text: str, parsed: list[Sentence], first: int, last: int, limit: int) -> bool:
    """Whether sentences `first`…`last` can be an answer: not ending on a lead line that text
    follows (what follows it answers), no run cut inside its list or clause run at a 「；」 or 「：」
    (a single clause may still answer alone), and no longer than `limit` unless one sentence."""
    if parsed[last].lead:
        return False
    if first < last and last + 1 < len(parsed) and text[parsed[last].end - 1] in "；;：:":
        return False
    return first == last or parsed[last].end - parsed[first].start <= limit


def _rows(text: str, parsed: list[Sentence]) -> list[tuple[int, int]]:
    """Sentence ranges that make up one table row each: a paragraph of two or more 列名：值 cells."""
    out = []
    for paragraph in sorted({s.paragraph for s in parsed}):
        inside = [i for i, s in enumerate(parsed) if s.paragraph == paragraph]
        line = text[parsed[inside[0]].start:parsed[inside[-1]].end]
        if len(inside) > 1 and sum(bool(_CELL.fullmatch(cell.strip())) for cell in line.split("；") if cell.strip()) >= 2:
            out.append((inside[0], inside[-1]))
    return out


def _lists(parsed: list[Sentence]) -> list[tuple[int, int]]:
    """Sentence ranges holding a whole list: two or more items of one marker family (一是…二是…,
    1、2、…), each item with the sentences that continue it in its paragraph, and the intro line
    ending in 「：」 before the first."""
    out = []
    for family, _ in _MARKERS:
        items = [i for i, s in enumerate(parsed) if s.marker == family]
        groups: list[list[int]] = []
        for i in items:
            if groups and i - groups[-1][-1] <= RUN + 1:
                groups[-1].append(i)
            else:
                groups.append([i])
        for group in groups:
            if len(group) < 2:
                continue
            last = group[-1]
            while last + 1 < len(parsed) and parsed[last + 1].paragraph == parsed[group[-1]].paragraph \
                    and not parsed[last + 1].marker and not parsed[last + 1].lead:
                last += 1
            first = group[0]
            if first and parsed[first - 1].lead:
                first -= 1
            out.append((first, last))
    return out


def _body(parsed: list[Sentence], lead: int, limit: int) -> int | None:
    """The last sentence of what a lead line introduces: the sentences after it up to the next lead
    line of its kind (a heading of its family, another question), at most `limit` characters."""
    if lead + 1 >= len(parsed):
        return None
    head = parsed[lead]
    last = lead + 1
    while last + 1 < len(parsed):
        following = parsed[last + 1]
        if following.lead and (following.marker == head.marker or not following.marker) \
                or following.end - parsed[lead + 1].start > limit:
            break
        last += 1
    return last


def features(found: Retrieval, tokens: Tokens, options: list[Candidate]) -> np.ndarray:
    """One row of `FEATURES` per candidate unit, the dense columns left 0 (`choose` fills them in
    for the shortlist). Words, kinds and common substrings are read once per sentence."""
    question, weights = found.question, found.weights
    total = sum(weights.values()) or 1.0
    asked = unspaced(question)
    letters = set(asked)
    asked_chars = {ch for ch in letters if ch not in _ASKING and _HAN_OR_WORD.match(ch)}
    kinds = asks(question)
    typed = kinds & set(TYPED)
    wants_list = limit_for(question) == LIST_MAX
    hits = list({id(c.hit): c.hit for c in options}.values())
    parsed = {id(c.hit): c.sentences for c in options}
    words = {id(hit): [tokens(hit.text[s.start:s.end]) for s in parsed[id(hit)]] for hit in hits}
    held = {id(hit): [holds(hit.text[s.start:s.end], kinds) for s in parsed[id(hit)]] for hit in hits}
    common = {id(hit): [_common(asked, unspaced(hit.text[s.start:s.end])) / max(len(asked), 1)
                        for s in parsed[id(hit)]] for hit in hits}
    spread = {id(hit): {t: sum(t in set(w) for w in words[id(hit)]) / max(len(words[id(hit)]), 1) for t in weights}
              for hit in hits}
    titles = {hit.title: set(tokens(hit.title)) for hit in hits}
    sections = {hit.section: set(tokens(hit.section)) for hit in hits}
    texts = [unspaced(c.text) for c in options]
    lengths = [len(found_words) for hit in hits for found_words in words[id(hit)]]
    average = max(float(np.mean(lengths)) if lengths else 1.0, 1.0) * 2
    pairs = {asked[i:i + 2] for i in range(len(asked) - 1) if not set(asked[i:i + 2]) & _ASKING}
    rarity = {p: math.log((len(options) + 1) / (sum(p in t for t in texts) + 0.5)) for p in pairs}
    top = max(c.hit.score for c in options) or 1.0
    rows = np.zeros((len(options), len(FEATURES)))
    column = {name: i for i, name in enumerate(FEATURES)}

    def share(terms: set[str]) -> float:
        return sum(w for t, w in weights.items() if t in terms) / total

    for i, c in enumerate(options):
        key = id(c.hit)
        covered = range(c.first, c.last + 1)
        unit_words = [t for j in covered for t in words[key][j]]
        present = set(unit_words)
        near = {t for j in (c.first - 1, c.last + 1) if 0 <= j < c.count for t in words[key][j]}
        focus = {t: w for t, w in weights.items() if t not in titles[c.hit.title]}
        wanted = {ch for ch in asked_chars if ch not in c.hit.title}
        text = texts[i]
        unit_holds = set().union(*(held[key][j] for j in covered))
        counts = {t: unit_words.count(t) for t in weights if t in present}
        norm = 1.2 * (0.25 + 0.75 * len(unit_words) / average)
        sentence = parsed[key]
        row = rows[i]
        row[column["overlap"]] = share(present)
        row[column["near_overlap"]] = share(near)
        row[column["focus"]] = sum(w for t, w in focus.items() if t in present) / (sum(focus.values()) or 1.0)
        row[column["focus_chars"]] = sum(ch in text for ch in wanted) / max(len(wanted), 1)
        row[column["local"]] = sum(weights[t] * (1 - spread[key][t]) for t in counts) / total
        row[column["pairs"]] = sum(w for p, w in rarity.items() if p in text) / (sum(rarity.values()) or 1.0)
        row[column["bm25"]] = sum(weights[t] * n * 2.2 / (n + norm) for t, n in counts.items()) / total
        row[column["common"]] = max(common[key][j] for j in covered)
        chars = _HAN_OR_WORD.findall(text)
        row[column["novelty"]] = (len(chars) - sum(map(letters.__contains__, chars))) / max(len(text), 1)
        row[column["rank"]] = 1.0 / c.hit.rank
        row[column["passage"]] = c.hit.score / top
        row[column["first"]] = float(c.first == 0)
        row[column["position"]] = c.first / max(c.count - 1, 1)
        row[column["length"]] = math.log1p(len(text))
        for kind in kinds & unit_holds:
            row[column[f"kind_{kind}"]] = 1.0
        row[column["kind_missing"]] = float(bool(typed) and not typed & unit_holds)
        row[column["sentences"]] = math.log(c.last - c.first + 1)
        if c.unit != "sentence":
            row[column[f"unit_{c.unit}"]] = 1.0
        row[column["after_lead"]] = share(set(words[key][c.lead])) if c.lead is not None else 0.0
        row[column["section"]] = share(sections[c.hit.section]) if c.first == 0 else 0.0
        row[column["coverage"]] = len(c.text) / max(len(c.hit.text), 1)
        row[column["section_whole"]] = row[column["section"]] * row[column["coverage"]]
        row[column["lead_whole"]] = row[column["after_lead"]] * row[column["coverage"]]
        row[column["items"]] = math.log1p(sum(bool(sentence[j].marker) for j in covered))
        row[column["wants_list"]] = float(wants_list and c.unit in ("list", "body", "row"))
        row[column["typed_length"]] = math.log1p(len(text)) if typed else 0.0
        row[column["list_length"]] = math.log1p(len(text)) if wants_list else 0.0
        row[column["list_sentences"]] = row[column["sentences"]] if wants_list else 0.0
        row[column["open_end"]] = float(c.last + 1 < c.count and c.hit.text[sentence[c.last].end - 1] in "；;：:")
        row[column["open_start"]] = float(c.first > 0 and sentence[c.first - 1].paragraph == sentence[c.first].paragraph
                                          and c.hit.text[sentence[c.first - 1].end - 1] in "；;：:")
    rows[:, column["overlap_gap"]] = rows[:, column["overlap"]] - rows[:, column["overlap"]].max()
    return rows


def _common(a: str, b: str) -> int:
    """Length of the longest common substring of two texts."""
    return SequenceMatcher(None, a, b, autojunk=False).find_longest_match(0, len(a), 0, len(b)).size


def _article(question: str, article: Hit, hits: list[Hit]) -> Answer:
    """A question citing 某法第N条 is answered by that article, whole."""
    return Answer(
        question=question, answered=True, text=article.text, confidence=1.0, doc_id=article.doc_id,
        title=article.title, date=article.date, source=article.source, path=article.path, article=article.article,
        section=article.section, start=article.start, end=article.end, number=article.number, passages=hits,
    )


def unit_in(answer: Answer, hit: Hit) -> tuple[int, int] | None:
    """Where the answer sits inside one of its passages, if it does."""
    if answer.answered and answer.doc_id == hit.doc_id and hit.start <= answer.start and answer.end <= hit.end:
        return answer.start - hit.start, answer.end - hit.start
    return None
