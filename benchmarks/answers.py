"""Quality of `ask`: answer sentences, direct article lookup, and the no-answer threshold.

    python benchmarks/answers.py            # full run: benchmarks/results/answers.md
    python benchmarks/answers.py --smoke    # a few questions (CI)

- CMRC 2018 trial: the answer sentence contains a gold answer span (NFKC, no whitespace).
- policyqa: the answer sentence contains one of the evidence strings.
- LawBench 1-1 ("〈law〉第N条的内容是什么？"): the answer is the labelled article. Reported three
  ways: exact laws.db article; same law name and article number (another stored version of the
  law counts); and leaving out the labels that LawBench gives in pre-revision numbering. Asked
  again of the laws read as plain `.txt` files with chapter lines: the answer is the whole
  cited article; and no passage of that index is a heading or title alone.
- No-answer: confidence of answerable questions (each set on its own corpus) against questions
  asked of a corpus that cannot answer them (CMRC and STARD questions on the bundled report,
  policy questions on CMRC). The threshold with the best balanced accuracy is printed.
"""

from __future__ import annotations

import argparse
import json
import re
import sys

import numpy as np

from policysearch import Answer, Document, IndexSettings, PolicySearch, SearchSettings
from policysearch.articles import article_key
from policysearch.chunking import Chunker
from policysearch.corpora import laws_db
from policysearch.eval import Query, squash
from quality import DATA, RESULTS, Benchmark, benchmarks, open_index, read_jsonl


def contains_any(answer: Answer, spans: list[str]) -> bool:
    text = squash(answer.text)
    return answer.answered and any(squash(s) in text for s in spans)


def answer_accuracy(engine: PolicySearch, queries: list[Query], spans: dict[str, list[str]]) -> tuple[float, list[float]]:
    answers = [engine.ask(q.query) for q in queries]
    hits = [contains_any(a, spans[q.qid]) for q, a in zip(queries, answers, strict=True)]
    return float(np.mean(hits)), [a.confidence for a in answers]


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


HEADING_LINE = re.compile(r"第[一二三四五六七八九十百零\d]+[编章节]\s*\S{0,30}")


def whole_articles(engine: PolicySearch, documents: list[Document]) -> dict[str, float]:
    """LawBench 1-1 asked of the laws read as plain files (`documents`, indexed by `engine`): how
    often the answer is exactly the cited article, whole (its number and all its text), and how
    many passages are a chapter or section heading or the law's title alone."""
    import sqlite3

    db = sqlite3.connect(f"file:{DATA / 'lawsdb' / 'laws.db'}?mode=ro", uri=True)
    articles = {i: squash(f"{number}{text}") for i, number, text in
                db.execute("SELECT id, article_no, article_text FROM articles")}
    rows = read_jsonl(DATA / "lawbench" / "task1-1_queries_lawsdb.jsonl")
    whole = sum(any(squash(engine.ask(row["query"]).text) == articles.get(i) for i in row["relevant_ids"])
                for row in rows)
    chunker = Chunker(engine.settings)
    heading_only = sum(chunk.text.strip() == doc.title or HEADING_LINE.fullmatch(chunk.text.strip()) is not None
                       for doc in documents for chunk in chunker.chunk(doc))
    return {"questions": len(rows), "whole_article": whole / len(rows), "heading_only_passages": heading_only}


def calibrate(positive: list[float], negative: list[float]) -> tuple[float, float]:
    """Threshold with the best balanced accuracy, and that accuracy."""
    best = (0.0, 0.0)
    for threshold in np.unique(np.round(positive + negative, 3)):
        accuracy = (np.mean(np.array(positive) >= threshold) + np.mean(np.array(negative) < threshold)) / 2
        if accuracy > best[1]:
            best = (float(threshold), float(accuracy))
    return best


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--smoke", action="store_true")
    parser.add_argument("--limit", type=int)
    args = parser.parse_args()
    tag = "-smoke" if args.smoke else ""
    sets = {b.name: b for b in benchmarks(args.smoke, args.limit)}
    settings = IndexSettings()
    lines = [f"# Answers{' (smoke)' if args.smoke else ''}", "", "Command: `python benchmarks/answers.py" +
             (" --smoke" if args.smoke else "") + "`", "", "| set | metric | value | questions |", "|---|---|---:|---:|"]
    results: dict[str, dict] = {}
    positive: list[float] = []
    negative: list[float] = []
    bundled = open_index(sets["policyqa"], settings, tag) if "policyqa" in sets else None
    if "cmrc2018-trial" in sets:
        bench = sets["cmrc2018-trial"]
        engine = open_index(bench, settings, tag)
        answers = {r["qid"]: r["answers"] for r in read_jsonl(DATA / "cmrc2018" / "queries.jsonl")}
        accuracy, confidences = answer_accuracy(engine, bench.queries, answers)
        results["cmrc2018-trial"] = {"answer_sentence_accuracy": accuracy, "questions": len(bench.queries)}
        lines.append(f"| cmrc2018-trial | answer sentence contains a gold span | {accuracy:.3f} | {len(bench.queries)} |")
        positive += confidences
        if bundled:
            negative += [bundled.ask(q.query).confidence for q in bench.queries[:300]]
        if "policyqa" in sets:
            negative += [engine.ask(q.query).confidence for q in sets["policyqa"].queries]
    if bundled:
        bench = sets["policyqa"]
        accuracy, confidences = answer_accuracy(bundled, bench.queries, {q.qid: q.evidence for q in bench.queries})
        results["policyqa"] = {"answer_sentence_accuracy": accuracy, "questions": len(bench.queries)}
        lines.append(f"| policyqa | answer sentence contains evidence | {accuracy:.3f} | {len(bench.queries)} |")
        positive += confidences
        if "stard-train" in sets:
            negative += [bundled.ask(q.query).confidence for q in sets["stard-train"].queries[:300]]
    if "lawbench-1-1" in sets and not args.smoke:
        _, keys = laws_db(DATA / "lawsdb" / "laws.db")
        lookup = lawbench_lookup(open_index(sets["lawbench-1-1"], settings, tag), keys)
        results["lawbench-1-1"] = lookup
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
    if positive and negative:
        threshold, accuracy = calibrate(positive, negative)
        current = (np.mean(np.array(positive) >= SearchSettings().answer_threshold) +
                   np.mean(np.array(negative) < SearchSettings().answer_threshold)) / 2
        results["no_answer"] = {"best_threshold": threshold, "balanced_accuracy": accuracy,
                                "default_threshold": SearchSettings().answer_threshold, "default_balanced_accuracy": current,
                                "answerable": len(positive), "unanswerable": len(negative)}
        total = len(positive) + len(negative)
        lines.append(f"| no-answer | balanced accuracy at the default threshold {SearchSettings().answer_threshold} "
                     f"| {current:.3f} | {total} |")
        lines.append(f"| no-answer | best threshold {threshold:.3f}, "
                     f"balanced accuracy | {accuracy:.3f} | {total} |")
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"answers{tag}.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (RESULTS / f"answers{tag}.json").write_text(json.dumps(results, indent=1), encoding="utf-8")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
