"""Quality of `ask`: the learned answer-unit ranker, answer spans, calibrated confidence and
no-answer, direct article lookup; and the ranker's fit.

    python benchmarks/answers.py                 # full run: benchmarks/results/answers.md
    python benchmarks/answers.py --fit           # the same, then writes src/policysearch/data/answer_ranker.json
    python benchmarks/answers.py --smoke         # a few questions (CI)
    python benchmarks/answers.py --ask-only F    # only `ask` end to end on the answerable sets, into F (JSON)
    python benchmarks/answers.py --before F      # a full run with F's answers (another version's) as "before"
    python benchmarks/answers.py --skip-laws     # without article lookup and speed on laws.db (two big indexes)
    python benchmarks/answers.py --speed-only    # only `ask` against a hybrid search: answers-speed.md
    python benchmarks/answers.py --dense-chars N # openings of N characters instead of answers.DENSE_CHARS

Speed (`--speed-only`, and at the end of every run): `ask` against a hybrid search on each set
below, on laws.db, and on long single-line notices (the first 30 reports with their lines joined).

Questions, and what counts as right — the answer holds a whole gold answer (NFKC, no
whitespace) and is at most 3 times as long as it, or 150 characters:
- CMRC 2018 trial on its passages (gold: its answers).
- Government reports, heading-led: every heading of the 72 reports in ../shared/data/govreports
  that a paragraph of 20-250 characters follows (a heading line, or a lead sentence such as
  「（三）深化体制改革。」 opening the paragraph), asked as 「如何…？」, 「…有哪些举措？」 or
  「在…方面要做什么？」 (chosen by a hash); gold: the paragraph's text after the heading. The
  questions are made by rule from structure no one labelled; kept only where the gold lies
  within one passage.
- policyqa on the bundled report (gold: its evidence strings). Never fitted on: it is only
  reported, as are the policy questions asked of CMRC.
- Unanswerable: questions asked of a corpus that cannot answer them (CMRC and STARD questions on
  the bundled report, policy questions on CMRC), and CMRC questions with their own document taken
  out of the results (the document is not in the index).

Every ranker number is cross-validated: five folds by document (a CMRC passage or a report and
all its questions sit in one fold), a logistic model fitted on four folds scores the fifth. The
calibration (Platt) and the no-answer threshold are fitted on the training folds too. "Before"
is another version's `ask`, end to end, on the same questions (`--before`, made by that version's
`--ask-only`).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import statistics
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from policysearch import Document, IndexSettings, PolicySearch
from policysearch.answering import answers as picker
from policysearch.text.articles import article_key
from policysearch.text.chunking import Chunker
from policysearch.reading.corpora import laws_db
from policysearch.eval import squash
from policysearch.reading.loaders import load
from policysearch.answering.spans import answer_span
from fitting import newton_logistic
from quality import CACHE, DATA, HERE, RESULTS, Benchmark, Query, benchmarks, machine, open_index, read_jsonl

FOLDS = 5
L2 = 1.0  # ridge penalty on the standardised weights; fixed, not tuned
RANKER_FILE = HERE.parent / "src" / "policysearch" / "data" / "answer_ranker.json"
ANSWERABLE = ("cmrc2018", "govreports headings", "policyqa")
NEVER_FITTED = ("policyqa", "policyqa on cmrc2018")  # the bundled report's questions: reported only
_LEAD = re.compile(r"^\s*([（(][一二三四五六七八九十]+[）)]|[一二三四五六七八九十]+、)([^。！？；：\n]{4,30})(。|$)")
_FORMS = ("如何{}？", "{}有哪些举措？", "在{}方面要做什么？")


def right(text: str, gold: list[str]) -> bool:
    """The answer holds a whole gold answer and is at most 3 times as long (or 150 characters)."""
    t = squash(text)
    return any(squash(g) in t and len(t) <= max(3 * len(squash(g)), 150) for g in gold if squash(g))


def holds_gold(text: str, gold: list[str]) -> bool:
    t = squash(text)
    return any(squash(g) in t for g in gold if squash(g))


@dataclass
class Question:
    """One question asked of one index: its candidate units' features and texts, the question's
    vector (for the dense shortlist) and which candidates are right."""

    qid: str
    kind: str        # the set: cmrc2018, govreports headings, policyqa, or an unanswerable set
    group: str       # the document the fold is chosen by
    text: str
    answerable: bool
    rows: np.ndarray
    vector: np.ndarray
    labels: np.ndarray
    texts: list[str]
    kinds: list[str]
    gold: list[str]

    @property
    def fitted(self) -> bool:
        return self.kind not in NEVER_FITTED


def fold(group: str) -> int:
    return hashlib.sha256(group.encode()).digest()[0] % FOLDS


class UnitVectors:
    """Vectors of candidate units, encoded when a shortlist first needs them and kept (as
    `Searcher.encode` encodes them for `ask`)."""

    def __init__(self, engine: PolicySearch) -> None:
        self.searcher = engine.searcher
        self.vectors: dict[str, np.ndarray] = {}

    def cosines(self, question: Question, rows: list[int]) -> np.ndarray:
        texts = [question.texts[i][:picker.DENSE_CHARS] for i in rows]
        new = [t for t in dict.fromkeys(texts) if t not in self.vectors]
        if new:
            self.vectors.update(zip(new, self.searcher.encode(new), strict=True))
        return np.array([self.vectors[t] for t in texts]) @ question.vector


VECTORS: UnitVectors | None = None


def heading_questions(documents: list[Document]) -> list[tuple[str, str, str, list[str]]]:
    """(qid, question, document, gold) for each heading followed by a 20-250 character paragraph
    (see the module docstring), where some passage of the document holds the gold whole."""
    chunker = Chunker(IndexSettings())
    out = []
    for doc in documents:
        passages = [squash(c.text) for c in chunker.chunk(doc)]
        lines = [line.strip() for line in doc.text.split("\n") if line.strip()]
        for n, line in enumerate(lines):
            match = _LEAD.match(line)
            if not match:
                continue
            body = line[match.end():].strip() if match.group(3) == "。" else lines[n + 1] if n + 1 < len(lines) else ""
            if match.group(3) != "。" and _LEAD.match(body):
                continue
            if not 20 <= len(body) <= 250 or not any(squash(body) in p for p in passages):
                continue
            heading = match.group(2).strip()
            form = _FORMS[hashlib.sha256(f"{doc.id}{n}".encode()).digest()[0] % len(_FORMS)]
            out.append((f"{doc.id}#{n}", form.format(heading), doc.id, [body]))
    return out


def gather(engine: PolicySearch, kind: str, items: list[tuple[str, str, str, list[str]]], answerable: bool,
           leave_out: dict[str, set[str]] | None = None) -> list[Question]:
    """Candidates and features of each (qid, question, group, gold) asked of `engine`; with
    `leave_out`, the hits of those documents are dropped first (the document is not indexed)."""
    reader = engine.searcher
    out = []
    for qid, text, group, gold in items:
        found = reader.retrieval(text, 8 if leave_out else 3, None, None)
        if found.article is not None:
            continue  # answered by the cited article, not by a unit
        if leave_out:
            kept = [h for h in found.hits if h.doc_id not in leave_out[qid]][:3]
            found = replace(found, hits=[replace(h, rank=i + 1) for i, h in enumerate(kept)])
        options = picker.units(found.question, found.hits)
        if not options:
            continue
        texts = [c.text for c in options]
        labels = np.array([answerable and right(t, gold) for t in texts], dtype=float)
        out.append(Question(qid, kind, group, text, answerable, picker.features(found, reader.tokens, options),
                            found.vector, labels, texts, [c.unit for c in options], gold))
    return out


def answer_sets(sets: dict[str, Benchmark], tag: str, settings: IndexSettings
                ) -> dict[str, tuple[PolicySearch, list[tuple[str, str, str, list[str]]]]]:
    """Each answerable set's index and (qid, question, group, gold) items."""
    out = {}
    cmrc, policy = sets.get("cmrc2018-trial"), sets.get("policyqa")
    if cmrc:
        answers = {r["qid"]: r["answers"] for r in read_jsonl(DATA / "cmrc2018" / "queries.jsonl")}
        out["cmrc2018"] = (open_index(cmrc, settings, tag), [(q.qid, q.query, q.relevant[0], answers[q.qid])
                                                             for q in cmrc.queries])
    reports = DATA / "govreports"
    if reports.is_dir():
        documents = load([reports])
        items = heading_questions(documents)
        if tag:
            keep = {doc for _, _, doc, _ in items[::40]}
            documents = [d for d in documents if d.id in keep]
            items = [item for item in items if item[2] in keep][:8]
        bench = Benchmark("govreports", f"govreports{tag}", documents,
                          [Query(qid, text, [doc]) for qid, text, doc, _ in items])
        out["govreports headings"] = (open_index(bench, settings, ""), items)
    if policy:
        out["policyqa"] = (open_index(policy, settings, tag), [(q.qid, q.query, "policyqa", q.evidence)
                                                               for q in policy.queries])
    return out


