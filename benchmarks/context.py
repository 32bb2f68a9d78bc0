"""What to index with each passage besides its text (`IndexSettings.context`), and laws read as
plain files with chapter lines (`laws_db(as_files=True)`) beside the one-line-per-article layout.

Every question set is split in two by a hash of the question id: `dev` chooses, `test` reports.

    python benchmarks/context.py     # benchmarks/results/context.md (about 40 minutes)
"""

from __future__ import annotations

import json
import sys

from policysearch import IndexSettings
from policysearch.corpora import laws_db
from policysearch.eval import evaluate
from quality import CACHE, CODE, DATA, DEPTH, Benchmark, benchmarks, open_index, report, split

LAW_VARIANTS = [("laws.db lines", False, "none"), ("laws.db lines", False, "title+heading"),
                ("law files", True, "none"), ("law files", True, "heading"), ("law files", True, "title+heading")]
OTHER_VARIANTS = [("as given", False, "none"), ("as given", False, "title+heading")]
MODES = ("bm25", "dense", "hybrid")


def main() -> int:
    sets = [b for b in benchmarks(False, None) if b.name != "policyqa+laws"]
    if not sets:
        print("skip: no benchmark data under ../shared/data", file=sys.stderr)
        return 0
    files = None
    rows = []
    for bench in sets:
        law = bench.index == "laws"
        for layout, as_files, context in LAW_VARIANTS if law else OTHER_VARIANTS:
            if as_files and files is None:
                files = laws_db(DATA / "lawsdb" / "laws.db", as_files=True)[0]
            documents = files if as_files else bench.documents
            variant = Benchmark(bench.name, bench.index + ("-files" if as_files else ""), documents, bench.queries)
            tag = "" if context == "none" else f"-{context.replace('+', '-')}"
            engine = open_index(variant, IndexSettings(context=context), tag)
            saved = CACHE / "results" / f"context-{bench.name}-{layout}-{context}-{engine.folder.name}-{CODE}.json"
            if saved.exists():
                scores = json.loads(saved.read_text(encoding="utf-8"))
            else:
                scores = {f"{part}/{mode}": evaluate(lambda q, m=mode, e=engine: e.search(q, k=DEPTH, mode=m),
                                                     [q for q in bench.queries if split(q) == part])
                          for part in ("dev", "test") for mode in MODES}
                saved.parent.mkdir(parents=True, exist_ok=True)
                saved.write_text(json.dumps(scores), encoding="utf-8")
            rows.append((bench.name, layout, context, scores))
            print(f"{bench.name} {layout} {context}: done", file=sys.stderr)
    lines = ["# Context indexed with each passage", "", "Command: `python benchmarks/context.py`. Questions split by a "
             "hash of their id: dev (choose) / test (report). R@10 and MRR@10 per mode.", "",
             "| set | corpus | context | split | bm25 R@10 / MRR | dense R@10 / MRR | hybrid R@10 / MRR |",
             "|---|---|---|---|---|---|---|"]
    for name, layout, context, scores in rows:
        for part in ("dev", "test"):
            cells = [f"{scores[f'{part}/{m}']['recall@10']:.3f} / {scores[f'{part}/{m}']['mrr@10']:.3f}" for m in MODES]
            count = scores[f"{part}/hybrid"]["queries"]
            lines.append(f"| {name} | {layout} | {context} | {part} ({count}) | " + " | ".join(cells) + " |")
    report("context.md", lines)
    return 0


if __name__ == "__main__":
    sys.exit(main())
