"""A LlamaIndex retriever over a policysearch index: ranked passages as `NodeWithScore`s of
`TextNode`s with their citation in `metadata` (see `integrations.citation`)."""

from __future__ import annotations

import os
from typing import Any

from llama_index.core.retrievers import BaseRetriever
from llama_index.core.schema import NodeWithScore, QueryBundle, TextNode

from ..records import Filters
from . import citation, engine_of


class PolicySearchRetriever(BaseRetriever):
    """`index` is a `PolicySearch` or an index folder; `k` passages per query, in `mode` (the
    index's default when None), kept to `filters` (a `Filters`: source, dates, kind, number)."""

    def __init__(self, index: Any | str | os.PathLike, k: int = 5, mode: str | None = None,
                 filters: Filters | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.index = engine_of(index)
        self.k, self.mode, self.filters = k, mode, filters

    def _retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        hits = self.index.search(query_bundle.query_str, k=self.k, mode=self.mode, filters=self.filters)
        return [NodeWithScore(node=TextNode(text=hit.text, id_=f"{hit.doc_id}#{hit.start}:{hit.end}",
                                            metadata=citation(hit)), score=hit.score) for hit in hits]