def collect(sets: dict[str, Benchmark], answerable: dict, tag: str, settings: IndexSettings) -> list[Question]:
    """Every question of the module docstring, answerable and not, with its candidates (none
    when CMRC or the policy questions are missing)."""
    global VECTORS
    questions: list[Question] = []
    if not ("cmrc2018" in answerable and "policyqa" in answerable):
        return questions
    engine, items = answerable["cmrc2018"]
    bundled, policy = answerable["policyqa"]
    VECTORS = UnitVectors(engine)
    for kind, (index, asked) in answerable.items():
        questions += gather(index, kind, asked, True)
    questions += gather(engine, "cmrc2018, own document left out", items, False,
                        {qid: {group} for qid, _, group, _ in items})
    questions += gather(bundled, "cmrc2018 on the report", items[:300], False)
    questions += gather(engine, "policyqa on cmrc2018", [(q, t, "policyqa", []) for q, t, _, _ in policy], False)
    if "stard-train" in sets:
        questions += gather(bundled, "stard on the report",
                            [(q.qid, q.query, q.qid, []) for q in sets["stard-train"].queries[:300]], False)
    return questions


def logistic(rows: list[np.ndarray], labels: list[np.ndarray], names: list[str]) -> picker.Ranker:
    """L2-regularised logistic regression over every candidate row, each weighed 1 / its question's
    candidates so that every question counts once (Newton's method), without calibration yet."""
    columns = [picker.FEATURES.index(n) for n in names]
    x = np.concatenate([r[:, columns] for r in rows])
    y = np.concatenate(labels)
    weight = np.concatenate([np.full(len(r), 1.0 / len(r)) for r in rows])  # each question counts once
    mean, scale = x.mean(axis=0), x.std(axis=0) + 1e-6
    z = np.hstack([(x - mean) / scale, np.ones((len(x), 1))])
    penalty = np.full(z.shape[1], L2)
    penalty[-1] = 0.0
    w = newton_logistic(z, y, weight, penalty, steps=30)
    return picker.Ranker(list(names), mean.tolist(), scale.tolist(), w[:-1].tolist(), float(w[-1]))


