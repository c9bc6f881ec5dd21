"""Load: many users send commands at once while feeds bring in articles; memory stays flat.

The bot runs as a real process (``python -m bot run``) so its resident memory can be sampled.
Simulated users in this process all start at the same moment and each sends a command, waits
for the answer and sends the next one at most once a second, for the whole run. Meanwhile the
bot polls JSON Feeds on a local web server that carry 1,000 new articles (short mode: 100).

Flood limits: the sandbox enforces Telegram's (30 messages a second overall, about one a second
per chat), and users keep to one message a second each as people do. Turning the limits off
would measure a bot that Telegram does not allow: the bot's own rate limiter keeps it under
30 replies a second either way, so with 200 users the answers queue behind that limit and the
p99 latency shows how long the queue gets. What must hold: every command is answered (a 429 the
sandbox answers is waited out; the report counts them), every article is stored, and the bot's
RSS after warm-up grows by less than the bound below.

Short mode (CI): 50 users for 10 s, 100 articles. ``ATTACHE_RELIABILITY=full``: 200 users for
60 s, 1,000 articles.
"""

from __future__ import annotations

import asyncio
import random
import sqlite3
import statistics
import time
from datetime import UTC, datetime
from pathlib import Path

from bot.sandbox import BotApiServer, RateLimits, SandboxUser
from storage.sqlite import SQLiteStorage
from tests.reliability.harness import (
    BotProcess,
    bot_env,
    corpus,
    json_feed,
    record,
    scale,
    wait_for,
)
from tests.webserver import LocalWebServer

USERS = scale(50, 200)
SECONDS = scale(10, 60)
ARTICLES = scale(100, 1000)
FEEDS = scale(1, 4)
FIRST_USER = 6_000_001
COMMANDS = ("/help", "/search eurasian integration", "/person Lavrov", "/subscriptions", "/start")
#: Allowed RSS growth from the end of warm-up to the end of the run.
RSS_GROWTH_LIMIT = 0.25
RSS_GROWTH_SLACK = 16 * 1024 * 1024


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


async def test_many_users_and_a_busy_feed(tmp_path: Path) -> None:
    db = tmp_path / "attache.db"
    articles = corpus(ARTICLES, 1_000)
    latencies: list[float] = []
    unanswered: list[str] = []
    samples: list[tuple[float, int]] = []

    async with (
        BotApiServer(token="123456:attache-load", rate_limits=RateLimits()) as server,
        LocalWebServer() as web,
    ):
        per_feed = ARTICLES // FEEDS
        async with SQLiteStorage(db) as storage:
            for f in range(FEEDS):
                chunk = articles[f * per_feed : (f + 1) * per_feed]
                entries = [(web.url(f"/wire{f}/{i}"), a) for i, a in enumerate(chunk)]
                body = json_feed(f"Wire {f}", web.url("/"), entries)
                web.page(f"/wire{f}.json", body, content_type="application/feed+json")
                await storage.add_feed(
                    web.url(f"/wire{f}.json"), f"Wire {f}", 600, now=datetime.now(UTC)
                )
        users = [server.create_user(f"User {n}", user_id=FIRST_USER + n) for n in range(USERS)]

        bot = BotProcess(bot_env(server, db), tmp_path, tmp_path / "bot.log").start()
        try:
            # Ready: it answers one command.
            probe = server.private_chat(users[0])
            await server.send_text(probe, users[0], "/start")
            await server.wait_for_message(probe.id, timeout=30)

            start = time.monotonic()
            deadline = start + SECONDS

            async def user_loop(user: SandboxUser, rng: random.Random) -> None:
                chat = server.private_chat(user)
                while time.monotonic() < deadline:
                    command = rng.choice(COMMANDS)
                    sent = time.monotonic()
                    await server.send_text(chat, user, command)
                    try:
                        await server.wait_for_message(chat.id, timeout=60)
                    except TimeoutError:
                        unanswered.append(command)
                        return
                    latencies.append(time.monotonic() - sent)
                    await asyncio.sleep(max(0.0, sent + 1.0 - time.monotonic()))

            async def sample_memory() -> None:
                while time.monotonic() < deadline:
                    samples.append((time.monotonic() - start, bot.rss_bytes()))
                    await asyncio.sleep(0.5)

            await asyncio.gather(
                sample_memory(),
                *(user_loop(u, random.Random(i)) for i, u in enumerate(users)),
            )
            ran = time.monotonic() - start

            def stored() -> int:
                with sqlite3.connect(db) as connection:
                    (count,) = connection.execute("SELECT count(*) FROM articles").fetchone()
                connection.close()
                return int(count)

            all_stored = await wait_for(lambda: stored() >= ARTICLES * 0.95, 60)
            articles_stored = stored()
        finally:
            code = await bot.stop()
        log = bot.log_tail(10**9)

    warm = [rss for at, rss in samples if at >= SECONDS / 2]
    baseline = warm[0] if warm else samples[-1][1]
    peak = max(warm) if warm else baseline
    growth = peak - baseline
    figures = {
        "users": USERS,
        "seconds": round(ran, 1),
        "commands_answered": len(latencies),
        "commands_unanswered": len(unanswered),
        "answers_per_second": round(len(latencies) / ran, 1),
        "latency_p50_s": round(statistics.median(latencies), 3),
        "latency_p99_s": round(percentile(latencies, 0.99), 3),
        "latency_max_s": round(max(latencies), 3),
        "articles_published": ARTICLES,
        "articles_stored": articles_stored,
        "rss_at_start_mb": round(samples[0][1] / 2**20, 1),
        "rss_samples": len(samples),
        "rss_after_warmup_mb": round(baseline / 2**20, 1),
        "rss_peak_after_warmup_mb": round(peak / 2**20, 1),
        "rss_growth_mb": round(growth / 2**20, 1),
        "flood_refusals": log.count("Rate limit hit"),
    }
    record("load", figures)
    assert code == 0, log[-3000:]
    assert not unanswered, figures
    assert all_stored, figures
    assert growth <= baseline * RSS_GROWTH_LIMIT + RSS_GROWTH_SLACK, figures
    assert "Traceback" not in log, log[-3000:]
