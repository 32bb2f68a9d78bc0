"""`policysearch serve`: the search page and a JSON API over one index (FastAPI on uvicorn).

Everything the page loads comes from the package's `web/` folder: no build step, no CDN. One
engine serves searches and answers behind a lock (a search takes milliseconds, an answer at most
`MAX_ASK_K` passages); health and documents are read beside it, so they never queue behind them.
Between requests the server follows the index: a version published by `policysearch index` while
it runs is served from the next request on.
A server on a loopback address answers only requests addressed to a loopback name (no DNS
rebinding), and a raw UTF-8 query string (`curl '...?q=什么是五环工作格局'`) is accepted.
"""

from __future__ import annotations

import contextlib
import ipaddress
import socket
import sys
import threading
from dataclasses import asdict
from collections.abc import Sequence
from importlib import resources
from pathlib import PurePath
from typing import TYPE_CHECKING

from ..answering.spans import load_tagger
from ..errors import PolicySearchError
from ..records import Filters
from ..search import MAX_ASK_K
from ..searching.searcher import check_query
from ..settings import MODES
from ..index.store import Store

if TYPE_CHECKING:
    from fastapi import FastAPI

    from ..search import PolicySearch

MAX_K = 100
MAX_DOCUMENT_CHARS = 200_000  # the most text one /api/documents response carries
MAX_REQUEST_BYTES = 256 * 1024  # a request line and headers: room for a pasted judgment as a query
LOOPBACK_NAMES = frozenset({"127.0.0.1", "localhost", "[::1]", "::1"})


def create_app(engine: PolicySearch, hosts: frozenset[str] | None = LOOPBACK_NAMES) -> FastAPI:
    """The ASGI app: `/` the page, `/view` a document at a cited place, `/api/*` the JSON API.
    `hosts`: the host names requests may be addressed to (None: any)."""
    from fastapi import FastAPI, Query, Request
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import FileResponse, JSONResponse
    from fastapi.staticfiles import StaticFiles
    from starlette.exceptions import HTTPException

    from ..version import __version__

    web = resources.files("policysearch") / "web"
    lock = threading.Lock()  # the engine: searches, answers and following new versions
    reader_lock = threading.Lock()  # documents and counts, read beside the searches
    state: dict = {}

    def load_state() -> None:
        reader = engine.searcher.reader()
        documents, passages = reader.count()
        info = {"status": "ok", "index": str(engine.root), "documents": documents, "passages": passages,
                "model": engine.manifest["model"]["name"] if engine.manifest.get("model") else None,
                "modes": list(MODES) if engine.has_vectors else ["bm25"],
                "default_mode": engine.search_settings.mode if engine.has_vectors else "bm25",
                "sources": reader.sources(), "version": __version__, "folder": engine.folder.name}
        with reader_lock:
            old, state["reader"], state["info"] = state.get("reader"), reader, info
        if old is not None:
            old.close()

    def follow() -> None:
        """Between requests: serve a version another process published (`policysearch index`), also
        when the MCP endpoint moved the engine to it first."""
        if engine.refresh() or engine.folder.name != state["info"]["folder"]:
            load_state()

    def follow_if_published() -> None:
        """For the reads beside the engine: take the lock only when a new version is there."""
        try:
            changed = Store(engine.root).current().name != state["info"]["folder"]
        except PolicySearchError:
            changed = False
        if changed:
            with lock:
                follow()

    load_state()
    assistant, sessions = _assistant(engine, lock, hosts)

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI):
        if sessions is None:
            yield
            return
        async with sessions.run():
            yield

    app = FastAPI(title="policysearch", version=__version__, docs_url=None, redoc_url=None, lifespan=lifespan,
                  description="Search Chinese policy documents: ranked passages with citations, and answers.")

    @app.middleware("http")
    async def addressed_here(request: Request, call_next):
        host = _host_name(request.headers.get("host", ""))
        if hosts is not None and host not in hosts:
            return JSONResponse({"error": f"host '{host}' is not served here; this server answers to "
                                          f"{', '.join(sorted(hosts))} (serve --allow-host NAME adds one)"}, status_code=403)
        return await call_next(request)

    @app.exception_handler(HTTPException)
    def http_error(_: Request, err: HTTPException) -> JSONResponse:
        return JSONResponse({"error": str(err.detail)}, status_code=err.status_code)

    @app.exception_handler(PolicySearchError)
    def user_error(_: Request, err: PolicySearchError) -> JSONResponse:
        return JSONResponse({"error": str(err)}, status_code=400)

    @app.exception_handler(RequestValidationError)
    def bad_parameter(_: Request, err: RequestValidationError) -> JSONResponse:
        first = err.errors()[0]
        field = ".".join(str(p) for p in first.get("loc", ())[1:]) or "request"
        return JSONResponse({"error": f"{field}: {first.get('msg', 'invalid value')}"}, status_code=400)

    def filters(source: str, date_from: str, date_to: str, kind: str, number: str) -> Filters:
        return Filters(source.strip(), date_from.strip(), date_to.strip(), kind.strip(), number.strip())

    @app.get("/api/search", summary="Ranked passages for a query")
    def search(q: str = Query("", description="question or keywords"), k: int = Query(10, ge=1, le=MAX_K),
               mode: str = Query("", description="bm25, dense or hybrid (default: the index's)"),
               source: str = "", date_from: str = "", date_to: str = "", kind: str = "", number: str = "") -> dict:
        query = _check(q)
        scope = filters(source, date_from, date_to, kind, number)
        with lock:
            follow()
            hits = engine.search(query, k=k, mode=mode or None, filters=scope)
            notice = engine.notice(q, scope)
        return {"query": query, "hits": [_public(asdict(h)) for h in hits], "notice": notice}

    @app.get("/api/ask", summary="The span that answers a question (a sentence, a list, a row…), with its citation")
    def ask(q: str = "", k: int = Query(3, ge=1, le=MAX_ASK_K), mode: str = "",
            source: str = "", date_from: str = "", date_to: str = "", kind: str = "", number: str = "") -> dict:
        question = _check(q)
        scope = filters(source, date_from, date_to, kind, number)
        with lock:
            follow()
            answer = engine.ask(question, k=k, mode=mode or None, filters=scope)
        body = _public(asdict(answer))
        body["passages"] = [_public(h) for h in body["passages"]]
        return body

    @app.get("/api/documents/{doc_id:path}", summary="A document's metadata and text (a window of it when long)")
    def document(doc_id: str, start: int = Query(0, ge=0, description="first character of the text to return"),
                 length: int = Query(MAX_DOCUMENT_CHARS, ge=1, le=MAX_DOCUMENT_CHARS)) -> dict:
        follow_if_published()
        with reader_lock:
            found = state["reader"].document(doc_id)
        if found is None:
            return JSONResponse({"error": f"{doc_id}: no such document in this index"}, status_code=404)
        body = _public(asdict(found))
        body.update(text=found.text[start:start + length], start=start, length=len(found.text))
        return body

    @app.get("/api/health", summary="The index being served")
    def health() -> dict:
        follow_if_published()
        info = {key: value for key, value in state["info"].items() if key != "folder"}
        try:
            return {**info, **engine.searcher.health()}
        except PolicySearchError as err:
            return JSONResponse({**info, "status": "unavailable", "error": str(err)}, status_code=503)

    @app.get("/", include_in_schema=False)
    @app.get("/view", include_in_schema=False)
    def page() -> FileResponse:
        return FileResponse(str(web / "index.html"), media_type="text/html; charset=utf-8")

    app.mount("/static", StaticFiles(directory=str(web)), name="static")
    if assistant is not None:
        app.mount("/mcp", assistant)
    return app