def platt(scores: np.ndarray, labels: np.ndarray) -> tuple[float, float]:
    """a, b of the sigmoid(a·score + b) that best predicts `labels` (Newton's method)."""
    z = np.stack([scores, np.ones_like(scores)], axis=1)
    w = newton_logistic(z, labels, np.ones(len(labels)), np.full(2, 1e-6), tolerance=1e-10)
    return float(w[0]), float(w[1])


def shortlisted(question: Question, terms: picker.Ranker) -> tuple[np.ndarray, np.ndarray]:
    """The rows (dense columns filled in) and labels of the terms ranker's shortlist."""
    short = picker.shortlist(terms.scores(question.rows))
    return picker.with_cosines(question.rows[short], VECTORS.cosines(question, short)), question.labels[short]


def fit(questions: list[Question]) -> dict[str, picker.Ranker]:
    """Both rankers, as `choose` uses them: `terms` on every candidate, `dense` on the terms
    ranker's shortlist; each then calibrated (Platt) on whether its best unit is right. Only
    questions that may be fitted on count."""
    questions = [q for q in questions if q.fitted]
    names = [n for n in picker.FEATURES if n not in picker.DENSE]
    terms = logistic([q.rows for q in questions], [q.labels for q in questions], names)
    short = [shortlisted(q, terms) for q in questions]
    dense = logistic([r for r, _ in short], [y for _, y in short], list(picker.FEATURES))
    rankers = {"terms": terms, "dense": dense}
    for name in rankers:
        picked = [pick(q, rankers, name == "dense") for q in questions]
        best = np.array([p.score for p in picked])
        good = np.array([q.labels[p.index] for q, p in zip(questions, picked, strict=True)])
        rankers[name].slope, rankers[name].intercept = platt(best, good)
    return rankers


@dataclass
class Picked:
    """What one scorer made of one question: the unit, its raw score and its confidence."""

    index: int
    score: float
    confidence: float


