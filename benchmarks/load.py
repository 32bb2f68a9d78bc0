"""A bounded burst of concurrent searches against `policysearch serve` on loopback.

    python benchmarks/load.py                   # 1,000 BM25 requests, 16 at a time; 200 hybrid
    python benchmarks/load.py --requests 200    # a shorter burst

Starts the server on the laws index (built by `python benchmarks/quality.py`) on a free port of
127.0.0.1, sends the questions of STARD and LawBench, and writes benchmarks/results/load.md.
"""

from __future__ import annotations

import argparse
import http.client
import json
import re
import statistics
import subprocess
import sys
import threading
import time
import urllib.parse
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from quality import CACHE, DATA, read_jsonl, report


def start(index: Path) -> tuple[subprocess.Popen[str], str]:
    process = subprocess.Popen([sys.executable, "-m", "policysearch", "serve", "--index", str(index), "--port", "0"],
                               stderr=subprocess.PIPE, text=True)
    line = process.stderr.readline()
    found = re.search(r"http://\S+/", line)
    if not found:
        process.kill()
        raise SystemExit(f"the server did not start: {line}{process.stderr.read()}")
    threading.Thread(target=process.stderr.read, daemon=True).start()
    return process, found.group(0).rstrip("/")


def burst(base: str, queries: list[str], mode: str, concurrency: int) -> dict[str, float]:
    """Each query once, `concurrency` in flight, each client thread on one kept-alive connection
    (as an OA system's client would be); latency per request in ms, and errors."""
    address = urllib.parse.urlparse(base)
    local = threading.local()

    def one(query: str) -> tuple[float, bool]:
        path = "/api/search?" + urllib.parse.urlencode({"q": query, "mode": mode, "k": 10})
        started = time.perf_counter()
        try:
            if not hasattr(local, "connection"):
                local.connection = http.client.HTTPConnection(address.hostname, address.port, timeout=30)
            local.connection.request("GET", path)
            response = local.connection.getresponse()
            ok = response.status == 200 and "hits" in json.loads(response.read())
        except (OSError, ValueError, http.client.HTTPException):
            local.__dict__.pop("connection", None)
            ok = False
        return (time.perf_counter() - started) * 1000, ok

    started = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        results = list(pool.map(one, queries))
    seconds = time.perf_counter() - started
    latencies = sorted(ms for ms, _ in results)
    return {"requests": len(results), "errors": sum(not ok for _, ok in results),
            "p50": statistics.median(latencies), "p95": latencies[int(0.95 * (len(latencies) - 1))],
            "max": latencies[-1], "per_second": len(results) / seconds}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=1000, help="BM25 requests (default: 1000)")
    parser.add_argument("--concurrency", type=int, default=16, help="requests in flight (default: 16)")
    args = parser.parse_args()
    index = CACHE / "indexes" / "laws"
    if not list(index.glob("v-*")):
        print("skip: build the laws index first (python benchmarks/quality.py)", file=sys.stderr)
        return 0
    questions = [r["query"] for name in ("stard/queries_lawsdb.jsonl", "lawbench/task3-2_queries_lawsdb.jsonl",
                                         "lawbench/task3-1_queries_lawsdb.jsonl") if (DATA / name).exists()
                 for r in read_jsonl(DATA / name) if r["query"].strip()]
    if not questions:
        print("skip: no questions under ../shared/data", file=sys.stderr)
        return 0
    questions = (questions * (1 + args.requests // len(questions)))[:args.requests]
    process, base = start(index)
    try:
        burst(base, questions[:32], "bm25", 4)
        rows = {"bm25": burst(base, questions, "bm25", args.concurrency),
                "hybrid": burst(base, questions[-200:], "hybrid", args.concurrency)}
    finally:
        process.terminate()
        process.wait(timeout=30)
    lines = ["# Load", "", f"Command: `python benchmarks/load.py`; server and client on the same machine, "
             f"{args.concurrency} requests in flight, laws index", "",
             "| mode | requests | errors | p50 ms | p95 ms | max ms | requests/s |", "|---|---|---|---|---|---|---|"]
    lines += [f"| {mode} | {r['requests']} | {r['errors']} | {r['p50']:.1f} | {r['p95']:.1f} | {r['max']:.1f} | "
              f"{r['per_second']:.0f} |"
              + (" target: 0 errors, p95 ≤ 100 ms" if mode == "bm25" else "") for mode, r in rows.items()]
    report("load.md", lines)
    return 0 if rows["bm25"]["errors"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
