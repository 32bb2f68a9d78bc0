"""`policysearch mcp`: the index as tools for an AI assistant, over the Model Context Protocol
(the official `mcp` SDK, extra `[mcp]`). Every result carries its citation; every error is a
tool error with the same one-line message the CLI prints. One engine answers the calls behind a
lock and follows the index, as `serve` does."""

from __future__ import annotations

import threading
from typing import Any

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from typing_extensions import TypedDict

from ..answering.spans import load_tagger
from ..errors import PolicySearchError
from ..eval import squash
from ..records import Filters, Hit
from ..search import MAX_ASK_K, PolicySearch
from ..version import __version__

MAX_K = 50
MAX_WINDOW = 20_000  # characters of a document one get_document call returns: an assistant's context is small
INSTRUCTIONS = ("Search Chinese policy documents (laws, notices, meeting minutes, work plans). Cite what you "
                "use by title and doc_id with start:end; check a quote with verify_quote before repeating it.")


class Citation(TypedDict):
    """Where a passage stands: its document and the characters `start`:`end` of its text."""

    doc_id: str
    title: str
    date: str
    source: str
    number: str
    section: str
    article: str
    start: int
    end: int


class Passage(TypedDict):
    rank: int
    score: float
    text: str
    citation: Citation


class SearchResult(TypedDict):
    query: str
    passages: list[Passage]
    notice: str


class AskResult(TypedDict):
    question: str
    answered: bool
    answer: str
    confidence: float
    citation: Citation | None
    message: str
    passages: list[Passage]


class DocumentWindow(TypedDict):
    doc_id: str
    title: str
    date: str
    source: str
    number: str
    text: str
    start: int
    end: int
    length: int


class DocumentEntry(TypedDict):
    doc_id: str
    kind: str
    title: str
    date: str
    source: str
    passages: int


class DocumentList(TypedDict):
    documents: list[DocumentEntry]


class QuoteCheck(TypedDict):
    verified: bool
    text_at_offsets: str
    found_at: list[int]
    citation: Citation


def citation(hit: Hit) -> Citation:
    return Citation(doc_id=hit.doc_id, title=hit.title, date=hit.date, source=hit.source, number=hit.number,
                    section=hit.section, article=hit.article, start=hit.start, end=hit.end)


def passage(hit: Hit) -> Passage:
    return Passage(rank=hit.rank, score=round(hit.score, 4), text=hit.text, citation=citation(hit))


