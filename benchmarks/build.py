"""A first build as a new user makes it, from files to a published index, with an empty vector
cache (the converted model is kept): the 72 government work reports in ../shared/data/govreports
(loaded from files) and the 378 laws of laws.db. Reports how long each stage took, the wall
time, and how long tokenising ran beside embedding (the two overlap). Then the yardstick of a
build's speed: `policysearch index` of 1,500 law articles, against sentence-transformers fp32
encoding the same passages.

    python benchmarks/build.py                # benchmarks/results/build.md (about 10 minutes)
    python benchmarks/build.py --yardstick    # the yardstick alone: build-yardstick.md (about 2 minutes)
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from policysearch import PolicySearch
from policysearch.index.dense import SentenceTransformerEmbedder
from policysearch.reading.corpora import laws_db
from policysearch.index.models import cache_dir
from encoding import indexed_texts
from quality import DATA, command_line, report

ARTICLES = 1500


class Stages:
    """A `progress` for the build that notes when each stage started and last moved."""

    def __init__(self) -> None:
        self.start: dict[str, float] = {}
        self.end: dict[str, float] = {}
        self.total: dict[str, int] = {}

    def __call__(self, stage: str, total: int):
        self.start[stage] = self.end[stage] = time.perf_counter()
        self.total[stage] = total

        def tick(count: int) -> None:
            self.end[stage] = time.perf_counter()

        return tick

    def took(self, stage: str) -> float:
        return self.end.get(stage, 0.0) - self.start.get(stage, 0.0)

    def beside(self, one: str, other: str) -> float:
        """Seconds during which both stages ran."""
        if one not in self.start or other not in self.start:
            return 0.0
        return max(0.0, min(self.end[one], self.end[other]) - max(self.start[one], self.start[other]))


def empty_cache(folder: Path) -> Path:
    """A cache folder without vectors that shares the converted models (the build does not convert them again)."""
    folder.mkdir(parents=True)
    (folder / "models").symlink_to(cache_dir() / "models")
    return folder


def against_sentence_transformers(laws: Path, tmp: Path) -> list[str]:
    """`policysearch index` (the CLI in a fresh process, an empty vector cache) of `ARTICLES` law
    articles written as one .txt file per law, at fp32 and at `auto`, against
    sentence-transformers fp32 encoding the same passages with their context lines (its model
    loaded beforehand: only the encoding is timed, in its own length-sorted batches)."""
    db = sqlite3.connect(f"file:{laws}?mode=ro", uri=True)
    ids = [row[0] for row in db.execute("SELECT id FROM articles")]
    db.close()
    chosen = ids[::len(ids) // ARTICLES][:ARTICLES]
    documents, _ = laws_db(laws, articles=set(chosen), as_files=True)
    files = tmp / "articles"
    files.mkdir()
    for number, doc in enumerate(documents):
        (files / f"{number:03d}.txt").write_text(doc.text, encoding="utf-8")
    walls = {}
    for precision in ("fp32", "auto"):
        env = dict(os.environ, POLICYSEARCH_CACHE=str(empty_cache(tmp / f"cache-{precision}")))
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "policysearch", "index", str(files), "--index", str(tmp / precision),
                        "--precision", precision], env=env, check=True, capture_output=True)
        walls[precision] = time.perf_counter() - start
    engine = PolicySearch.open(tmp / "fp32")
    texts, built = indexed_texts(engine), engine.manifest["model"]["precision"]
    engine.close()
    model = SentenceTransformerEmbedder(precision="fp32")
    passages = [model.passage_prefix + text for text in texts]
    encoder = model.model
    encoder.encode(passages[:64], batch_size=model.batch_size)  # warm up
    start = time.perf_counter()
    encoder.encode(passages, batch_size=model.batch_size)
    st = time.perf_counter() - start
    with PolicySearch.open(tmp / "auto") as other:
        auto = other.manifest["model"]["precision"]
    return ["", f"## `policysearch index` of {len(chosen)} law articles "
            f"({len(documents)} files, {len(texts)} passages) against sentence-transformers fp32 on the same passages",
            "", "| build | seconds | passages/s | × sentence-transformers fp32 encoding alone (target ≥ 2.5) |",
            "|---|---|---|---|",
            f"| sentence-transformers fp32, `encode` only | {st:.1f} | {len(texts) / st:.1f} | 1.00 |",
            f"| `policysearch index --precision fp32` (built {built}), whole command | {walls['fp32']:.1f} | "
            f"{len(texts) / walls['fp32']:.1f} | {st / walls['fp32']:.2f} |",
            f"| `policysearch index --precision auto` (built {auto}), whole command | {walls['auto']:.1f} | "
            f"{len(texts) / walls['auto']:.1f} | {st / walls['auto']:.2f} |"]


def stages(reports: Path, laws: Path, tmp: Path) -> list[str]:
    """Each corpus built from scratch, stage by stage."""
    rows = ["| corpus | passages | precision | loading s | tokenising s | embedding s | writing s | "
            "tokenising beside embedding s | wall s | passages/s overall |", "|---|---|---|---|---|---|---|---|---|---|"]
    for name, build in (
        ("govreports (72 .txt files, 1.1 M chars)", lambda to, p: PolicySearch.build([reports], to, progress=p)),
        ("laws.db (378 laws, in memory)", lambda to, p: PolicySearch.build_documents(laws_db(laws)[0], to, progress=p)),
    ):
        seen = Stages()
        start = time.perf_counter()
        engine = build(tmp / name.split()[0], seen)
        wall = time.perf_counter() - start
        passages = engine.manifest["chunks"]
        rows.append(f"| {name} | {passages} | {engine.manifest['model']['precision']} | "
                    + " | ".join(f"{seen.took(s):.1f}" if s in seen.start else "–"
                                 for s in ("loading", "tokenising", "embedding", "writing"))
                    + f" | {seen.beside('tokenising', 'embedding'):.1f} | {wall:.1f} | {passages / wall:.0f} |")
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--yardstick", action="store_true", help="only the 1,500 articles against sentence-transformers")
    parser.add_argument("--output", help="the result file in benchmarks/results (default build.md, build-yardstick.md)")
    args = parser.parse_args()
    reports, laws = DATA / "govreports", DATA / "lawsdb" / "laws.db"
    if not reports.is_dir() or not laws.exists():
        print(f"skip: needs {reports} and {laws}", file=sys.stderr)
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["POLICYSEARCH_CACHE"] = str(empty_cache(Path(tmp) / "cache"))  # no cached vectors
        rows = [] if args.yardstick else stages(reports, laws, Path(tmp))
        yardstick = against_sentence_transformers(laws, Path(tmp))
    command = command_line("build.py")
    report(args.output or ("build-yardstick.md" if args.yardstick else "build.md"),
           ["# A first build" + ("" if args.yardstick else ", stage by stage"), "",
            f"Command: `{command}`; an empty vector cache, the default settings.", "", *rows, *yardstick])
    return 0

if __name__ == "__main__":
    sys.exit(main())
