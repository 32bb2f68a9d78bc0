"""Retrievers for the frameworks users build assistants with: `langchain` (extra `[langchain]`)
and `llamaindex` (extra `[llamaindex]`). Importing `policysearch` never imports them."""

from __future__ import annotations

import os
from typing import Any

from ..records import Hit


def citation(hit: Hit) -> dict[str, Any]:
    """What a framework's document carries besides the text: where to check it (document, title,
    date, source, number, section, article, `start`:`end` in the document) and how it ranked."""
    return {"doc_id": hit.doc_id, "title": hit.title, "date": hit.date, "source": hit.source, "number": hit.number,
            "section": hit.section, "article": hit.article, "path": hit.path, "start": hit.start, "end": hit.end,
            "rank": hit.rank, "score": hit.score}


def engine_of(index: Any) -> Any:
    """A `PolicySearch` as given, or the index at a path opened."""
    from ..search import PolicySearch

    return index if isinstance(index, PolicySearch) else PolicySearch.open(os.fspath(index))