def pick(question: Question, rankers: dict[str, picker.Ranker], dense: bool) -> Picked:
    """`choose`, as `ask` runs it, on the question's stored features."""
    cosines = (lambda rows: VECTORS.cosines(question, rows)) if dense else None
    index, confidence = picker.choose(question.rows, rankers, cosines)
    ranker = rankers["dense" if dense else "terms"]
    row = shortlisted(question, rankers["terms"])[0] if dense else question.rows
    return Picked(index, float(ranker.scores(row).max()), confidence)


def balanced_threshold(picked: list[Picked], questions: list[Question]) -> float:
    """The confidence threshold with the best balanced accuracy of answered vs unanswerable."""
    conf = np.array([p.confidence for p in picked])
    good = np.array([q.answerable for q in questions])
    best, chosen = -1.0, 0.5
    for t in np.unique(np.round(conf, 3)):
        accuracy = (np.mean(conf[good] >= t) + np.mean(conf[~good] < t)) / 2
        if accuracy > best:
            best, chosen = accuracy, float(t)
    return chosen


def cross_validate(questions: list[Question], dense: bool) -> tuple[list[Picked], list[float]]:
    """Out-of-fold picks of the rankers, and each question's threshold chosen without its fold.
    Questions never fitted on are scored by every fold's model; the first fold's counts."""
    picked: list[Picked | None] = [None] * len(questions)
    thresholds = [0.0] * len(questions)
    folds = [fold(q.group) for q in questions]
    for k in range(FOLDS):
        train = [q for q, f in zip(questions, folds, strict=True) if f != k and q.fitted]
        rankers = fit(train)
        threshold = balanced_threshold([pick(q, rankers, dense) for q in train], train)
        for i, (q, f) in enumerate(zip(questions, folds, strict=True)):
            if f == k or (not q.fitted and picked[i] is None):
                picked[i], thresholds[i] = pick(q, rankers, dense), threshold
    return picked, thresholds  # type: ignore[return-value]


def score_sets(questions: list[Question], picked: list[Picked], thresholds: list[float]) -> dict[str, dict]:
    """Per set: right, holding the gold at any length, answered and right, the answer's length
    over the gold's (answerable sets), or refused (unanswerable ones); no-answer balanced accuracy
    over the cross-asked sets, and with the left-out documents too."""
    out: dict[str, dict] = {}
    for kind in dict.fromkeys(q.kind for q in questions):
        chosen = [(q, p, t) for q, p, t in zip(questions, picked, thresholds, strict=True) if q.kind == kind]
        answered = [p.confidence >= t for _, p, t in chosen]
        row: dict = {"questions": len(chosen)}
        if chosen[0][0].answerable:
            texts = [q.texts[p.index] for q, p, _ in chosen]
            row["right"] = float(np.mean([q.labels[p.index] for q, p, _ in chosen]))
            row["holds_gold"] = float(np.mean([holds_gold(t, q.gold) for t, (q, _, _) in zip(texts, chosen, strict=True)]))
            row["answered_and_right"] = float(np.mean([a and q.labels[p.index]
                                                       for (q, p, _), a in zip(chosen, answered, strict=True)]))
            row["answered"] = float(np.mean(answered))
            row["length_over_gold"] = statistics.median(
                len(squash(t)) / max(min(len(squash(g)) for g in q.gold if squash(g)), 1)
                for t, (q, _, _) in zip(texts, chosen, strict=True))
            row["units"] = {u: sum(q.kinds[p.index] == u for q, p, _ in chosen) for u in picker.UNITS}
        else:
            row["refused"] = 1 - float(np.mean(answered))
        out[kind] = row
    good = [p.confidence >= t for q, p, t in zip(questions, picked, thresholds, strict=True) if q.answerable]
    for name, counted in (("cross-asked", lambda q: "left out" not in q.kind),
                          ("cross-asked + own document left out", lambda q: True)):
        bad = [p.confidence < t for q, p, t in zip(questions, picked, thresholds, strict=True)
               if not q.answerable and counted(q)]
        out[f"no-answer, {name}"] = {"balanced_accuracy": (float(np.mean(good)) + float(np.mean(bad))) / 2,
                                     "answerable": len(good), "unanswerable": len(bad)}
    return out


