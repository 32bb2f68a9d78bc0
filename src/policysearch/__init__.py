"""policysearch: semantic search and question answering over Chinese policy texts."""

__version__ = "0.1.0"

from .errors import PolicySearchError  # noqa: E402
from .records import Answer, Chunk, Document, Filters, Hit  # noqa: E402
from .search import PolicySearch  # noqa: E402
from .settings import IndexSettings, SearchSettings  # noqa: E402

__all__ = ["PolicySearch", "IndexSettings", "SearchSettings", "Document", "Chunk", "Hit", "Answer", "Filters",
           "PolicySearchError", "__version__"]
