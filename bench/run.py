"""Run the benchmarks: ``python -m bench.run [--size N ...] [--runs R]``.

Builds a synthetic corpus of each size (default 10,000 and 100,000 articles), measures ingest,
then search on the database it built. Prints tables and writes bench/out/bench-N.json.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from bench import ingest, search

OUT = Path(__file__).parent / "out"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size", type=int, action="append", help="articles (repeatable)")
    parser.add_argument("--runs", type=int, default=200, help="timed runs per query shape")
    args = parser.parse_args()
    for size in args.size or [10_000, 100_000]:
        ingest_figures, path = ingest.run(size, OUT)
        print(ingest.report(ingest_figures), flush=True)
        search_figures = search.run(path, args.runs)
        print(f"search at {size:,} articles (ms; ratio = storage p50 / raw SQL p50)")
        print(search.report(search_figures), flush=True)
        result = {"size": size, "ingest": ingest_figures, "search": search_figures}
        (OUT / f"bench-{size}.json").write_text(json.dumps(result, indent=2) + "\n")
        print(f"wrote {OUT / f'bench-{size}.json'}\n")


if __name__ == "__main__":
    main()
