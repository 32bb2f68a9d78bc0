"""`policysearch serve`: the search page and a JSON API over one index (FastAPI on uvicorn).

Everything the page loads comes from the package's `web/` folder: no build step, no CDN. One
engine serves every request behind a lock; a search takes milliseconds, so requests queue briefly
instead of sharing SQLite and model state across threads.
"""

from __future__ import annotations

import socket
import sys
import threading
from dataclasses import asdict
from importlib import resources
from typing import TYPE_CHECKING

from .errors import PolicySearchError
from .records import Filters
from .search import MAX_QUERY_CHARS, MODES

if TYPE_CHECKING:
    from fastapi import FastAPI

    from .search import PolicySearch

MAX_K = 100


def create_app(engine: "PolicySearch") -> "FastAPI":
    """The ASGI app: `/` the page, `/view` a document at a cited place, `/api/*` the JSON API."""
    from fastapi import FastAPI, Query, Request
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import FileResponse, JSONResponse
    from fastapi.staticfiles import StaticFiles

    from . import __version__

    web = resources.files("policysearch") / "web"
    lock = threading.Lock()
    app = FastAPI(title="policysearch", version=__version__, docs_url=None, redoc_url=None,
                  description="Search Chinese policy documents: ranked passages with citations, and answers.")

    @app.exception_handler(PolicySearchError)
    def user_error(_: Request, err: PolicySearchError) -> JSONResponse:
        return JSONResponse({"error": str(err)}, status_code=400)

    @app.exception_handler(RequestValidationError)
    def bad_parameter(_: Request, err: RequestValidationError) -> JSONResponse:
        first = err.errors()[0]
        field = ".".join(str(p) for p in first.get("loc", ())[1:]) or "request"
        return JSONResponse({"error": f"{field}: {first.get('msg', 'invalid value')}"}, status_code=400)

    def filters(source: str, date_from: str, date_to: str, kind: str) -> Filters:
        return Filters(source.strip(), date_from.strip(), date_to.strip(), kind.strip())

    @app.get("/api/search", summary="Ranked passages for a query")
    def search(q: str = Query("", description="question or keywords"), k: int = Query(10, ge=1, le=MAX_K),
               mode: str = Query("", description="bm25, dense or hybrid (default: the index's)"),
               source: str = "", date_from: str = "", date_to: str = "", kind: str = "") -> dict:
        query = _check(q)
        with lock:
            hits = engine.search(query, k=k, mode=_mode(mode), filters=filters(source, date_from, date_to, kind))
        return {"query": query, "hits": [asdict(h) for h in hits]}

    @app.get("/api/ask", summary="The sentence that answers a question, with its citation")
    def ask(q: str = "", k: int = Query(3, ge=1, le=MAX_K), mode: str = "",
            source: str = "", date_from: str = "", date_to: str = "", kind: str = "") -> dict:
        question = _check(q)
        with lock:
            answer = engine.ask(question, k=k, mode=_mode(mode), filters=filters(source, date_from, date_to, kind))
        return asdict(answer)

    @app.get("/api/documents/{doc_id:path}", summary="A document's text and metadata")
    def document(doc_id: str) -> dict:
        with lock:
            found = engine.passages.document(doc_id)
        if found is None:
            return JSONResponse({"error": f"{doc_id}: no such document in this index"}, status_code=404)
        return asdict(found)

    @app.get("/api/health", summary="The index being served")
    def health() -> dict:
        with lock:
            documents, passages = engine.passages.count()
            sources = engine.passages.sources()
        model = engine.manifest.get("model")
        return {"status": "ok", "index": str(engine.root), "documents": documents, "passages": passages,
                "model": model["name"] if model else None,
                "modes": list(MODES) if engine.has_vectors else ["bm25"],
                "default_mode": engine.settings.mode if engine.has_vectors else "bm25",
                "sources": sources, "version": __version__}

    @app.get("/", include_in_schema=False)
    @app.get("/view", include_in_schema=False)
    def page() -> FileResponse:
        return FileResponse(str(web / "index.html"), media_type="text/html; charset=utf-8")

    app.mount("/static", StaticFiles(directory=str(web)), name="static")
    return app


def _check(query: str) -> str:
    if not query.strip():
        raise PolicySearchError("q: the query is empty; type a question or some keywords")
    if len(query) > MAX_QUERY_CHARS:
        raise PolicySearchError(f"q: the query has {len(query)} characters; the limit is {MAX_QUERY_CHARS}")
    return query


def _mode(mode: str) -> str | None:
    if mode and mode not in MODES:
        raise PolicySearchError(f"mode: '{mode}' is unknown; use one of {', '.join(MODES)}")
    return mode or None


def listen(host: str, port: int) -> socket.socket:
    """A bound, listening socket, so a busy port is one clear error before anything starts."""
    try:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
    except OSError as err:
        raise PolicySearchError(f"cannot listen on {host}:{port} ({err.strerror or err}); pass another --port or --host")
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


def serve(engine: "PolicySearch", host: str = "127.0.0.1", port: int = 8000) -> None:
    """Serve until interrupted, printing the address to open (port 0 picks a free one)."""
    import uvicorn

    sock = listen(host, port)
    engine.ask("关心下一代工作的主要任务是什么")  # load the segmenter, query model and citation table before the first visitor
    bound = sock.getsockname()[1]
    shown = f"[{host}]" if ":" in host else host
    app = create_app(engine)
    print(f"policysearch: serving {engine.root} at http://{shown}:{bound}/ (Ctrl-C to stop)", file=sys.stderr, flush=True)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False))
    server.run(sockets=[sock])
