"""Score a search engine on labelled questions: Recall@k, MRR@10 and nDCG@10.

Two label styles, one JSON object per line:
- ids: `{"qid", "query", "relevant_ids": [...]}`; a hit covers an id equal to its document id or
  to `doc_id#第N条` (its article), so article-level labels work on multi-article documents.
- evidence: `{"qid", "query", "evidence": [...]}`; a hit covers an evidence string its text
  contains after NFKC and whitespace removal.
Each relevant id or evidence string counts once, at the first hit that covers it.
"""

from __future__ import annotations

import json
import math
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from collections.abc import Callable, Iterable, Sequence

from .errors import PolicySearchError
from .records import Hit
from .articles import article_key

CUTOFFS = (1, 3, 5, 10, 20, 50, 100)


@dataclass
class Query:
    qid: str
    query: str
    relevant: list[str] = field(default_factory=list)
    evidence: list[str] = field(default_factory=list)


def load_queries(path: str | Path) -> list[Query]:
    """Read a JSONL question set in either label style; a bad line is a one-line error naming it."""
    path = Path(path)
    if not path.is_file():
        raise PolicySearchError(f"{path}: no such question file")
    queries = []
    for number, line in enumerate(path.read_text(encoding="utf-8-sig").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
            query = Query(str(item["qid"]), item["query"], [label(str(x)) for x in item.get("relevant_ids", [])],
                          list(item.get("evidence", [])))
        except (ValueError, KeyError, TypeError) as err:
            raise PolicySearchError(f"{path}:{number}: not a question line ({type(err).__name__}: {err}); "
                                    'expected {"qid", "query", "relevant_ids": [...]} or {..., "evidence": [...]}') from None
        if not query.query.strip():
            raise PolicySearchError(f"{path}:{number}: question {query.qid} has an empty query")
        if not (query.relevant or query.evidence):
            raise PolicySearchError(f"{path}:{number}: question {query.qid} has neither relevant_ids nor evidence")
        queries.append(query)
    return queries


def squash(text: str) -> str:
    """NFKC without whitespace: how evidence strings are compared with passages."""
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text))


def label(text: str) -> str:
    """A relevance label as hits are matched: `doc#第三十九条` and `doc#第39条` are one label."""
    doc, mark, article = text.partition("#")
    return f"{doc}#{article_key(article)}" if mark else text


def hit_ids(hit: Hit) -> set[str]:
    """The labels a hit matches: its document, and its article read like a label."""
    return {hit.doc_id, label(f"{hit.doc_id}#{hit.article}")} if hit.article else {hit.doc_id}


def covered(query: Query, hit: Hit) -> list[str]:
    """The relevant units (ids or evidence strings) that this hit covers."""
    if query.relevant:
        ids = hit_ids(hit)
        return [r for r in query.relevant if r in ids]
    text = squash(hit.text)
    return [e for e in query.evidence if squash(e) in text]


def first_relevant(query: Query, hits: Sequence[Hit]) -> int:
    """Rank of the first hit that covers a relevant unit, 0 when none does."""
    return next((rank for rank, hit in enumerate(hits, start=1) if covered(query, hit)), 0)


def score(query: Query, hits: Sequence[Hit]) -> dict[str, float]:
    """Metrics of one ranked list."""
    units = query.relevant or query.evidence
    first_rank: dict[str, int] = {}
    first_relevant = 0
    for rank, hit in enumerate(hits, start=1):
        found = covered(query, hit)
        if found and not first_relevant:
            first_relevant = rank
        for unit in found:
            first_rank.setdefault(unit, rank)
    out = {f"recall@{k}": sum(1 for r in first_rank.values() if r <= k) / len(units) for k in CUTOFFS}
    out["mrr@10"] = 1.0 / first_relevant if 0 < first_relevant <= 10 else 0.0
    dcg = sum(1.0 / math.log2(r + 1) for r in first_rank.values() if r <= 10)
    ideal = sum(1.0 / math.log2(r + 1) for r in range(1, min(len(units), 10) + 1))
    out["ndcg@10"] = dcg / ideal
    return out


def evaluate(search: Callable[[str], Sequence[Hit]], queries: Iterable[Query]) -> dict[str, float]:
    """Mean metrics of `search(query_text)` over the questions."""
    totals: dict[str, float] = {}
    n = 0
    for query in queries:
        for name, value in score(query, search(query.query)).items():
            totals[name] = totals.get(name, 0.0) + value
        n += 1
    if not n:
        raise PolicySearchError("no questions to evaluate")
    return {name: value / n for name, value in totals.items()} | {"queries": n}