def scored_answers(asked: dict[str, dict[str, dict]], answerable: dict) -> dict[str, dict]:
    """The metrics of `score_sets` for answers `ask` gave end to end ({set: {qid: answer}})."""
    out = {}
    for kind, (_, items) in answerable.items():
        given = asked.get(kind, {})
        rows = [(given[qid], gold) for qid, _, _, gold in items if qid in given]
        if not rows:
            continue
        out[kind] = {
            "questions": len(rows),
            "right": float(np.mean([right(a["text"], g) for a, g in rows])),
            "holds_gold": float(np.mean([holds_gold(a["text"], g) for a, g in rows])),
            "answered_and_right": float(np.mean([a["answered"] and right(a["text"], g) for a, g in rows])),
            "answered": float(np.mean([a["answered"] for a, _ in rows])),
            "length_over_gold": statistics.median(len(squash(a["text"])) / max(min(len(squash(x)) for x in g if squash(x)), 1)
                                                  for a, g in rows),
        }
    return out


def ask_all(answerable: dict) -> dict[str, dict[str, dict]]:
    """`ask` end to end on every answerable question: {set: {qid: text, answered, confidence}}."""
    out: dict[str, dict[str, dict]] = {}
    for kind, (engine, items) in answerable.items():
        out[kind] = {}
        for qid, text, _, _ in items:
            a = engine.ask(text)
            out[kind][qid] = {"text": a.text, "answered": a.answered, "confidence": a.confidence}
    return out


def spans(questions: list[Question], picked: list[Picked], thresholds: list[float]) -> dict[str, float]:
    """Spans on the answered CMRC questions: how many get one, and how often it equals a gold
    answer, contains one, or is part of one (right: contains or is part of; CMRC's answers often
    carry a word more, 约只有8公斤重 for 8公斤)."""
    shown = equal = contains = good = total = 0
    for q, p, t in zip(questions, picked, thresholds, strict=True):
        if q.kind != "cmrc2018":
            continue
        total += 1
        span = answer_span(q.text, q.texts[p.index]) if p.confidence >= t else None
        if span:
            text = squash(q.texts[p.index][span[0]:span[1]])
            shown += 1
            equal += any(text == squash(g) for g in q.gold)
            contains += any(squash(g) in text for g in q.gold)
            good += any(squash(g) in text or text in squash(g) for g in q.gold)
    return {"questions": total, "coverage": shown / max(total, 1), "equals_gold": equal / max(shown, 1),
            "contains_gold": contains / max(shown, 1), "right": good / max(shown, 1)}


def calibration(questions: list[Question], picked: list[Picked]) -> list[tuple[str, int, float]]:
    """For confidence bins: how many answers fell in it and how many held the answer."""
    rows = []
    for low in np.arange(0.0, 1.0, 0.2):
        inside = [q.labels[p.index] for q, p in zip(questions, picked, strict=True)
                  if low <= p.confidence < low + 0.2 or (low >= 0.8 and p.confidence == 1.0)]
        rows.append((f"{low:.1f}–{low + 0.2:.1f}", len(inside), float(np.mean(inside)) if inside else float("nan")))
    return rows


def lawbench_lookup(engine: PolicySearch, keys: dict[int, str]) -> dict[str, float]:
    rows = read_jsonl(DATA / "lawbench" / "task1-1_queries_lawsdb.jsonl")
    exact = same_number = 0
    numbered = numbered_ok = 0
    for row in rows:
        answer = engine.ask(row["query"])
        wanted = row["relevant_mapping"][0]
        is_exact = f"{answer.doc_id}#{article_key(answer.article)}" in {keys.get(i) for i in row["relevant_ids"]}
        is_same = answer.title == wanted["lawsdb_law_name"] and answer.article == wanted["lawsdb_article_no"]
        exact += is_exact
        same_number += is_exact or is_same
        if wanted["matched_by"] == "number":
            numbered += 1
            numbered_ok += is_exact or is_same
    return {"questions": len(rows), "top1_exact_id": exact / len(rows), "top1_law_and_number": same_number / len(rows),
            "top1_current_numbering": numbered_ok / max(numbered, 1), "current_numbering_questions": numbered}


