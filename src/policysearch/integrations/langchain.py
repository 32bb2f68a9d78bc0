"""A LangChain retriever over a policysearch index: ranked passages as LangChain `Document`s with
their citation in `metadata` (see `integrations.citation`)."""

from __future__ import annotations

from typing import Any

from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from pydantic import ConfigDict

from ..records import Filters
from . import citation, engine_of


class PolicySearchRetriever(BaseRetriever):
    """`index` is a `PolicySearch` or an index folder; `k` passages per query, in `mode` (the
    index's default when None), kept to `filters` (a `Filters`: source, dates, kind, number)."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    index: Any
    k: int = 5
    mode: str | None = None
    filters: Filters | None = None

    def model_post_init(self, context: Any) -> None:
        self.index = engine_of(self.index)

    def _get_relevant_documents(self, query: str, *, run_manager: CallbackManagerForRetrieverRun) -> list[Document]:
        hits = self.index.search(query, k=self.k, mode=self.mode, filters=self.filters)
        return [Document(page_content=hit.text, metadata=citation(hit), id=f"{hit.doc_id}#{hit.start}:{hit.end}")
                for hit in hits]
