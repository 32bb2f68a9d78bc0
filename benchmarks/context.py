"""Before and after context-aware indexing, on the same code and the same question halves: the
settings of before (bare passage text, no corpus terms, no document evidence, split articles
shown in parts) against the defaults chosen on dev by `tune.py`, and the laws read as plain
`.txt` files with chapter lines (`laws_db(as_files=True)`) beside the one-line-per-article layout.

Every question set is split in two by a hash of the question id: `dev` chose, `test` reports.

    python benchmarks/context.py     # benchmarks/results/context.md (about 30 minutes)
"""

from __future__ import annotations

import json
import sys

from policysearch import IndexSettings, SearchSettings
from policysearch.reading.corpora import laws_db
from policysearch.eval import evaluate
from quality import CACHE, CODE, DATA, DEPTH, Benchmark, benchmarks, open_index, report, split

BEFORE = (IndexSettings(context="none", terms="none"), SearchSettings(document_weight=0.0, article_max=0))
AFTER = (IndexSettings(), SearchSettings())
VARIANTS = [("before", "given", BEFORE), ("after", "given", AFTER), ("after", "law files", AFTER)]
MODES = ("bm25", "dense", "hybrid")


def main() -> int:
    sets = benchmarks(False, None)
    if not sets:
        print("skip: no benchmark data under ../shared/data", file=sys.stderr)
        return 0
    files = None
    rows = []
    for bench in sets:
        for name, layout, (index, search) in VARIANTS:
            target = bench
            if layout == "law files":
                if bench.index != "laws":
                    continue
                files = files or laws_db(DATA / "lawsdb" / "laws.db", as_files=True)[0]
                target = Benchmark(bench.name, "laws-files", files, bench.queries)
            engine = open_index(target, index, "" if name == "after" else "-before")
            engine.search_settings = search
            saved = CACHE / "results" / f"context-{bench.name}-{name}-{layout}-{engine.folder.name}-{CODE}.json"
            if saved.exists():
                scores = json.loads(saved.read_text(encoding="utf-8"))
            else:
                scores = {f"{part}/{mode}": evaluate(lambda q, m=mode, e=engine: e.search(q, k=DEPTH, mode=m),
                                                     [q for q in bench.queries if split(q) == part])
                          for part in ("dev", "test") for mode in MODES}
                saved.parent.mkdir(parents=True, exist_ok=True)
                saved.write_text(json.dumps(scores), encoding="utf-8")
            rows.append((bench.name, name, layout, scores))
            print(f"{bench.name} {name} {layout}: done", file=sys.stderr)
    lines = ["# Context-aware indexing, before and after", "", "Command: `python benchmarks/context.py`. Questions "
             "split by a hash of their id: dev (chose the defaults, `tune.py`) / test (reported). R@10 and MRR@10 per "
             "mode. Before: `context=none, terms=none, document_weight=0, article_max=0`; after: the defaults.", "",
             "| set | settings | corpus | split | bm25 R@10 / MRR | dense R@10 / MRR | hybrid R@10 / MRR |",
             "|---|---|---|---|---|---|---|"]
    for name, settings, layout, scores in rows:
        for part in ("dev", "test"):
            cells = [f"{scores[f'{part}/{m}']['recall@10']:.3f} / {scores[f'{part}/{m}']['mrr@10']:.3f}" for m in MODES]
            count = scores[f"{part}/hybrid"]["queries"]
            lines.append(f"| {name} | {settings} | {layout} | {part} ({count}) | " + " | ".join(cells) + " |")
    report("context.md", lines)
    return 0


if __name__ == "__main__":
    sys.exit(main())
