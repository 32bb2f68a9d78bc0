"""policysearch: semantic search and question answering over Chinese policy texts.

The names below are imported on first use, so `import policysearch` (and each file-reading
worker, which needs only the loaders) does not load the whole pipeline."""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from .version import __version__

if TYPE_CHECKING:
    from .errors import PolicySearchError
    from .records import Answer, Chunk, Document, DocumentInfo, Filters, Hit
    from .search import PolicySearch
    from .settings import IndexSettings, SearchSettings

_HOMES = {"PolicySearch": "search", "IndexSettings": "settings", "SearchSettings": "settings", "Document": "records",
          "DocumentInfo": "records", "Chunk": "records", "Hit": "records", "Answer": "records", "Filters": "records",
          "PolicySearchError": "errors"}

__all__ = ["PolicySearch", "IndexSettings", "SearchSettings", "Document", "DocumentInfo", "Chunk", "Hit", "Answer",
           "Filters", "PolicySearchError", "__version__"]


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'policysearch' has no attribute {name!r}")
    value = getattr(import_module(f".{home}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
