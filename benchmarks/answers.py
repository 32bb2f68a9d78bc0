"""Quality of `ask`: the learned answer-sentence ranker against the old heuristic, answer spans,
calibrated confidence and no-answer, direct article lookup; and the ranker's fit.

    python benchmarks/answers.py            # full run: benchmarks/results/answers.md
    python benchmarks/answers.py --fit      # the same, then writes src/policysearch/data/answer_ranker.json
    python benchmarks/answers.py --smoke    # a few questions (CI)

Questions and what counts as right:
- CMRC 2018 trial on its passages: the answer sentence contains a gold answer (NFKC, no
  whitespace). policyqa on the bundled report: it contains one of the evidence strings.
- Unanswerable: questions asked of a corpus that cannot answer them (CMRC and STARD questions on
  the bundled report, policy questions on CMRC: 611), and CMRC questions with their own
  document taken out of the results (the document is not in the index).

Every number of the ranker is cross-validated: five folds by document (a CMRC passage and all
its questions, asked and unanswerable, sit in one fold; the policy questions form one group),
a logistic model fitted on four folds scores the fifth. The calibration (Platt) and the no-answer
threshold are fitted on the out-of-fold scores of the four training folds too. The heuristic
it replaces (cosine + 0.3 × idf share, threshold 1.0; idf share ≥ 0.5 without vectors) runs on the
same candidates in the same run. Spans: whether the bold span equals / contains a gold answer.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from dataclasses import dataclass, replace

import numpy as np

from policysearch import Document, IndexSettings, PolicySearch
from policysearch.answers import DENSE, FEATURES, Ranker, candidates, choose, features, shortlist, with_cosines
from policysearch.articles import article_key
from policysearch.chunking import Chunker
from policysearch.corpora import laws_db
from policysearch.eval import squash
from policysearch.spans import answer_span
from quality import DATA, HERE, RESULTS, Benchmark, benchmarks, open_index, read_jsonl

FOLDS = 5
L2 = 1.0  # ridge penalty on the standardised weights; fixed, not tuned
RANKER_FILE = HERE.parent / "src" / "policysearch" / "data" / "answer_ranker.json"
HEURISTIC = {"dense": (1.0, 0.3, 1.0), "terms": (0.0, 1.0, 0.5)}  # cosine weight, idf-share weight, threshold


@dataclass
class Question:
    """One question asked of one index: its candidates' features, the question's cosine to each
    (for the dense shortlist) and which candidates hold the answer."""

    qid: str
    kind: str        # the set: cmrc2018, policyqa, or an unanswerable set
    group: str       # the document the fold is chosen by
    text: str
    answerable: bool
    rows: np.ndarray
    cosines: np.ndarray
    labels: np.ndarray
    sentences: list[str]
    gold: list[str]


def fold(group: str) -> int:
    return hashlib.sha256(group.encode()).digest()[0] % FOLDS


class SentenceVectors:
    """Vectors of every candidate sentence, encoded once in batches of similar length (as
    `Searcher.similarity` encodes them one question at a time, only faster)."""

    def __init__(self, engine: PolicySearch) -> None:
        self.embedder = engine.searcher.embedder
        self.vectors: dict[str, np.ndarray] = {}

    def add(self, texts: list[str]) -> None:
        new = sorted({t for t in texts if t not in self.vectors}, key=len)
        for start in range(0, len(new), 64):
            batch = new[start:start + 64]
            self.vectors.update(zip(batch, self.embedder.embed_sentences(batch), strict=True))

    def cosines(self, engine: PolicySearch, question: str, texts: list[str]) -> np.ndarray:
        return np.array([self.vectors[t] for t in texts]) @ engine.searcher.query_vector(question)


def gather(engine: PolicySearch, kind: str, items: list[tuple[str, str, str, list[str]]], answerable: bool,
           vectors: SentenceVectors, leave_out: dict[str, set[str]] | None = None) -> list[Question]:
    """Candidates and features of each (qid, question, group, gold) asked of `engine`; with
    `leave_out`, the hits of those documents are dropped first (the document is not indexed)."""
    asked = []
    for qid, text, group, gold in items:
        hits, cited = engine.searcher.retrieve(text, 8 if leave_out else 3, None, None)
        if cited:
            continue  # answered by the cited article, not by a sentence
        if leave_out:
            hits = [replace(h, rank=i + 1) for i, h in enumerate(h for h in hits if h.doc_id not in leave_out[qid])][:3]
        found = candidates(hits)
        if found:
            asked.append((qid, text, group, gold, found))
    vectors.add([c.text for *_, found in asked for c in found])
    out = []
    for qid, text, group, gold, found in asked:
        texts = [c.text for c in found]
        labels = np.array([answerable and any(squash(g) in squash(t) for g in gold) for t in texts], dtype=float)
        out.append(Question(qid, kind, group, text, answerable, features(engine.searcher, text, found),
                            vectors.cosines(engine, text, texts), labels, texts, gold))
    return out


def collect(sets: dict[str, Benchmark], tag: str, settings: IndexSettings) -> list[Question]:
    """Every question of the module docstring, answerable and not, with its candidates (none
    when CMRC or the policy questions are missing)."""
    questions: list[Question] = []
    cmrc = sets.get("cmrc2018-trial")
    policy = sets.get("policyqa")
    bundled = open_index(policy, settings, tag) if policy else None
    if not (cmrc and policy and bundled):
        return questions
    engine = open_index(cmrc, settings, tag)
    vectors = SentenceVectors(engine)
    answers = {r["qid"]: r["answers"] for r in read_jsonl(DATA / "cmrc2018" / "queries.jsonl")}
    items = [(q.qid, q.query, q.relevant[0], answers[q.qid]) for q in cmrc.queries]
    questions += gather(engine, "cmrc2018", items, True, vectors)
    questions += gather(engine, "cmrc2018, own document left out", items, False, vectors,
                        {q.qid: set(q.relevant) for q in cmrc.queries})
    questions += gather(bundled, "cmrc2018 on the report", items[:300], False, vectors)
    questions += gather(engine, "policyqa on cmrc2018", [(q.qid, q.query, "policyqa", []) for q in policy.queries],
                        False, vectors)
    questions += gather(bundled, "policyqa", [(q.qid, q.query, "policyqa", q.evidence) for q in policy.queries],
                        True, vectors)
    if "stard-train" in sets:
        questions += gather(bundled, "stard on the report",
                            [(q.qid, q.query, q.qid, []) for q in sets["stard-train"].queries[:300]], False, vectors)
    return questions


def logistic(rows: list[np.ndarray], labels: list[np.ndarray], names: list[str]) -> Ranker:
    """L2-regularised logistic regression over every candidate row (Newton's method), without
    calibration yet."""
    columns = [FEATURES.index(n) for n in names]
    x = np.concatenate([r[:, columns] for r in rows])
    y = np.concatenate(labels)
    mean, scale = x.mean(axis=0), x.std(axis=0) + 1e-6
    z = np.hstack([(x - mean) / scale, np.ones((len(x), 1))])
    w = np.zeros(z.shape[1])
    penalty = np.full(z.shape[1], L2)
    penalty[-1] = 0.0
    for _ in range(30):
        p = 1 / (1 + np.exp(-z @ w))
        step = np.linalg.solve((z * (p * (1 - p))[:, None]).T @ z + np.diag(penalty), z.T @ (p - y) + penalty * w)
        w -= step
        if np.abs(step).max() < 1e-8:
            break
    return Ranker(list(names), mean.tolist(), scale.tolist(), w[:-1].tolist(), float(w[-1]))


def platt(scores: np.ndarray, labels: np.ndarray) -> tuple[float, float]:
    """a, b of the sigmoid(a·score + b) that best predicts `labels` (Newton's method)."""
    z = np.stack([scores, np.ones_like(scores)], axis=1)
    w = np.array([1.0, 0.0])
    for _ in range(50):
        p = 1 / (1 + np.exp(-z @ w))
        step = np.linalg.solve((z * (p * (1 - p))[:, None]).T @ z + 1e-6 * np.eye(2), z.T @ (p - labels))
        w -= step
        if np.abs(step).max() < 1e-10:
            break
    return float(w[0]), float(w[1])


def shortlisted(question: Question, terms: Ranker) -> tuple[np.ndarray, np.ndarray]:
    """The rows (dense columns filled in) and labels of the terms ranker's shortlist."""
    short = shortlist(terms.scores(question.rows))
    return with_cosines(question.rows[short], question.cosines[short]), question.labels[short]


def fit(questions: list[Question]) -> dict[str, Ranker]:
    """Both rankers, as `choose` uses them: `terms` on every candidate, `dense` on the terms
    ranker's shortlist; each then calibrated (Platt) on whether its best sentence holds the answer."""
    terms = logistic([q.rows for q in questions], [q.labels for q in questions], [n for n in FEATURES if n not in DENSE])
    short = [shortlisted(q, terms) for q in questions]
    dense = logistic([r for r, _ in short], [y for _, y in short], list(FEATURES))
    rankers = {"terms": terms, "dense": dense}
    for name in rankers:
        picked = [pick(q, rankers, name == "dense") for q in questions]
        best = np.array([p.score for p in picked])
        right = np.array([q.labels[p.index] for q, p in zip(questions, picked, strict=True)])
        rankers[name].slope, rankers[name].intercept = platt(best, right)
    return rankers


@dataclass
class Picked:
    """What one scorer made of one question: the sentence, its raw score and its confidence."""

    index: int
    score: float
    confidence: float


def pick(question: Question, rankers: dict[str, Ranker], dense: bool) -> Picked:
    """`choose`, as `ask` runs it, on the question's stored features and cosines."""
    index, confidence = choose(question.rows, rankers, (lambda rows: question.cosines[rows]) if dense else None)
    ranker = rankers["dense" if dense else "terms"]
    row = shortlisted(question, rankers["terms"])[0] if dense else question.rows
    score = float(ranker.scores(row).max())
    return Picked(index, score, confidence)


def heuristic(question: Question, dense: bool) -> Picked:
    """The scorer `ask` used before: cosine + 0.3 × idf share (idf share alone without vectors)."""
    cosine, terms, _ = HEURISTIC["dense" if dense else "terms"]
    score = cosine * question.cosines + terms * question.rows[:, FEATURES.index("overlap")]
    return Picked(int(np.argmax(score)), float(score.max()), float(score.max()))


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
    """Out-of-fold picks of the rankers, and each question's threshold chosen without its fold."""
    picked: list[Picked | None] = [None] * len(questions)
    thresholds = [0.0] * len(questions)
    folds = [fold(q.group) for q in questions]
    for k in range(FOLDS):
        train = [q for q, f in zip(questions, folds, strict=True) if f != k]
        rankers = fit(train)
        threshold = balanced_threshold([pick(q, rankers, dense) for q in train], train)
        for i, (q, f) in enumerate(zip(questions, folds, strict=True)):
            if f == k:
                picked[i], thresholds[i] = pick(q, rankers, dense), threshold
    return picked, thresholds  # type: ignore[return-value]


def score_sets(questions: list[Question], picked: list[Picked], thresholds: list[float]) -> dict[str, dict]:
    """Per set: answered right (answerable sets) or refused (unanswerable ones); no-answer
    balanced accuracy over the cross-asked sets, and with the left-out documents too."""
    out: dict[str, dict] = {}
    for kind in dict.fromkeys(q.kind for q in questions):
        chosen = [(q, p, t) for q, p, t in zip(questions, picked, thresholds, strict=True) if q.kind == kind]
        answered = [p.confidence >= t for _, p, t in chosen]
        row: dict = {"questions": len(chosen)}
        if chosen[0][0].answerable:
            row["best_sentence_right"] = float(np.mean([q.labels[p.index] for q, p, _ in chosen]))
            row["answered_and_right"] = float(np.mean([a and q.labels[p.index]
                                                       for (q, p, _), a in zip(chosen, answered, strict=True)]))
            row["answered"] = float(np.mean(answered))
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


def spans(questions: list[Question], picked: list[Picked], thresholds: list[float]) -> dict[str, float]:
    """Spans on the answered CMRC questions: how many get one, and how often it equals a gold
    answer, contains one, or is part of one (right: contains or is part of; CMRC's answers often
    carry a word more, 约只有8公斤重 for 8公斤)."""
    shown = equal = contains = right = total = 0
    for q, p, t in zip(questions, picked, thresholds, strict=True):
        if q.kind != "cmrc2018":
            continue
        total += 1
        span = answer_span(q.text, q.sentences[p.index]) if p.confidence >= t else None
        if span:
            text = squash(q.sentences[p.index][span[0]:span[1]])
            shown += 1
            equal += any(text == squash(g) for g in q.gold)
            contains += any(squash(g) in text for g in q.gold)
            right += any(squash(g) in text or text in squash(g) for g in q.gold)
    return {"questions": total, "coverage": shown / max(total, 1), "equals_gold": equal / max(shown, 1),
            "contains_gold": contains / max(shown, 1), "right": right / max(shown, 1)}


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


def picking_ms(engine: PolicySearch, questions: list[str], rankers: dict[str, Ranker]) -> tuple[float, float]:
    """Median ms to pick the answer sentence from the retrieved passages: the rankers (features
    for all candidates, the shortlist encoded) against the heuristic (every candidate encoded)."""
    reader = engine.searcher
    ranker_ms, heuristic_ms = [], []
    for text in questions:
        found = candidates(reader.retrieve(text, 3, None, None)[0])
        if not found:
            continue
        started = time.perf_counter()
        choose(features(reader, text, found), rankers,
               lambda rows, text=text, found=found: reader.similarity(text, [found[i].text for i in rows]))
        middle = time.perf_counter()
        weights = reader.term_weights(reader.tokens(text))
        overlap = [sum(w for t, w in weights.items() if t in set(reader.tokens(c.text))) for c in found]
        int(np.argmax(reader.similarity(text, [c.text for c in found]) + 0.3 * np.array(overlap)))
        ended = time.perf_counter()
        ranker_ms.append((middle - started) * 1000)
        heuristic_ms.append((ended - middle) * 1000)
    return float(np.median(ranker_ms)), float(np.median(heuristic_ms))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--smoke", action="store_true")
    parser.add_argument("--limit", type=int)
    parser.add_argument("--fit", action="store_true", help="write the ranker fitted on all questions into the package")
    args = parser.parse_args()
    tag = "-smoke" if args.smoke else ""
    sets = {b.name: b for b in benchmarks(args.smoke, args.limit)}
    settings = IndexSettings()
    questions = collect(sets, tag, settings)
    results: dict[str, dict] = {}
    lines = [f"# Answers{' (smoke)' if args.smoke else ''}", "",
             "Command: `python benchmarks/answers.py" + (" --smoke" if args.smoke else "") + "`", "",
             "Ranker numbers are out-of-fold (5 folds by document; threshold and calibration fitted without the "
             "held-out fold). The heuristic is the scorer `ask` used before, on the same candidates.", ""]
    fitted: dict[str, Ranker] = {}
    if questions:
        for model in ("dense", "terms"):
            dense = model == "dense"
            picked, thresholds = cross_validate(questions, dense)
            before = score_sets(questions, [heuristic(q, dense) for q in questions],
                                [HEURISTIC[model][2]] * len(questions))
            after = score_sets(questions, picked, thresholds)
            results[model] = {"heuristic": before, "ranker": after, "spans": spans(questions, picked, thresholds),
                              "calibration": calibration(questions, picked)}
            lines += [f"## {'Index with vectors (default)' if dense else 'BM25-only index'}", "",
                      "| set | metric | heuristic | ranker | questions |", "|---|---|---:|---:|---:|"]
            for kind, row in after.items():
                count = row.get("questions", row.get("answerable", 0) + row.get("unanswerable", 0))
                for metric in ("answered_and_right", "best_sentence_right", "refused", "balanced_accuracy"):
                    if metric in row:
                        lines.append(f"| {kind} | {metric.replace('_', ' ')} | {before[kind][metric]:.3f} | "
                                     f"{row[metric]:.3f} | {count} |")
            span = results[model]["spans"]
            lines += ["", f"Spans (CMRC, ranker): shown for {span['coverage']:.3f} of {span['questions']} questions; "
                      f"of those, {span['equals_gold']:.3f} equal a gold answer, {span['contains_gold']:.3f} contain one "
                      f"and {span['right']:.3f} contain one or are part of one.",
                      "", "Calibration (every question, out of fold):", "",
                      "| confidence | answers | held the answer |", "|---|---:|---:|"]
            lines += [f"| {name} | {n} | {rate:.3f} |" for name, n, rate in results[model]["calibration"]]
            lines.append("")
        fitted = fit(questions)
        cmrc = [q.query for q in sets["cmrc2018-trial"].queries[:200]]
        ranker_ms, heuristic_ms = picking_ms(open_index(sets["cmrc2018-trial"], settings, tag), cmrc, fitted)
        results["picking_ms"] = {"ranker": ranker_ms, "heuristic": heuristic_ms, "questions": len(cmrc)}
        lines.append(f"Picking the sentence from 3 CMRC passages, median of {len(cmrc)} questions: "
                     f"{ranker_ms:.1f} ms with the rankers, {heuristic_ms:.1f} ms with the heuristic "
                     f"(end to end `ask` on laws.db: benchmarks/speed.py).\n")
        for model in ("dense", "terms"):
            threshold = balanced_threshold([pick(q, fitted, model == "dense") for q in questions], questions)
            results[model]["threshold_all_folds"] = threshold
            lines.append(f"{model}: threshold with the best balanced accuracy, fitted on all folds: {threshold:.3f}\n")
    if "lawbench-1-1" in sets and not args.smoke:
        _, keys = laws_db(DATA / "lawsdb" / "laws.db")
        laws = open_index(sets["lawbench-1-1"], settings, tag)
        lookup = lawbench_lookup(laws, keys)
        results["lawbench-1-1"] = lookup
        lines += ["## Article lookup and speed", "", "| set | metric | value | questions |", "|---|---|---:|---:|"]
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
    if args.fit and fitted:
        provenance = {"command": "python benchmarks/answers.py --fit", "l2": L2,
                      "data": {kind: sum(q.kind == kind for q in questions) for kind in dict.fromkeys(q.kind for q in questions)},
                      "candidates": int(sum(len(q.labels) for q in questions))}
        RANKER_FILE.write_text(json.dumps({"provenance": provenance,
                                           "rankers": {m: r.to_dict() for m, r in fitted.items()}}) + "\n",
                               encoding="utf-8")
        lines.append(f"Wrote {RANKER_FILE.relative_to(HERE.parent)}")
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"answers{tag}.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (RESULTS / f"answers{tag}.json").write_text(json.dumps(results, indent=1), encoding="utf-8")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