def _assistant(engine: PolicySearch, lock: threading.Lock, hosts: frozenset[str] | None) -> tuple[object, object]:
    """The MCP endpoint for /mcp and its session manager, when the mcp extra is installed (else None, None)."""
    try:
        from ..integrations.mcp_server import http_app
    except ImportError:
        return None, None
    return http_app(engine, lock, hosts)


def _check(query: str) -> str:
    try:
        return check_query(query)
    except PolicySearchError as err:
        raise PolicySearchError(f"q: {err}") from None


def _public(record: dict) -> dict:
    """A hit, answer or document as the API shows it: the file's name, not the server's path."""
    if record.get("path"):
        record["path"] = PurePath(record["path"]).name
    return record


def _host_name(header: str) -> str:
    """The host name of a `Host` header, without its port: `[::1]:8000` → `[::1]`."""
    header = header.strip().lower()
    if header.startswith("["):
        return header.split("]")[0] + "]"
    return header.rsplit(":", 1)[0] if header.count(":") == 1 else header


def allowed_hosts(bound: str, extra: list[str]) -> frozenset[str] | None:
    """Host names a server bound to `bound` answers to: loopback names when it listens on a
    loopback address, plus `extra`; None (any) when it listens on a public address."""
    try:
        loopback = bound == "localhost" or ipaddress.ip_address(bound.strip("[]")).is_loopback
    except ValueError:
        loopback = False
    return LOOPBACK_NAMES | {_host_name(h) for h in extra} if loopback else None


def listen(host: str, port: int) -> socket.socket:
    """A bound, listening socket, so a busy port is one clear error before anything starts."""
    try:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
    except OSError as err:
        raise PolicySearchError(f"cannot listen on {host}:{port} ({err.strerror or err}); "
                                "pass another --port or --host") from None
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