def whole_articles(engine: PolicySearch, documents: list[Document]) -> dict[str, float]:
    """LawBench 1-1 asked of the laws read as plain files (`documents`, indexed by `engine`): how
    often the answer is exactly the cited article, whole (its number and all its text), and how
    many passages are a chapter or section heading or the law's title alone."""
    import re
    import sqlite3

    heading = re.compile(r"第[一二三四五六七八九十百零\d]+[编章节]\s*\S{0,30}")
    db = sqlite3.connect(f"file:{DATA / 'lawsdb' / 'laws.db'}?mode=ro", uri=True)
    articles = {i: squash(f"{number}{text}") for i, number, text in
                db.execute("SELECT id, article_no, article_text FROM articles")}
    rows = read_jsonl(DATA / "lawbench" / "task1-1_queries_lawsdb.jsonl")
    whole = sum(any(squash(engine.ask(row["query"]).text) == articles.get(i) for i in row["relevant_ids"])
                for row in rows)
    chunker = Chunker(engine.settings)
    heading_only = sum(chunk.text.strip() == doc.title or heading.fullmatch(chunk.text.strip()) is not None
                       for doc in documents for chunk in chunker.chunk(doc))
    return {"questions": len(rows), "whole_article": whole / len(rows), "heading_only_passages": heading_only}


