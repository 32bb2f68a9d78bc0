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
from .text.articles import article_key

CUTOFFS = (1, 3, 5, 10, 20, 50, 100)


@dataclass
class Query:
    qid: str
    query: str
    relevant: list[str] = field(default_factory=list)
    evidence: list[str] = field(default_factory=list)


def load_queries(path: str | Path) -> list[Query]:
    """Read a JSONL question set in either label style; a bad line is a one-line error naming it
    and the field, and a file without questions is an error too."""
    path = Path(path)
    if not path.is_file():
        raise PolicySearchError(f"{path}: no such question file")
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise PolicySearchError(f"{path}: not UTF-8 text (byte {err.start}); save the question file as UTF-8") from None
    except OSError as err:
        raise PolicySearchError(f"{path}: cannot read ({err.strerror or err})") from None
    queries = []
    for number, line in enumerate(text.splitlines(), start=1):
        if line.strip():
            queries.append(_query(line, f"{path}:{number}"))
    if not queries:
        raise PolicySearchError(f"{path}: no questions in the file; write one JSON object a line, "
                                'like {"qid": "1", "query": "...", "relevant_ids": ["doc.txt"]}')
    return queries


def _query(line: str, where: str) -> Query:
    """One question line, every field checked: a wrong one is named with what it must be."""
    try:
        item = json.loads(line)
    except ValueError as err:
        raise PolicySearchError(f"{where}: not a JSON line ({err}); "
                                'expected {"qid", "query", "relevant_ids": [...]} or {..., "evidence": [...]}') from None
    if not isinstance(item, dict):
        raise PolicySearchError(f"{where}: a {type(item).__name__}, not a question object with qid and query")
    if "qid" not in item or isinstance(item["qid"], (dict, list)) or item["qid"] is None:
        raise PolicySearchError(f"{where}: qid must be a string or a number")
    if not isinstance(item.get("query"), str) or not item["query"].strip():
        raise PolicySearchError(f"{where}: query must be non-empty text (got {json.dumps(item.get('query'))})")
    labels = {name: _labels(item, name, where) for name in ("relevant_ids", "evidence")}
    if not (labels["relevant_ids"] or labels["evidence"]):
        raise PolicySearchError(f"{where}: question {item['qid']} has neither relevant_ids nor evidence")
    return Query(str(item["qid"]), item["query"], [label(x) for x in labels["relevant_ids"]], labels["evidence"])


def _labels(item: dict, name: str, where: str) -> list[str]:
    """A label field: absent, or a list of non-empty strings (a string alone would be read as its characters)."""
    value = item.get(name, [])
    if not isinstance(value, list) or not all(isinstance(x, str) and squash(x) for x in value):
        raise PolicySearchError(f"{where}: {name} must be a list of non-empty strings (got {json.dumps(value)[:80]})")
    return value


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
