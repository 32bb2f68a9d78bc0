"""The LangChain and LlamaIndex retrievers, run through each framework's own API on a real index."""

from __future__ import annotations

import subprocess
import sys

import pytest

from policysearch import Filters, PolicySearch

from conftest import FIVE_RINGS

pytest.importorskip("langchain_core")
pytest.importorskip("llama_index.core")


def test_langchain_retriever_returns_cited_documents(corpus_index: PolicySearch) -> None:
    from policysearch.integrations.langchain import PolicySearchRetriever

    documents = PolicySearchRetriever(index=corpus_index, k=3).invoke("什么是五环工作格局")
    assert len(documents) == 3 and any(FIVE_RINGS in d.page_content for d in documents)
    for document in documents:
        cited = document.metadata
        text = corpus_index.document(cited["doc_id"]).text
        assert text[cited["start"]:cited["end"]] == document.page_content
        assert (cited["title"], cited["date"]) == ("烟台市关工委召开主任办公会扩大会议", "2021-06-09")
        assert cited["source"] == "烟台市关工委"
    assert [d.metadata["rank"] for d in documents] == [1, 2, 3]


def test_langchain_retriever_opens_an_index_folder_and_takes_filters(corpus_index: PolicySearch) -> None:
    from policysearch.integrations.langchain import PolicySearchRetriever

    retriever = PolicySearchRetriever(index=str(corpus_index.root), mode="bm25", filters=Filters(date_from="2022"))
    assert retriever.invoke("五环工作格局") == []
    assert PolicySearchRetriever(index=corpus_index.root, mode="bm25", filters=Filters(source="关工委")).invoke("五环工作格局")


def test_llamaindex_retriever_returns_scored_nodes_with_citations(corpus_index: PolicySearch) -> None:
    from llama_index.core.schema import QueryBundle

    from policysearch.integrations.llamaindex import PolicySearchRetriever

    retriever = PolicySearchRetriever(corpus_index, k=3)
    nodes = retriever.retrieve("什么是五环工作格局")
    assert len(nodes) == 3 and any(FIVE_RINGS in n.node.get_content() for n in nodes)
    assert [n.score for n in nodes] == sorted((n.score for n in nodes), reverse=True)
    first = nodes[0].node
    assert corpus_index.document(first.metadata["doc_id"]).text[first.metadata["start"]:first.metadata["end"]] == first.text
    kept = PolicySearchRetriever(str(corpus_index.root), filters=Filters(date_to="2020")).retrieve(QueryBundle("五环工作格局"))
    assert kept == []


def test_importing_policysearch_imports_no_framework(corpus_index: PolicySearch) -> None:
    code = (f"from policysearch import PolicySearch\nPolicySearch.open({str(corpus_index.root)!r}).search('五环', mode='bm25')\n"
            "import sys\nassert not {'langchain_core', 'llama_index'} & {m.split('.')[0] for m in sys.modules}")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)