def create_server(engine: PolicySearch, lock: threading.Lock | None = None) -> MCPServer:
    """The MCP server over an open index, with its six tools; `lock` guards the engine (share the
    one of a web server that uses it too)."""
    server = MCPServer(name="policysearch", version=__version__, instructions=INSTRUCTIONS, log_level="WARNING")
    lock = lock or threading.Lock()

    def run(call: Any) -> Any:
        """One engine call under the lock, on the latest published version; our errors become tool errors."""
        with lock:
            try:
                engine.refresh()
                return call()
            except PolicySearchError as err:
                raise ToolError(str(err)) from None

    def filters(source: str, date_from: str, date_to: str, kind: str, number: str) -> Filters | None:
        if not any((source, date_from, date_to, kind, number)):
            return None
        return Filters(source.strip(), date_from.strip(), date_to.strip(), kind.strip(), number.strip())

    @server.tool()
    def search(query: str, k: int = 5, mode: str = "", source: str = "", date_from: str = "", date_to: str = "",
               kind: str = "", number: str = "") -> SearchResult:
        """Ranked passages of the indexed documents for a question or keywords, each with its citation.
        mode: bm25, dense or hybrid (empty: the index's default). Filters: source (issuer, or a short
        form such as 关工委), date_from / date_to (2021-06-09, 2021年6月), kind (file type: pdf, docx…),
        number (part of a document number such as 〔2021〕3号)."""
        if not 1 <= k <= MAX_K:
            raise ToolError(f"k must be 1 to {MAX_K} (got {k})")

        def call() -> SearchResult:
            scope = filters(source, date_from, date_to, kind, number)
            hits = engine.search(query, k=k, mode=mode or None, filters=scope)
            return SearchResult(query=query, passages=[passage(h) for h in hits], notice=engine.notice(query, scope))

        return run(call)

    @server.tool()
    def ask(question: str, k: int = 3, mode: str = "", source: str = "", date_from: str = "", date_to: str = "",
            kind: str = "", number: str = "") -> AskResult:
        """The span of the documents that answers a question (a sentence, a list, a table row, a
        heading's body, a whole law article), its citation and confidence, and the passages it was
        read from; answered is false when nothing in the index answers it. Filters as for search."""
        if not 1 <= k <= MAX_ASK_K:
            raise ToolError(f"k for ask must be 1 to {MAX_ASK_K} (got {k})")

        def call() -> AskResult:
            found = engine.ask(question, k=k, mode=mode or None, filters=filters(source, date_from, date_to, kind, number))
            cited = Citation(doc_id=found.doc_id, title=found.title, date=found.date, source=found.source,
                             number=found.number, section=found.section, article=found.article,
                             start=found.start, end=found.end) if found.answered else None
            return AskResult(question=found.question, answered=found.answered, answer=found.text,
                             confidence=round(found.confidence, 4), citation=cited, message=found.message,
                             passages=[passage(h) for h in found.passages])

        return run(call)

    @server.tool()
    def get_document(doc_id: str, start: int = 0, length: int = 4000) -> DocumentWindow:
        """A window of a document's text: `length` characters (at most 20000) from `start`, with its
        metadata; `length` in the result is the whole document's. Use it to read around a citation."""
        if start < 0 or not 1 <= length <= MAX_WINDOW:
            raise ToolError(f"start must be 0 or more and length 1 to {MAX_WINDOW} (got {start}, {length})")

        def call() -> DocumentWindow:
            doc = engine.document(doc_id)
            text = doc.text[start:start + length]
            return DocumentWindow(doc_id=doc.id, title=doc.title, date=doc.date, source=doc.source,
                                  number=doc.meta.get("number", ""), text=text, start=start, end=start + len(text),
                                  length=len(doc.text))

        return run(call)

    @server.tool()
    def list_documents() -> DocumentList:
        """Every indexed document: id, file type, title, date, source and passage count."""
        return run(lambda: DocumentList(documents=[
            DocumentEntry(doc_id=d.id, kind=d.kind, title=d.title, date=d.date, source=d.source, passages=d.passages)
            for d in engine.list_documents()]))

    @server.tool()
    def lookup_article(reference: str) -> Passage:
        """The whole text of the law article a reference names, such as 未成年人保护法第十二条 or
        《中华人民共和国民法典》第1084条, with its citation; an error says when the law or the article
        is not in this index."""

        def call() -> Passage:
            found = engine.article(reference)
            if found is None:
                raise PolicySearchError(engine.notice(reference) or f"'{reference}' names no article of a law in this "
                                        "index; write the law's name and the article, like 未成年人保护法第十二条")
            return passage(found)

        return run(call)

    @server.tool()
    def verify_quote(doc_id: str, start: int, end: int, text: str) -> QuoteCheck:
        """Whether `text` is what document `doc_id` says at characters `start`:`end` (spaces and
        full-width forms aside). Check a citation before repeating it: text_at_offsets is what the
        document says there, found_at where else the text occurs in it (empty: nowhere)."""
        if not 0 <= start < end:
            raise ToolError(f"start and end must satisfy 0 <= start < end (got {start}, {end})")

        def call() -> QuoteCheck:
            doc = engine.document(doc_id)
            there = doc.text[start:end]
            wanted = squash(text)
            hit = Hit(rank=0, score=0.0, text=there, doc_id=doc.id, title=doc.title, date=doc.date, source=doc.source,
                      path="", start=start, end=min(end, len(doc.text)), number=doc.meta.get("number", ""))
            return QuoteCheck(verified=bool(wanted) and squash(there) == wanted, text_at_offsets=there,
                              found_at=_occurrences(doc.text, text)[:10], citation=citation(hit))

        return run(call)

    return server


def _occurrences(text: str, quote: str) -> list[int]:
    """Where `quote` starts in `text`, exactly as written."""
    found, at = [], text.find(quote) if quote else -1
    while at >= 0:
        found.append(at)
        at = text.find(quote, at + 1)
    return found


def http_app(engine: PolicySearch, lock: threading.Lock, hosts: frozenset[str] | None) -> tuple[Any, Any]:
    """The streamable-HTTP MCP endpoint as an ASGI app for `serve` to mount at /mcp, and the
    session manager its lifespan must run; `hosts` as for the web server (None: any)."""
    from mcp.server.transport_security import TransportSecuritySettings

    server = create_server(engine, lock)
    security = TransportSecuritySettings(enable_dns_rebinding_protection=hosts is not None,
                                         allowed_hosts=[f"{h}:*" for h in hosts or ()] + list(hosts or ()))
    app = server.streamable_http_app(streamable_http_path="/", stateless_http=True, json_response=True,
                                     transport_security=security)
    return app, server.session_manager


def serve_stdio(engine: PolicySearch) -> None:
    """Answer one assistant over stdin/stdout until it closes them."""
    threading.Thread(target=load_tagger, name="policysearch-tagger", daemon=True).start()  # before the first who-question
    create_server(engine).run("stdio")