def ask_speed(engine: PolicySearch, questions: list[str], pairs: int = 100) -> dict[str, float]:
    """Median ms of a hybrid search for 3 passages and of `ask`, each question put to both, on two
    engines of the same index opened afresh (neither reuses the other's query vector), in turns
    (a busy spell of the machine slows both alike). A set of fewer than `pairs` questions goes
    round again, on fresh engines each time, until it has `pairs`."""
    asked = questions[:pairs]
    times: dict[str, list[float]] = {"search": [], "ask": []}
    for _ in range(-(-pairs // len(asked))):
        searching, answering = PolicySearch.open(engine.searcher.root), PolicySearch.open(engine.searcher.root)
        for warm in (searching, answering):
            warm.search("预热", k=3)
            warm.ask("预热一下")
        for i, text in enumerate(asked):
            for name in (("search", "ask") if i % 2 else ("ask", "search")):
                started = time.perf_counter()
                answering.ask(text) if name == "ask" else searching.search(text, k=3)
                times[name].append((time.perf_counter() - started) * 1000)
    timings = {name: float(np.median(values)) for name, values in times.items()}
    timings["ratio"] = timings["ask"] / timings["search"]
    timings["questions"] = len(asked)
    timings["pairs"] = len(times["ask"])
    return timings


def one_line_notices(reports: list[Path], settings: IndexSettings) -> tuple[PolicySearch, list[str]]:
    """Long single-line notices, as scraped ones often are: `reports` written out with their lines
    joined into one, indexed from those files; and their heading-led questions."""
    folder = CACHE / "one-line-notices"
    folder.mkdir(parents=True, exist_ok=True)
    for report in reports:
        text = "".join(line.strip() for line in report.read_text(encoding="utf-8").splitlines())
        if not (folder / report.name).is_file() or (folder / report.name).read_text(encoding="utf-8") != text:
            (folder / report.name).write_text(text, encoding="utf-8")
    files = load([folder / report.name for report in reports])
    return (open_index(Benchmark("notices", "one-line-notices", files, []), settings, ""),
            [question for _, question, _, _ in heading_questions(load(reports))])


def speed_table(answerable: dict, sets: dict[str, Benchmark], settings: IndexSettings, tag: str,
                laws: bool) -> tuple[dict[str, dict], list[str]]:
    """`ask_speed` on each answerable set, and with `laws` on laws.db with STARD questions: the
    results and their table (4 pairs a set in a smoke run)."""
    pairs = 4 if tag else 100
    speed = {kind: ask_speed(engine, [q for _, q, _, _ in items], pairs) for kind, (engine, items) in answerable.items()}
    reports = sorted((DATA / "govreports").glob("*.txt"))[:30]
    if reports and not tag:
        speed["notices (30 reports, each on one line)"] = ask_speed(*one_line_notices(reports, settings), pairs)
    if laws and "stard-train" in sets:
        speed["laws (STARD questions)"] = ask_speed(open_index(sets["lawbench-1-1"], settings, tag),
                                                    [q.query for q in sets["stard-train"].queries], pairs)
    lines = ["## Speed: `ask` against a hybrid search (3 passages), median ms", "",
             "Each question is put to both, in turns, on two engines opened afresh; a set of fewer than "
             f"{pairs} questions goes round again (pairs).", "",
             "| corpus | search | ask | ask / search | questions | pairs |", "|---|---:|---:|---:|---:|---:|"]
    lines += [f"| {kind} | {s['search']:.1f} | {s['ask']:.1f} | {s['ratio']:.2f} | {s['questions']} | {s['pairs']} |"
              for kind, s in speed.items()]
    return speed, lines + [""]


def table(kind: str, before: dict | None, after: dict, shipped: dict | None) -> list[str]:
    """Rows of one set: each metric before (another version's `ask`), out of fold and end to end."""
    lines = []
    for metric in ("right", "holds_gold", "answered_and_right", "length_over_gold", "refused", "balanced_accuracy"):
        if metric not in after:
            continue
        count = after.get("questions", after.get("answerable", 0) + after.get("unanswerable", 0))
        cells = [f"{d[metric]:.3f}" if d and metric in d else "–" for d in (before, after, shipped)]
        lines.append(f"| {kind} | {metric.replace('_', ' ')} | {' | '.join(cells)} | {count} |")
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--smoke", action="store_true")
    parser.add_argument("--limit", type=int)
    parser.add_argument("--fit", action="store_true", help="write the ranker fitted on all questions into the package")
    parser.add_argument("--ask-only", metavar="FILE", help="only run `ask` on the answerable sets, into FILE")
    parser.add_argument("--before", metavar="FILE", help="another version's --ask-only answers, shown as before")
    parser.add_argument("--dense-chars", type=int, help="encode this many characters of a shortlisted unit's opening "
                        "instead of the shipped answers.DENSE_CHARS (to choose it)")
    parser.add_argument("--speed-only", action="store_true", help="only `ask` against a hybrid search, into "
                        "answers-speed.md")
    parser.add_argument("--skip-laws", action="store_true", help="leave out article lookup and `ask` speed on laws.db "
                        "(two indexes of 26,196 articles to build)")
    args = parser.parse_args()
    tag = "-smoke" if args.smoke else ""
    if args.dense_chars:
        if args.fit:
            parser.error("--fit writes the shipped ranker, fitted for answers.DENSE_CHARS: leave out --dense-chars")
        picker.DENSE_CHARS = args.dense_chars
    sets = {b.name: b for b in benchmarks(args.smoke, args.limit)}
    settings = IndexSettings()
    answerable = answer_sets(sets, tag, settings)
    if args.ask_only:
        with open(args.ask_only, "w", encoding="utf-8") as out:
            json.dump(ask_all(answerable), out, ensure_ascii=False)
        return 0
    if args.speed_only:
        speed, speed_lines = speed_table(answerable, sets, settings, tag, not args.smoke and not args.skip_laws)
        RESULTS.mkdir(parents=True, exist_ok=True)
        lines = [f"# `ask` speed{' (smoke)' if args.smoke else ''}", "", "Command: `python benchmarks/answers.py "
                 "--speed-only" + (" --smoke" if args.smoke else "") + (" --skip-laws" if args.skip_laws else "") + "`",
                 "", f"Machine: {machine()}", "", *speed_lines]
        (RESULTS / f"answers-speed{tag}.md").write_text("\n".join(lines), encoding="utf-8")
        print("\n".join(lines))
        return 0
    before = scored_answers(json.load(open(args.before, encoding="utf-8")), answerable) if args.before else {}
    questions = collect(sets, answerable, tag, settings)
    results: dict[str, dict] = {"machine": machine()}
    lines = [f"# Answers{' (smoke)' if args.smoke else ''}", "",
             "Command: `python benchmarks/answers.py" + (" --smoke" if args.smoke else "") +
             (" --fit" if args.fit else "") + (" --skip-laws" if args.skip_laws else "") +
             (f" --dense-chars {args.dense_chars}" if args.dense_chars else "") +
             (" --before before.json" if args.before else "") + "`", "", f"Machine: {machine()}", "",
             "A right answer holds a whole gold answer and is at most 3× as long (or 150 characters). Before: the "
             "previous version's `ask` end to end. Out of fold: the ranker, 5 folds by document (threshold and "
             "calibration fitted without the held-out fold); policyqa is never fitted on. End to end: this "
             "version's `ask` with the shipped ranker (fitted on every fold, so in-sample for the fitted sets).", ""]
    fitted: dict[str, picker.Ranker] = {}
    if questions:
        for model in ("dense", "terms"):
            dense = model == "dense"
            picked, thresholds = cross_validate(questions, dense)
            after = score_sets(questions, picked, thresholds)
            results[model] = {"ranker": after, "spans": spans(questions, picked, thresholds),
                              "calibration": calibration(questions, picked)}
            lines += [f"## {'Index with vectors (default)' if dense else 'BM25-only index'}", "",
                      "| set | metric | before | out of fold | end to end | questions |", "|---|---|---:|---:|---:|---:|"]
            for kind, row in after.items():
                lines += table(kind, before.get(kind) if dense else None, row, None)
            units_line = "; ".join(f"{k}: " + ", ".join(f"{u} {n}" for u, n in row["units"].items() if n)
                                   for k, row in after.items() if "units" in row)
            span = results[model]["spans"]
            lines += ["", f"Units chosen: {units_line}.", "",
                      f"Spans (CMRC): shown for {span['coverage']:.3f} of {span['questions']} questions; "
                      f"of those, {span['equals_gold']:.3f} equal a gold answer, {span['contains_gold']:.3f} contain one "
                      f"and {span['right']:.3f} contain one or are part of one.",
                      "", "Calibration (every question, out of fold):", "",
                      "| confidence | answers | right |", "|---|---:|---:|"]
            lines += [f"| {name} | {n} | {rate:.3f} |" for name, n, rate in results[model]["calibration"]]
            lines.append("")
        fitted = fit(questions)
        for model in ("dense", "terms"):
            threshold = balanced_threshold([pick(q, fitted, model == "dense") for q in questions], questions)
            results[model]["threshold_all_folds"] = threshold
            lines.append(f"{model}: threshold with the best balanced accuracy, fitted on all folds: {threshold:.3f}\n")
    if args.fit and fitted:
        provenance = {"command": "python benchmarks/answers.py --fit", "l2": L2, "machine": machine(),
                      "data": {kind: sum(q.kind == kind for q in questions if q.fitted)
                               for kind in dict.fromkeys(q.kind for q in questions if q.fitted)},
                      "never_fitted": list(NEVER_FITTED),
                      "candidates": int(sum(len(q.labels) for q in questions if q.fitted))}
        RANKER_FILE.write_text(json.dumps({"provenance": provenance,
                                           "rankers": {m: r.to_dict() for m, r in fitted.items()}}) + "\n",
                               encoding="utf-8")
        from policysearch.answering.answers import shipped_rankers

        shipped_rankers.cache_clear()
        lines.append(f"Wrote {RANKER_FILE.relative_to(HERE.parent)}\n")
        shipped = scored_answers(ask_all(answerable), answerable)
        results["end_to_end"] = shipped
        lines += ["## End to end with the shipped ranker", "",
                  "| set | metric | before | out of fold | end to end | questions |", "|---|---|---:|---:|---:|---:|"]
        for kind, row in shipped.items():
            lines += table(kind, before.get(kind), results["dense"]["ranker"].get(kind, {}), row)
        lines.append("")
    laws_too = "lawbench-1-1" in sets and not args.smoke and not args.skip_laws
    results["speed"], speed_lines = speed_table(answerable, sets, settings, tag, laws_too)
    lines += speed_lines
    if laws_too:
        _, keys = laws_db(DATA / "lawsdb" / "laws.db")
        lookup = lawbench_lookup(open_index(sets["lawbench-1-1"], settings, tag), keys)
        results["lawbench-1-1"] = lookup
        lines += ["## Article lookup", "", "| set | metric | value | questions |", "|---|---|---:|---:|"]
        for name in ("top1_exact_id", "top1_law_and_number", "top1_current_numbering"):
            count = lookup["current_numbering_questions"] if name == "top1_current_numbering" else lookup["questions"]
            lines.append(f"| lawbench-1-1 | {name} | {lookup[name]:.3f} | {count} |")
        files = laws_db(DATA / "lawsdb" / "laws.db", as_files=True)[0]
        engine = open_index(Benchmark("lawbench-1-1", "laws-files", files, []), settings, tag)
        whole = whole_articles(engine, files)
        results["lawbench-1-1 law files"] = whole
        lines.append(f"| lawbench-1-1, laws as plain files | answer is the whole cited article | "
                     f"{whole['whole_article']:.3f} | {whole['questions']} |")
        lines.append(f"| laws as plain files | passages that are a heading or title alone | "
                     f"{whole['heading_only_passages']} | {engine.count()[1]} passages |")
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"answers{tag}.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (RESULTS / f"answers{tag}.json").write_text(json.dumps(results, indent=1, ensure_ascii=False), encoding="utf-8")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
