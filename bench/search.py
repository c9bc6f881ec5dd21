"""Search benchmark: SQLiteStorage.search vs the same SQL run raw on the same database.

For each query shape, the storage path is the full call (parse not included): page query with
ranking, snippets and the capped count (one statement), results turned into dataclasses. The
raw path runs the identical statement through the sqlite3 module on its own connection.
"""

from __future__ import annotations

import asyncio
import sqlite3
import statistics
import time
from pathlib import Path

from bot.search.query import parse_query
from storage.models import SearchQuery
from storage.sqlite import SQLiteStorage
from storage.sqlite import search as sq

QUERIES = {
    "one word, rare": "kangerlussuaq",
    "one word, medium": "tsikhanouskaya OR lukashenka",
    "one word, common": "minister",
    "one word, common 2": "russia",
    "two words": "foreign minister",
    "two words, medium": "eurasian integration",
    "phrase": '"foreign minister"',
    "prefix": "secur*",
    "since filter": "sanctions since:2022-06-01",
    "until filter": "security until:2021-06-30",
    "source filter": "minister source:reuters",
    "newest order": "minister order:newest",
    "exclusion": "minister -russia",
    "since + until": "minister since:2021-09-01 until:2021-09-30",
    "diplomatic only": "sanctions",
    "person filter": "sanctions person:lavrov",
    "person, no words": "person:lavrov",
    "source, no words": "source:tass",
    "prefix, short": "sec*",
}
DIPLOMATIC_ONLY = frozenset({"diplomatic only"})


def _statements(query: SearchQuery) -> list[sq.Sql]:
    plan = sq.plan(query)
    assert plan is not None
    if query.order == "newest" or plan.words is None:
        page = sq.newest_page(plan, query.limit, query.offset, with_total=True)
    else:
        page = sq.relevance_page(plan, query.limit, query.offset, with_total=True)
    return [page]


async def _resolve(path: Path) -> dict[str, SearchQuery]:
    """The benchmark queries, entity filters resolved as the bot resolves them."""
    queries: dict[str, SearchQuery] = {}
    async with SQLiteStorage(path) as store:
        for name, text in QUERIES.items():
            parsed = parse_query(text)
            groups = []
            for person in parsed.persons:
                found = await store.find_entities([person.casefold()], "person")
                groups.append(tuple(e.id for e in found) or (0,))
            queries[name] = parsed.to_search_query(
                tuple(groups), limit=5, diplomatic_only=name in DIPLOMATIC_ONLY
            )
    return queries


def _percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    cut = statistics.quantiles(ordered, n=100)
    return {"p50": cut[49] * 1000, "p95": cut[94] * 1000, "p99": cut[98] * 1000}


async def _storage_times(
    path: Path, queries: dict[str, SearchQuery], runs: int
) -> dict[str, dict[str, float]]:
    results: dict[str, dict[str, float]] = {}
    async with SQLiteStorage(path) as store:
        for name, query in queries.items():
            for _ in range(5):
                page = await store.search(query)
            samples = []
            for _ in range(runs):
                start = time.perf_counter()
                page = await store.search(query)
                samples.append(time.perf_counter() - start)
            results[name] = _percentiles(samples) | {"total": float(page.total)}
    return results


def _raw_times(
    path: Path, queries: dict[str, SearchQuery], runs: int
) -> dict[str, dict[str, float]]:
    db = sqlite3.connect(path)
    db.execute("PRAGMA cache_size = -65536")
    results: dict[str, dict[str, float]] = {}
    for name, query in queries.items():
        statements = _statements(query)
        for _ in range(5):
            for s in statements:
                db.execute(s.sql, s.params).fetchall()
        samples = []
        for _ in range(runs):
            start = time.perf_counter()
            for s in statements:
                db.execute(s.sql, s.params).fetchall()
            samples.append(time.perf_counter() - start)
        results[name] = _percentiles(samples)
    db.close()
    return results


def run(path: Path, runs: int = 200) -> dict[str, dict[str, float | str]]:
    """p50/p95/p99 (ms) per query shape for both paths, and the p50 ratio."""
    queries = asyncio.run(_resolve(path))
    storage = asyncio.run(_storage_times(path, queries, runs))
    raw = _raw_times(path, queries, runs)
    return {
        name: {
            "query": QUERIES[name],
            "total": storage[name]["total"],
            **{f"storage_{k}": storage[name][k] for k in ("p50", "p95", "p99")},
            **{f"raw_{k}": raw[name][k] for k in ("p50", "p95", "p99")},
            "ratio_p50": storage[name]["p50"] / raw[name]["p50"],
        }
        for name in queries
    }


def report(figures: dict[str, dict[str, float | str]]) -> str:
    """A text table, milliseconds."""
    lines = [
        f"{'shape':20} {'query':30} {'total':>6} {'p50':>6} {'p95':>6} {'p99':>6}"
        f" {'raw p50':>7} {'raw p99':>7} {'ratio':>5}"
    ]
    for name, f in figures.items():
        n = {k: v for k, v in f.items() if isinstance(v, float)}
        lines.append(
            f"{name:20} {str(f['query'])[:30]:30} {int(n['total']):6d} {n['storage_p50']:6.2f}"
            f" {n['storage_p95']:6.2f} {n['storage_p99']:6.2f} {n['raw_p50']:7.2f}"
            f" {n['raw_p99']:7.2f} {n['ratio_p50']:5.2f}"
        )
    return "\n".join(lines)
