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
_SPACE = re.compile(r"\s")  # what `unspaced` removes
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
    cosines = (lambda rows: _cosines([options[i].text[:DENSE_CHARS] for i in rows], encode, vector)) \
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


def _cosines(openings: list[str], encode: Encode, vector: np.ndarray) -> np.ndarray:
    """The question's cosine to each opening, a text the shortlist has twice encoded once (a
    sentence and a run from it often open alike)."""
    distinct = list(dict.fromkeys(openings))
    found = dict(zip(distinct, encode(distinct) @ vector, strict=True))
    return np.array([found[text] for text in openings])


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
    for the shortlist). Each sentence and character is read once (`_Read`); a unit's sums are
    then differences of running sums at its ends, for all units at once."""
    question, weights = found.question, found.weights
    w = np.array(list(weights.values()), dtype=float)
    total = float(sum(weights.values())) or 1.0
    asked = unspaced(question)
    kinds = asks(question)
    typed = kinds & set(TYPED)
    wants_list = limit_for(question) == LIST_MAX
    each = list({id(c.hit): c for c in options}.values())  # one unit of each passage: its hit and parsed sentences
    place = {id(c.hit): i for i, c in enumerate(each)}
    read = _Read([c.hit for c in each], [c.sentences for c in each], list(weights), asked, kinds, tokens)
    hit = np.array([place[id(c.hit)] for c in options])
    opening = read.offsets[hit]  # the global index of each unit's passage's first sentence
    first = opening + np.array([c.first for c in options])
    last = opening + np.array([c.last for c in options])
    count = np.array([c.count for c in options])
    start = read.starts[hit] + np.array([c.start for c in options])
    end = read.starts[hit] + np.array([c.end for c in options])
    lead = opening + np.array([-1 if c.lead is None else c.lead for c in options])
    has_lead = np.array([c.lead is not None for c in options])

    def share(present: np.ndarray) -> np.ndarray:
        return np.where(present, w, 0.0).sum(axis=1) / total

    def within(running: np.ndarray) -> np.ndarray:
        return running[last + 1] - running[first]

    counts = within(read.term_counts)
    present = counts > 0
    before, after = first > opening, last + 1 < opening + count
    near = np.zeros_like(present)
    near[before] |= read.terms_in[first[before] - 1]
    near[after] |= read.terms_in[last[after] + 1]
    norm = 1.2 * (0.25 + 0.75 * within(read.word_counts) / read.average)
    chars = read.chars(start, end)
    length = chars["visible"]
    texts = [read.unspaced[a:b] for a, b in zip(read.unspaced_at(start), read.unspaced_at(end), strict=True)]
    rarity = {p: math.log((len(options) + 1) / (sum(p in t for t in texts) + 0.5)) for p in read.pairs}
    top = max(c.hit.score for c in options) or 1.0
    rows = np.zeros((len(options), len(FEATURES)))
    column = {name: rows[:, i] for i, name in enumerate(FEATURES)}
    focus = w * read.off_title[hit]
    focus_total = focus.sum(axis=1)
    wanted = read.wanted[hit]
    column["overlap"][:] = share(present)
    column["near_overlap"][:] = share(near)
    column["focus"][:] = np.where(present, focus, 0.0).sum(axis=1) / np.where(focus_total == 0, 1.0, focus_total)
    column["focus_chars"][:] = (chars["asked"] & wanted).sum(axis=1) / np.maximum(wanted.sum(axis=1), 1)
    column["local"][:] = np.where(present, w * (1 - read.spread[hit]), 0.0).sum(axis=1) / total
    column["pairs"][:] = [sum(r for p, r in rarity.items() if p in t) for t in texts]
    column["pairs"][:] /= sum(rarity.values()) or 1.0
    column["bm25"][:] = np.where(present, w * counts * 2.2 / (counts + norm[:, None]), 0.0).sum(axis=1) / total
    column["common"][:] = [max(read.common[a:b + 1]) for a, b in zip(first, last, strict=True)]
    column["novelty"][:] = (chars["word"] - chars["known"]) / np.maximum(length, 1)
    column["rank"][:] = [1.0 / c.hit.rank for c in options]
    column["passage"][:] = [c.hit.score / top for c in options]
    column["first"][:] = ~before
    column["position"][:] = (first - opening) / np.maximum(count - 1, 1)
    column["length"][:] = np.log1p(length)
    held = {kind: within(read.held[kind]) > 0 for kind in kinds}
    for kind, holding in held.items():
        column[f"kind_{kind}"][:] = holding
    column["kind_missing"][:] = bool(typed) and ~np.any([held[kind] for kind in typed], axis=0)
    column["sentences"][:] = np.log(last - first + 1)
    for unit in UNITS[1:]:
        column[f"unit_{unit}"][:] = [c.unit == unit for c in options]
    column["after_lead"][:] = np.where(has_lead, share(read.terms_in[lead]), 0.0)
    column["section"][:] = np.where(before, 0.0, share(read.in_section[hit]))
    column["coverage"][:] = (end - start) / np.maximum(read.lengths[hit], 1)
    column["section_whole"][:] = column["section"] * column["coverage"]
    column["lead_whole"][:] = column["after_lead"] * column["coverage"]
    column["items"][:] = np.log1p(within(read.markers))
    column["wants_list"][:] = [wants_list and c.unit in ("list", "body", "row") for c in options]
    column["typed_length"][:] = np.log1p(length) if typed else 0.0
    column["list_length"][:] = np.log1p(length) if wants_list else 0.0
    column["list_sentences"][:] = column["sentences"] if wants_list else 0.0
    column["open_end"][:] = after & read.open_end[last]
    column["open_start"][before] = read.open_end[first[before] - 1] & (read.paragraph[first[before] - 1]
                                                                        == read.paragraph[first[before]])
    column["overlap_gap"][:] = column["overlap"] - column["overlap"].max()
    return rows


class _Read:
    """What `features` reads once per question from its hits, laid end to end: per sentence
    (every hit's, in order) its question terms, words, kinds, marker and longest common substring
    with the question; per character whether it is visible, a word character, a question's one.
    Most of it as running sums (a leading 0), so a unit's total is two lookups."""

    def __init__(self, hits: list[Hit], parsed: list[list[Sentence]], terms: list[str], asked: str,
                 kinds: set[str], tokens: Tokens) -> None:
        sizes = [len(p) for p in parsed]
        self.offsets = np.cumsum([0, *sizes[:-1]])
        self.lengths = np.array([len(hit.text) for hit in hits])
        self.starts = np.cumsum([0, *self.lengths[:-1]])
        sentences = [s for p in parsed for s in p]
        texts = [hit.text[s.start:s.end] for hit, p in zip(hits, parsed, strict=True) for s in p]
        words = [tokens(text) for text in texts]
        self.terms_in = _table([[t in ws for t in terms] for ws in words], len(terms), bool)
        self.term_counts = _running(_table([[ws.count(t) for t in terms] for ws in words], len(terms), float))
        self.word_counts = _running(np.array([len(ws) for ws in words], dtype=float))
        self.average = max(float(np.mean([len(ws) for ws in words])) if words else 1.0, 1.0) * 2
        self.spread = np.array([self.terms_in[a:a + n].sum(axis=0) / max(n, 1) for a, n in zip(self.offsets, sizes,
                                                                                               strict=True)])
        titles, sections = [set(tokens(hit.title)) for hit in hits], [set(tokens(hit.section)) for hit in hits]
        self.off_title = _table([[t not in title for t in terms] for title in titles], len(terms), bool)
        self.in_section = _table([[t in section for t in terms] for section in sections], len(terms), bool)
        kept = [ch for ch in sorted(set(asked)) if ch not in _ASKING and _HAN_OR_WORD.match(ch)]
        self.wanted = _table([[ch not in hit.title for ch in kept] for hit in hits], len(kept), bool)
        held = [holds(text, kinds) for text in texts]
        self.held = {kind: _running(np.array([kind in found for found in held], dtype=float)) for kind in kinds}
        self.markers = _running(np.array([bool(s.marker) for s in sentences], dtype=float))
        self.paragraph = np.array([s.paragraph for s in sentences])
        self.open_end = np.array([hit.text[s.end - 1] in "；;：:" for hit, p in zip(hits, parsed, strict=True)
                                  for s in p], dtype=bool)
        self.common = list(_longest_common(asked, [unspaced(text) for text in texts]) / max(len(asked), 1))
        joined = "".join(hit.text for hit in hits)
        codes = np.frombuffer(joined.encode("utf-32-le"), dtype=np.uint32)
        visible = np.ones(len(joined), dtype=bool)
        visible[[m.start() for m in _SPACE.finditer(joined)]] = False
        word = np.zeros(len(joined), dtype=bool)
        word[[m.start() for m in _HAN_OR_WORD.finditer(joined)]] = True
        self.unspaced = _SPACE.sub("", joined)
        self._visible = _running(visible)
        self._counts = {"visible": self._visible, "word": _running(word),
                        "known": _running(word & np.isin(codes, [ord(ch) for ch in set(asked)]))}
        self._asked = _running(codes[:, None] == np.array([ord(ch) for ch in kept], dtype=np.uint32))
        self.pairs = {asked[i:i + 2] for i in range(len(asked) - 1) if not set(asked[i:i + 2]) & _ASKING}

    def unspaced_at(self, positions: np.ndarray) -> np.ndarray:
        """Where positions in the joined texts fall in `unspaced`, the joined texts without whitespace."""
        return self._visible[positions]

    def chars(self, start: np.ndarray, end: np.ndarray) -> dict[str, np.ndarray]:
        """Per span `[start, end)` of the joined texts: its visible, word and question characters, and
        under `asked`, which of the question's own characters (not asking words) it holds."""
        out = {name: running[end] - running[start] for name, running in self._counts.items()}
        out["asked"] = (self._asked[end] - self._asked[start]) > 0
        return out


def _running(values: np.ndarray) -> np.ndarray:
    """Running sums along the first axis with a leading row of zeros: `[b] - [a]` sums rows a…b-1."""
    values = np.asarray(values, dtype=np.int64 if values.dtype == bool else values.dtype)
    return np.concatenate([np.zeros((1, *values.shape[1:]), dtype=values.dtype), np.cumsum(values, axis=0)])


def _table(rows: list[list], width: int, dtype: type) -> np.ndarray:
    """A 2-D array of `rows`, `width` columns even when there are no rows or no columns."""
    return np.array(rows, dtype=dtype).reshape(len(rows), width)


def _longest_common(a: str, texts: list[str]) -> np.ndarray:
    """Per text, the length of its longest common substring with `a`: the classic dynamic programme,
    one step per character of `a` over all texts at once (each followed by a character not in `a`)."""
    stop = next(ch for ch in map(chr, range(0xE000, 0xF900)) if ch not in a)
    b = np.frombuffer((stop.join(texts) + stop).encode("utf-32-le"), dtype=np.uint32)
    run = np.zeros(len(b) + 1, dtype=np.int64)
    best = np.zeros(len(b), dtype=np.int64)
    for ch in a:
        run[1:] = np.where(b == ord(ch), run[:-1] + 1, 0)
        np.maximum(best, run[1:], out=best)
    return np.maximum.reduceat(best, np.cumsum([0, *[len(t) + 1 for t in texts[:-1]]])) if texts else best[:0]


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
