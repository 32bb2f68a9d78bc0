"""What opening an index costs as it grows: 30 k and 1 M passages, built through the real pipeline
from the laws of laws.db (copied, each copy a document of its own, until the count is reached),
BM25 only. Each index is opened in a fresh interpreter: the time the segmenter's dictionary takes
to load (once per process, the same for any index), the time `PolicySearch.open` takes, the first
and the median later BM25 query, and the process's peak memory. The mapping of a
1 M × 384 vector file (what a dense index adds) is timed the same way.

    python benchmarks/opening.py     # benchmarks/results/opening.md (about 15 minutes)
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import replace

import numpy as np

from policysearch import IndexSettings, PolicySearch
from policysearch.text.chunking import Chunker
from policysearch.reading.corpora import laws_db
from policysearch.index.sparse import Vocabulary
from quality import CACHE, DATA, read_jsonl, report
from speed import child, folder_size

LAWS = DATA / "lawsdb" / "laws.db"
SIZES = (30_000, 1_000_000)

OPEN = """
import statistics, sys, time
start = time.perf_counter()
from policysearch import PolicySearch
from policysearch.text.tokenize import Tokenizer
imported = time.perf_counter()
Tokenizer("rjieba")  # the segmenter's dictionary: loaded once per process, whatever the index
segmenter = time.perf_counter()
engine = PolicySearch.open(sys.argv[1])
opened = time.perf_counter()
queries = sys.argv[2].split("|")
engine.search(queries[0], k=10, mode="bm25")
first = time.perf_counter()
later = []
for q in queries[1:]:
    t = time.perf_counter()
    engine.search(q, k=10, mode="bm25")
    later.append(time.perf_counter() - t)
result = {"import_s": imported - start, "segmenter_s": segmenter - imported, "open_s": opened - segmenter,
          "first_query_s": first - opened,
          "query_p50_ms": statistics.median(later) * 1000}
"""

VOCABULARY = """
import json, sys, time
from pathlib import Path
from policysearch.index.sparse import Vocabulary
folder = Path(sys.argv[1])
start = time.perf_counter()
terms = json.loads((folder / "terms.json").read_text(encoding="utf-8"))
as_dict = {term: i for i, term in enumerate(terms)}
read = time.perf_counter()
vocab = Vocabulary.load(folder)
mapped = time.perf_counter()
result = {"json_s": read - start, "mapped_s": mapped - read, "terms": len(vocab)}
"""

MAP = """
import sys, time
import numpy as np
start = time.perf_counter()
vectors = np.load(sys.argv[1], mmap_mode="r")
result = {"map_s": time.perf_counter() - start, "rows": len(vectors)}
"""


def corpus(size: int):
    """Copies of the laws until they hold at least `size` passages."""
    documents, _ = laws_db(LAWS)
    passages = sum(len(Chunker().chunk(doc)) for doc in documents)
    out = []
    for copy in range(-(-size // passages)):
        out += [replace(doc, id=f"{doc.id}~{copy}", path=f"{doc.path}~{copy}") for doc in documents]
    return out


def run(script: str, *args: str) -> dict:
    old = sys.argv
    code = f"import sys\nsys.argv = {['-', *args]!r}\n" + script
    try:
        return child(code)
    finally:
        sys.argv = old


def main() -> int:
    if not LAWS.exists():
        print(f"skip: {LAWS} is missing", file=sys.stderr)
        return 0
    queries = "|".join(r["query"] for r in read_jsonl(DATA / "stard" / "queries_lawsdb.jsonl")[:21])
    rows = []
    for size in SIZES:
        folder = CACHE / "indexes" / f"opening-{size}"
        if not (folder / "CURRENT").exists():
            documents = corpus(size)
            start = time.perf_counter()
            PolicySearch.build_documents(documents, folder, IndexSettings(model=None)).close()
            print(f"built {size:,}: {time.perf_counter() - start:.0f} s", file=sys.stderr)
            del documents
        with PolicySearch.open(folder) as engine:
            passages = engine.count()[1]
            size_mb = folder_size(engine.folder)
        best = min((run(OPEN, str(folder), queries) for _ in range(3)), key=lambda r: r["open_s"])
        rows.append((f"{passages:,}", f"{size_mb:,.0f} MB", f"{best['segmenter_s'] * 1000:.0f} ms",
                     f"{best['open_s'] * 1000:.1f} ms", f"{best['first_query_s'] * 1000:.0f} ms",
                     f"{best['query_p50_ms']:.1f} ms", f"{best['rss_mb']:.0f} MB"))
    vectors = CACHE / "opening-vectors.npy"
    if not vectors.exists():
        rng = np.random.default_rng(0)
        np.save(vectors, rng.standard_normal((SIZES[-1], 384), dtype=np.float32))
    mapped = min((run(MAP, str(vectors)) for _ in range(3)), key=lambda r: r["map_s"])
    words = CACHE / "opening-vocabulary"
    if not words.is_dir():
        words.mkdir()
        rng = np.random.default_rng(0)
        common = [chr(c) for c in range(0x4E00, 0x4E00 + 3000)]
        terms = sorted({"".join(rng.choice(common, int(n))) for n in rng.integers(2, 5, 1_100_000)})[:1_000_000]
        Vocabulary.of(terms)[0].save(words)
        (words / "terms.json").write_text(json.dumps(terms, ensure_ascii=False), encoding="utf-8")
    vocab = min((run(VOCABULARY, str(words)) for _ in range(3)), key=lambda r: r["mapped_s"])
    lines = ["# Opening an index", "", "Command: `python benchmarks/opening.py`; BM25-only indexes of "
             "copied laws.db articles, each opened in a fresh interpreter (best of 3, warm page cache).", "",
             "| passages | index on disk | segmenter dictionary (once per process) | `PolicySearch.open` | first BM25 query "
             "| later queries (p50) | peak RSS |",
             "|---:|---:|---:|---:|---:|---:|---:|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    lines += ["", f"Mapping a {mapped['rows']:,} × 384 vector file (what a dense index adds to opening): "
              f"{mapped['map_s'] * 1000:.1f} ms.", "",
              f"A vocabulary of {vocab['terms']:,} distinct terms: read as a JSON list into a dict (the format "
              f"before) {vocab['json_s'] * 1000:.0f} ms; mapped as a sorted term array (now) {vocab['mapped_s'] * 1000:.1f} ms."]
    report("opening.md", lines)
    return 0


if __name__ == "__main__":
    sys.exit(main())
