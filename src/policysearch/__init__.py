"""policysearch: semantic search and question answering over Chinese policy texts."""

from .errors import PolicySearchError
from .records import Answer, Chunk, Document, DocumentInfo, Filters, Hit
from .search import PolicySearch
from .settings import IndexSettings, SearchSettings
from .version import __version__

__all__ = ["PolicySearch", "IndexSettings", "SearchSettings", "Document", "DocumentInfo", "Chunk", "Hit", "Answer",
           "Filters", "PolicySearchError", "__version__"]
