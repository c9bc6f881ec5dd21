"""Command round trip: a user's message in -> the bot's reply out, through the local Bot API
server and the real application, on a database of synthetic articles.

``python -m bench.roundtrip [--size N] [--runs R] [--rebuild] [--check]``

The database is built once per size through the real enrichment (entity extraction and the
diplomatic classifier, in worker processes) and storage, from ``bench.corpus``, and cached as
``bench/out/roundtrip-N.db``. Each timed round trip is: the sandbox queues the user's message,
the bot's long poll returns it, the handler runs (query, render), the bot's ``sendMessage``
reaches the sandbox. Every iteration comes from a new user, as many people would use the bot,
so the per-user search throttle (a feature, not a cost) never answers instead of the handler.
Flood limits are off and round trips are paced (see ``PACE_SECONDS``): both would measure a
limiter, not the bot. Prints a table and writes
``bench/out/roundtrip.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

from pydantic import SecretStr

from bench.corpus import generate, schema_tag
from bench.search import QUERIES
from bot.app import ALLOWED_UPDATES, AttacheApp, build_application
from bot.config import Settings
from bot.ingest.model import ParsedArticle
from bot.ingest.service import enrich
from bot.sandbox import BotApiServer, RateLimits
from bot.services import Services
from storage.models import NewArticle
from storage.sqlite import SQLiteStorage

OUT = Path(__file__).parent / "out"
TOKEN = "7000002:roundtrip-bench"  # the sandbox's throwaway token, 127.0.0.1 only
TARGET_P50_MS = 50.0
BATCH = 500
WARMUP = 10
#: Round trips start at most 20 a second. PTB's AIORateLimiter lets 30 requests a second go to
#: all chats together; a loop that goes faster measures that limiter's queue (a steady ~33 ms),
#: not the round trip.
PACE_SECONDS = 0.05
#: The commands timed, by row name. Search queries are the search benchmark's shapes.
COMMANDS = {
    "/start": "/start",
    "/search common word": f"/search {QUERIES['one word, common']}",
    "/search rare word": f"/search {QUERIES['one word, rare']}",
    "/search phrase": f"/search {QUERIES['phrase']}",
    "/search two words": f"/search {QUERIES['two words, medium']}",
    "/person": "/person Lavrov",
    "/latest": "/latest",
}


# --------------------------------------------------------------------------- database


def _enrich_batch(batch: list[ParsedArticle]) -> list[NewArticle]:
    return [enrich(parsed) for parsed in batch]


def _parsed_batches(size: int) -> Iterator[list[ParsedArticle]]:
    batch: list[ParsedArticle] = []
    for raw in generate(size):
        batch.append(
            ParsedArticle(
                title=raw.title,
                text=raw.text,
                url=raw.url,
                source=raw.source,
                published_at=raw.published_at,
            )
        )
        if len(batch) == BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


def _remove(path: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


async def _build(size: int, path: Path) -> int:
    """Enrich in worker processes while the main process stores; the number stored."""
    created = 0
    done = 0
    loop = asyncio.get_running_loop()
    workers = max(1, (os.cpu_count() or 2) - 1)
    with ProcessPoolExecutor(max_workers=workers) as pool:
        async with SQLiteStorage(path) as store:
            pending: list[Future[list[NewArticle]]] = []
            batches = _parsed_batches(size)
            for batch in batches:
                pending.append(pool.submit(_enrich_batch, batch))
                if len(pending) < workers * 2:  # keep the workers busy while storing
                    continue
                articles = await asyncio.wrap_future(pending.pop(0), loop=loop)
                created += sum(
                    r.created for r in await store.add_articles(articles, now=datetime.now(UTC))
                )
                done += len(articles)
                print(f"\r  built {done:,} of {size:,}", end="", file=sys.stderr, flush=True)
            for future in pending:
                articles = await asyncio.wrap_future(future, loop=loop)
                created += sum(
                    r.created for r in await store.add_articles(articles, now=datetime.now(UTC))
                )
                done += len(articles)
            await store.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    print(file=sys.stderr)
    return created


def ensure_database(size: int, out_dir: Path, rebuild: bool = False) -> tuple[Path, float | None]:
    """The cached database of ``size`` articles (built when missing); build seconds or None."""
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"roundtrip-{size}-{schema_tag()}.db"
    if path.exists() and not rebuild:
        return path, None
    # Built under another name and renamed at the end: an interrupted build is never cached.
    building = out_dir / f"roundtrip-{size}-{schema_tag()}.building.db"
    _remove(building)
    _remove(path)
    print(f"building {path} ({size:,} articles, enriched; once per size)", file=sys.stderr)
    started = time.perf_counter()
    created = asyncio.run(_build(size, building))
    _remove(Path(f"{building}-wal"))  # checkpointed; only the empty files are left
    building.rename(path)
    elapsed = time.perf_counter() - started
    print(f"  {created:,} stored in {elapsed:.0f} s", file=sys.stderr)
    return path, elapsed


# --------------------------------------------------------------------------- measuring


def percentiles(samples: Sequence[float]) -> dict[str, float]:
    """p50/p95/p99, mean, min and max of seconds, in milliseconds."""
    cut = statistics.quantiles(samples, n=100, method="inclusive")
    return {
        "p50": cut[49] * 1000,
        "p95": cut[94] * 1000,
        "p99": cut[98] * 1000,
        "mean": statistics.fmean(samples) * 1000,
        "min": min(samples) * 1000,
        "max": max(samples) * 1000,
    }


def _settings(path: Path, server: BotApiServer) -> Settings:
    return Settings(  # type: ignore[call-arg]  # _env_file is pydantic-settings' init option
        _env_file=None,
        telegram_bot_token=SecretStr(server.token),
        telegram_api_base_url=server.base_url,
        database_url=f"sqlite:///{path}",
        log_level="WARNING",
        webhook_url=None,
    )


async def _start(settings: Settings) -> tuple[AttacheApp, Services]:
    from bot.factory import make_storage

    services = Services(make_storage(settings), settings)
    app = build_application(settings, services)
    await app.initialize()
    if app.post_init is not None:
        await app.post_init(app)
    await app.start()
    assert app.updater is not None
    await app.updater.start_polling(poll_interval=0, timeout=10, allowed_updates=ALLOWED_UPDATES)
    return app, services


async def _stop(app: AttacheApp) -> None:
    if app.updater is not None:
        await app.updater.stop()
    await app.stop()
    await app.shutdown()
    if app.post_shutdown is not None:
        await app.post_shutdown(app)


async def _measure(path: Path, runs: int) -> tuple[dict[str, dict[str, float]], dict[str, str]]:
    figures: dict[str, dict[str, float]] = {}
    first_lines: dict[str, str] = {}
    async with BotApiServer(
        token=TOKEN, bot_username="attache_bot", rate_limits=RateLimits.disabled()
    ) as server:
        app, _ = await _start(_settings(path, server))
        try:
            for name, text in COMMANDS.items():
                samples: list[float] = []
                for iteration in range(WARMUP + runs):
                    user = server.create_user(f"Reader {iteration}")
                    chat = server.private_chat(user)
                    started = time.perf_counter()
                    await server.send_text(chat, user, text)
                    reply = await server.wait_for_message(chat.id, timeout=30)
                    elapsed = time.perf_counter() - started
                    if iteration >= WARMUP:
                        samples.append(elapsed)
                    first_lines[name] = reply.text.split("\n", 1)[0]
                    await asyncio.sleep(max(0.0, started + PACE_SECONDS - time.perf_counter()))
                figures[name] = percentiles(samples)
                print(f"  {name}: p50 {figures[name]['p50']:.1f} ms", file=sys.stderr)
        finally:
            await _stop(app)
    return figures, first_lines


def report(size: int, figures: dict[str, dict[str, float]], first_lines: dict[str, str]) -> str:
    lines = [
        f"command round trip at {size:,} articles (ms; target p50 <= {TARGET_P50_MS:.0f})",
        f"  {'command':<22}{'p50':>8}{'p95':>8}{'p99':>8}{'max':>8}  reply",
    ]
    for name, row in figures.items():
        mark = "" if row["p50"] <= TARGET_P50_MS else "  (over target)"
        lines.append(
            f"  {name:<22}{row['p50']:8.1f}{row['p95']:8.1f}{row['p99']:8.1f}{row['max']:8.1f}"
            f"  {first_lines.get(name, '')[:40]}{mark}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--size", type=int, default=100_000, help="articles (default 100,000)")
    parser.add_argument("--runs", type=int, default=200, help="timed round trips per command")
    parser.add_argument("--rebuild", action="store_true", help="rebuild the cached database")
    parser.add_argument("--out", type=Path, default=OUT, help="output directory")
    parser.add_argument("--check", action="store_true", help="exit 1 when a p50 is over the target")
    args = parser.parse_args(argv)
    if args.runs < 2:
        parser.error("--runs must be at least 2")
    path, build_seconds = ensure_database(args.size, args.out, args.rebuild)
    figures, first_lines = asyncio.run(_measure(path, args.runs))
    print(report(args.size, figures, first_lines))
    met = all(row["p50"] <= TARGET_P50_MS for row in figures.values())
    result = {
        "size": args.size,
        "runs": args.runs,
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "database": str(path),
        "build_seconds": build_seconds,
        "target_p50_ms": TARGET_P50_MS,
        "target_met": met,
        "commands": {
            name: {"text": COMMANDS[name], "reply_first_line": first_lines.get(name, ""), **row}
            for name, row in figures.items()
        },
    }
    out_file = args.out / "roundtrip.json"
    out_file.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {out_file}")
    return 1 if args.check and not met else 0


if __name__ == "__main__":
    sys.exit(main())