def serve(engine: PolicySearch, host: str = "127.0.0.1", port: int = 8000, allow_hosts: Sequence[str] = ()) -> None:
    """Serve until interrupted, printing the address to open (port 0 picks a free one)."""
    try:
        import fastapi  # noqa: F401
        import uvicorn
    except ImportError:
        raise PolicySearchError("the web page and API need the server extra: pip install 'policysearch[server]'") from None

    sock = listen(host, port)
    engine.ask("关心下一代工作的主要任务是什么")  # load the segmenter, query model and citation table before the first visitor
    threading.Thread(target=load_tagger, name="policysearch-tagger", daemon=True).start()  # and the name tagger, meanwhile
    bound = sock.getsockname()[1]
    shown = f"[{host}]" if ":" in host else host
    app = create_app(engine, allowed_hosts(host, list(allow_hosts)))
    print(f"policysearch: serving {engine.root} at http://{shown}:{bound}/ (Ctrl-C to stop)", file=sys.stderr, flush=True)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False, http=_protocol(),
                                           h11_max_incomplete_event_size=MAX_REQUEST_BYTES))
    server.run(sockets=[sock])


HEAD_SECONDS = 15.0  # a request line and headers must arrive within this, or the connection is closed (slowloris)
MAX_CONNECTIONS = 256  # connections open at once; one more is closed as it is accepted


class _RequestHeads:
    """Follows the requests on one connection (pipelined ones too) so that the raw UTF-8 in each
    request line is percent-encoded however the line is split over reads, and knows when a
    request head is on its way (for the head timeout)."""

    def __init__(self) -> None:
        self.state = "line"  # line, headers, body, or opaque once a chunked body leaves the framing to h11 alone
        self.line = b""
        self.length = 0

    @property
    def in_head(self) -> bool:
        """Whether part of a request line or of its headers has come, and not yet the rest."""
        return self.state == "headers" or self.state == "line" and bool(self.line.strip())

    def feed(self, data: bytes) -> bytes:
        """The bytes as h11 is to parse them."""
        out, i = bytearray(), 0
        while i < len(data):
            if self.state in ("line", "headers"):
                end = data.find(b"\n", i)
                part = data[i:] if end < 0 else data[i:end + 1]
                i += len(part)
                if self.state == "line" and not part.isascii():
                    part = b"".join(b"%%%02X" % byte if byte > 0x7F else bytes([byte]) for byte in part)
                out += part
                self.line = (self.line + part)[-8192:]
                if end >= 0:
                    self._line_ended()
            elif self.state == "body":
                take = data[i:i + self.length]
                out += take
                i += len(take)
                self.length -= len(take)
                if not self.length:
                    self.state = "line"
            else:
                out += data[i:]
                break
        return bytes(out)

    def _line_ended(self) -> None:
        line, self.line = self.line.strip().lower(), b""
        if self.state == "line":
            if line:  # blank lines between pipelined requests are no request line
                self.state, self.length = "headers", 0
        elif not line:  # the end of the head
            self.state = "body" if self.length else "line"
        elif line.startswith(b"content-length:"):
            value = line.split(b":", 1)[1].strip()
            self.length = int(value) if value.isdigit() else 0
        elif line.startswith(b"transfer-encoding:"):
            self.state = "opaque"


def _protocol() -> type:
    """uvicorn's HTTP/1.1 protocol (h11), made to take a raw UTF-8 request line, as curl sends
    `?q=什么是五环工作格局` (its bytes above 0x7f are percent-encoded before parsing), to answer a
    request it cannot parse with a JSON error like every other, to close a connection whose
    request head has not arrived within `HEAD_SECONDS`, and to refuse connections past
    `MAX_CONNECTIONS`."""
    import json

    import h11
    from uvicorn.protocols.http.h11_impl import H11Protocol

    class Protocol(H11Protocol):
        def connection_made(self, transport) -> None:  # type: ignore[no-untyped-def]
            self.heads = _RequestHeads()
            self.head_timer = None
            super().connection_made(transport)
            if len(self.connections) > MAX_CONNECTIONS:
                self.transport.close()
                return
            self._wait_for_head()

        def _wait_for_head(self) -> None:
            if self.head_timer is None:
                self.head_timer = self.loop.call_later(HEAD_SECONDS, self._head_too_slow)

        def _head_too_slow(self) -> None:
            self.head_timer = None
            if not self.transport.is_closing():
                self.transport.close()

        def connection_lost(self, exc: Exception | None) -> None:
            if self.head_timer is not None:
                self.head_timer.cancel()
                self.head_timer = None
            super().connection_lost(exc)

        def data_received(self, data: bytes) -> None:
            data = self.heads.feed(data)
            if self.heads.in_head:
                self._wait_for_head()
            elif self.head_timer is not None:
                self.head_timer.cancel()
                self.head_timer = None
            super().data_received(data)

        def send_400_response(self, msg: str) -> None:
            body = json.dumps({"error": f"not a valid HTTP request ({msg.rstrip('.')})"}).encode()
            for event in (h11.Response(status_code=400, reason=b"Bad Request", headers=[
                              (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                              (b"connection", b"close")]),
                          h11.Data(data=body), h11.EndOfMessage()):
                self.transport.write(self.conn.send(event))
            self.transport.close()

    return Protocol
