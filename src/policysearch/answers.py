"""Pick the sentence that answers a question from the top passages, with its citation, a
confidence in [0, 1] and, when the question asks for a date, number or name, the answer in it.

Every sentence of the retrieved passages is a candidate with the cheap features in `FEATURES`.
Two logistic rankers shipped in `data/answer_ranker.json` (fitted by `benchmarks/answers.py
--fit`) score them: one on words alone for every sentence, one that adds the dense cosine for
the few best (encoding every sentence would cost more than all the rest of `ask`). The best
score, calibrated on held-out questions, is the confidence; below
`SearchSettings.answer_threshold` we say that nothing answers the question.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from difflib import SequenceMatcher
from functools import lru_cache
from importlib import resources
from typing import TYPE_CHECKING, Any
from collections.abc import Callable

import numpy as np

from .chunking import sentences
from .records import Answer, Hit
from .spans import KINDS, TYPED, answer_span, asks, holds, unspaced

if TYPE_CHECKING:
    from .searcher import Searcher

NO_ANSWER = "no passage in the corpus answers this"
FEATURES = (
    "dense",          # cosine of the sentence to the question (shortlisted sentences only)
    "dense_gap",      # that cosine minus the best shortlisted one's
    "overlap",        # share of the question's idf weight the sentence holds
    "overlap_gap",    # that share minus the best candidate's
    "near_overlap",   # share of the question's idf weight in the sentences before and after it
    "focus",          # share of the idf weight of the question's terms that are not in the title
    "focus_chars",    # share of the question's characters that are not in the title or a question word
    "local",          # like overlap, each term weighed down by how many sentences of its passage have it
    "pairs",          # share of the question's two-character pieces in the sentence, the rarer among candidates the more
    "bm25",           # BM25 of the sentence against the question, over the question's idf weight
    "common",         # longest common substring with the question, over the question's length
    "novelty",        # share of the sentence's characters the question does not have
    "rank",           # 1 / rank of its passage
    "passage",        # its passage's score over the top passage's
    "first",          # 1 for a passage's first sentence
    "position",       # where it sits in its passage, 0 (start) to 1 (end)
    "length",         # log of its length in characters
    *(f"kind_{kind}" for kind in KINDS),  # the question asks for this kind and the sentence holds it
    "kind_missing",   # the question asks for a date, number, name… and the sentence holds none of those asked
)
DENSE = ("dense", "dense_gap")
SHORTLIST = 4  # sentences the dense ranker re-ranks: each costs one sentence encoding
_HAN_OR_WORD = re.compile(r"[\w\u3400-\u9fff]")
_ASKING = set("什么哪些谁是的了吗呢几多少如何怎么怎样为何为啥请问有")  # characters of asking, not of the topic


@dataclass
class Candidate:
    """One sentence of a retrieved passage: `[start, end)` in the hit's text, and which of the
    passage's `count` sentences it is."""

    hit: Hit
    start: int
    end: int
    index: int
    count: int

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


def answer(reader: Searcher, question: str, hits: list[Hit], cited: list[int]) -> Answer:
    """The answer to `question` from its `hits`: the cited article when it names one (`cited`
    rows), else the best-ranked sentence, or no answer below the threshold."""
    if cited:
        return _article(reader, question, cited, hits)
    notice = reader.notice(question)
    if notice:
        return Answer(question, False, "", 0.0, passages=hits, message=notice)
    found = candidates(hits)
    if not found:
        return Answer(question, False, "", 0.0, passages=hits, message=NO_ANSWER)
    cosines = (lambda rows: reader.similarity(question, [found[i].text for i in rows])) if reader.has_vectors else None
    index, confidence = choose(features(reader, question, found), shipped_rankers(), cosines)
    best = found[index]
    if confidence < reader.search_settings.answer_threshold:
        return Answer(question, False, "", confidence, passages=hits, message=NO_ANSWER)
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


def candidates(hits: list[Hit]) -> list[Candidate]:
    """The sentences of the hits; one that ends in a colon takes the next with it, so a list
    introduced by 包括： is read whole."""
    found = []
    for hit in hits:
        spans = sentences(hit.text)
        merged: list[tuple[int, int]] = []
        for start, end in spans:
            if merged and hit.text[merged[-1][1] - 1] in "：:":
                merged[-1] = (merged[-1][0], end)
            else:
                merged.append((start, end))
        found += [Candidate(hit, start, end, i, len(merged)) for i, (start, end) in enumerate(merged)]
    return found


