"""Choosing the defaults on dev questions only: what each passage is indexed with
(`IndexSettings.context`), term discovery (`IndexSettings.terms`) and the weight of document
evidence in the hybrid fusion (`SearchSettings.document_weight`). Test questions are never read.

    python benchmarks/tune.py     # benchmarks/results/tune.md (about 30 minutes)
"""

from __future__ import annotations

import sys
from dataclasses import replace

from policysearch import IndexSettings
from policysearch.eval import evaluate
from quality import DEPTH, benchmarks, open_index, report, split

INDEXES = [(context, terms) for context in ("none", "title+heading") for terms in ("none", "quoted", "quoted+recurring")]
DOCUMENT_WEIGHTS = [0.0, 0.1, 0.2, 0.3, 0.5]


def main() -> int:
    sets = [b for b in benchmarks(False, None) if b.name != "policyqa+laws"]
    if not sets:
        print("skip: no benchmark data under ../shared/data", file=sys.stderr)
        return 0
    lines = ["# Defaults chosen on dev questions", "", "Command: `python benchmarks/tune.py`. Hybrid R@10 / MRR@10 on the "
             "dev half of each set (questions split by a hash of their id; the test half is not read).", "",
             "| context | terms | document weight | " + " | ".join(b.name for b in sets) + " |",
             "|---|---|---:|" + "---|" * len(sets)]
    for context, terms in INDEXES:
        settings = IndexSettings(context=context, terms=terms)
        tag = f"-{context}-{terms}".replace("+", "-")
        engines = {b.name: open_index(b, settings, tag) for b in sets}
        for weight in DOCUMENT_WEIGHTS:
            cells = []
            for bench in sets:
                engine = engines[bench.name]
                engine.search_settings = replace(engine.search_settings, document_weight=weight)
                scores = evaluate(lambda q, e=engine: e.search(q, k=DEPTH, mode="hybrid"),
                                  [q for q in bench.queries if split(q) == "dev"])
                cells.append(f"{scores['recall@10']:.3f} / {scores['mrr@10']:.3f}")
            lines.append(f"| {context} | {terms} | {weight} | " + " | ".join(cells) + " |")
            print(lines[-1], file=sys.stderr)
    report("tune.md", lines)
    return 0


if __name__ == "__main__":
    sys.exit(main())
