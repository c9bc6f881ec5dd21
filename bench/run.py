"""Run the benchmarks: ``python -m bench.run [--size N ...] [--runs R] [--search-only]``.

Builds a synthetic corpus of each size (default 10,000 and 100,000 articles), measures ingest,
then search on the database it built. Prints tables and writes bench/out/bench-N.json.
``--search-only`` measures search again on the database a previous run built (the JSON then
holds the search figures alone).
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
    parser.add_argument(
        "--search-only", action="store_true", help="reuse bench/out/bench-N.db; skip ingest"
    )
    args = parser.parse_args()
    for size in args.size or [10_000, 100_000]:
        result: dict[str, object] = {"size": size}
        if args.search_only:
            path = OUT / f"bench-{size}.db"
            if not path.exists():
                parser.error(f"{path} does not exist: run without --search-only first")
            name = f"bench-{size}-search.json"
        else:
            ingest_figures, path = ingest.run(size, OUT)
            print(ingest.report(ingest_figures), flush=True)
            result["ingest"] = ingest_figures
            name = f"bench-{size}.json"
        search_figures = search.run(path, args.runs)
        print(f"search at {size:,} articles (ms; ratio = storage p50 / raw SQL p50)")
        print(search.report(search_figures), flush=True)
        result["search"] = search_figures
        (OUT / name).write_text(json.dumps(result, indent=2) + "\n")
        print(f"wrote {OUT / name}\n")


if __name__ == "__main__":
    main()