def features(reader: Searcher, question: str, found: list[Candidate]) -> np.ndarray:
    """One row of `FEATURES` per candidate, the dense columns left 0 (`choose` fills them in
    for the shortlist)."""
    weights = reader.term_weights(reader.tokens(question))
    total = sum(weights.values()) or 1.0
    tokens = [reader.tokens(c.text) for c in found]
    present = [set(t) for t in tokens]
    average = max(float(np.mean([len(t) for t in tokens])), 1.0)
    kinds = asks(question)
    typed = kinds & set(TYPED)
    asked = unspaced(question)
    letters = set(asked)
    top = max(c.hit.score for c in found) or 1.0
    rows = np.zeros((len(found), len(FEATURES)))
    column = {name: i for i, name in enumerate(FEATURES)}
    spread = {t: [sum(t in present[j] for j in _same_passage(found, i)) / c.count for i, c in enumerate(found)]
              for t in weights}
    titles = {hit.title: set(reader.tokens(hit.title)) for hit in {id(c.hit): c.hit for c in found}.values()}
    texts = [unspaced(c.text) for c in found]
    pairs = {asked[i:i + 2] for i in range(len(asked) - 1) if not set(asked[i:i + 2]) & _ASKING}
    rarity = {p: math.log((len(found) + 1) / (sum(p in t for t in texts) + 0.5)) for p in pairs}
    for i, (c, words) in enumerate(zip(found, present, strict=True)):
        near = _neighbours(found, i)
        focus = {t: w for t, w in weights.items() if t not in titles[c.hit.title]}
        wanted = {ch for ch in asked if ch not in c.hit.title and ch not in _ASKING and _HAN_OR_WORD.match(ch)}
        text = texts[i]
        held = holds(c.text)
        counts = {t: tokens[i].count(t) for t in weights if t in words}
        norm = 1.2 * (0.25 + 0.75 * len(tokens[i]) / average)
        row = rows[i]
        row[column["overlap"]] = sum(weights[t] for t in counts) / total
        row[column["near_overlap"]] = sum(w for t, w in weights.items() if any(t in present[j] for j in near)) / total
        row[column["focus"]] = sum(w for t, w in focus.items() if t in words) / (sum(focus.values()) or 1.0)
        row[column["focus_chars"]] = sum(ch in text for ch in wanted) / max(len(wanted), 1)
        row[column["local"]] = sum(weights[t] * (1 - spread[t][i]) for t in counts) / total
        row[column["pairs"]] = sum(w for p, w in rarity.items() if p in text) / (sum(rarity.values()) or 1.0)
        row[column["bm25"]] = sum(weights[t] * n * 2.2 / (n + norm) for t, n in counts.items()) / total
        row[column["common"]] = _common(asked, text) / max(len(asked), 1)
        row[column["novelty"]] = sum(ch not in letters for ch in text if _HAN_OR_WORD.match(ch)) / max(len(text), 1)
        row[column["rank"]] = 1.0 / c.hit.rank
        row[column["passage"]] = c.hit.score / top
        row[column["first"]] = float(c.index == 0)
        row[column["position"]] = c.index / max(c.count - 1, 1)
        row[column["length"]] = math.log1p(len(text))
        for kind in kinds & held:
            row[column[f"kind_{kind}"]] = 1.0
        row[column["kind_missing"]] = float(bool(typed) and not typed & held)
    rows[:, column["overlap_gap"]] = rows[:, column["overlap"]] - rows[:, column["overlap"]].max()
    return rows


def _neighbours(found: list[Candidate], i: int) -> list[int]:
    """Indexes of the candidates just before and after candidate `i` in the same passage."""
    return [j for j in (i - 1, i + 1) if 0 <= j < len(found) and found[j].hit is found[i].hit]


def _same_passage(found: list[Candidate], i: int) -> list[int]:
    """Indexes of the candidates of candidate `i`'s passage, itself included."""
    return [j for j in range(i - found[i].index, i - found[i].index + found[i].count)]


def _common(a: str, b: str) -> int:
    """Length of the longest common substring of two texts."""
    return SequenceMatcher(None, a, b, autojunk=False).find_longest_match(0, len(a), 0, len(b)).size


def _article(reader: Searcher, question: str, rows: list[int], hits: list[Hit]) -> Answer:
    """A question citing 某法第N条 is answered by that article, whole."""
    span = reader.span(rows)
    return Answer(
        question=question, answered=True, text=span.text, confidence=1.0, doc_id=span.doc_id, title=span.title,
        date=span.date, source=span.source, path=span.path, article=span.article, section=span.section,
        start=span.start, end=span.end, number=span.number,
        passages=hits,
    )


def sentence_in(answer: Answer, hit: Hit) -> tuple[int, int] | None:
    """Where the answer sentence sits inside one of its passages, if it does."""
    if answer.answered and answer.doc_id == hit.doc_id and hit.start <= answer.start and answer.end <= hit.end:
        return answer.start - hit.start, answer.end - hit.start
    return None
