"""Schedules under an injected clock: a daily 09:00 Europe/Minsk (no DST) and a daily 02:30
Europe/Berlin digest fire once a day at the right instants across the March and October
changes, and a chat that was due during downtime gets one catch-up digest, not one per slot.

The clock jumps in five-minute ticks (every slot here is on a multiple of five minutes), so
weeks of schedule run in a second; messages really go through the local Bot API server.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from telegram import Bot

from bot.chats.schedule import next_digest_at
from bot.digests.service import Digests
from bot.runtime.sender import Deliverer, Pacer
from bot.sandbox import BotApiServer, RateLimits
from storage.sqlite import SQLiteStorage
from tests.unit.test_digest_support import make_chat, match, store_releases, subscribe

os.environ.setdefault("PTB_TIMEDELTA", "1")
TOKEN = "123456:attache-dst-test"
MINSK = 1_000_001
BERLIN = 1_000_002


class Clock:
    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[tuple[BotApiServer, Bot, SQLiteStorage]]:
    async with (
        BotApiServer(token=TOKEN, rate_limits=RateLimits.disabled()) as server,
        SQLiteStorage(tmp_path / "attache.db") as storage,
    ):
        bot = Bot(TOKEN, base_url=server.base_url)
        server.private_chat(server.create_user("Minsk", user_id=MINSK))
        server.private_chat(server.create_user("Berlin", user_id=BERLIN))
        async with bot:
            yield server, bot, storage


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


async def run_days(
    server: BotApiServer, bot: Bot, storage: SQLiteStorage, start: datetime, days: int
) -> dict[int, list[datetime]]:
    """Tick every five minutes from ``start``; give each chat one new match after each digest.
    Return the instants at which each chat received a digest."""
    clock = Clock(start)
    deliverer = Deliverer(bot, pacer=Pacer(100.0, private_interval=0.0))
    digests = Digests(storage, deliverer, clock=clock)
    articles = iter(await store_releases(storage, range(2 * days + 4)))
    subs = {}
    for chat_id, tz, at in ((MINSK, "Europe/Minsk", "09:00"), (BERLIN, "Europe/Berlin", "02:30")):
        first = next_digest_at("daily", at, 0, tz, start)
        await make_chat(storage, chat_id, tz=tz, at=at, next_at=first)
        subs[chat_id] = (await subscribe(storage, chat_id, "keyword", "secretary")).id
        await match(storage, chat_id, subs[chat_id], [next(articles)])
    fired: dict[int, list[datetime]] = {MINSK: [], BERLIN: []}
    while clock.now < start + timedelta(days=days):
        before = len(server.sent_log)
        await digests.send_due()
        for entry in server.sent_log[before:]:
            fired[entry.chat_id].append(clock.now)
            await match(storage, entry.chat_id, subs[entry.chat_id], [next(articles)])
        clock.now += timedelta(minutes=5)
    return fired


async def test_march_change(world: tuple[BotApiServer, Bot, SQLiteStorage]) -> None:
    server, bot, storage = world
    fired = await run_days(server, bot, storage, utc(2024, 3, 29, 12, 0), days=4)
    assert fired[MINSK] == [utc(2024, 3, d, 6, 0) for d in (30, 31)] + [
        utc(2024, 4, d, 6, 0) for d in (1, 2)
    ]
    # 02:30 Berlin: 01:30 UTC in winter; on 31 March 02:30 does not exist and the digest
    # comes once, right after the gap (03:30 CEST = 01:30 UTC); then 00:30 UTC in summer.
    assert fired[BERLIN] == [
        utc(2024, 3, 30, 1, 30),
        utc(2024, 3, 31, 1, 30),
        utc(2024, 4, 1, 0, 30),
        utc(2024, 4, 2, 0, 30),
    ]


async def test_october_change(world: tuple[BotApiServer, Bot, SQLiteStorage]) -> None:
    server, bot, storage = world
    fired = await run_days(server, bot, storage, utc(2024, 10, 25, 12, 0), days=4)
    assert fired[MINSK] == [utc(2024, 10, d, 6, 0) for d in (26, 27, 28, 29)]
    # 27 October: 02:30 happens twice (CEST, then CET); the digest comes at the first only.
    assert fired[BERLIN] == [
        utc(2024, 10, 26, 0, 30),
        utc(2024, 10, 27, 0, 30),
        utc(2024, 10, 28, 1, 30),
        utc(2024, 10, 29, 1, 30),
    ]


async def test_one_catch_up_digest_after_downtime(
    world: tuple[BotApiServer, Bot, SQLiteStorage],
) -> None:
    server, bot, storage = world
    ids = await store_releases(storage, [1, 2, 3])
    await make_chat(storage, MINSK, tz="Europe/Minsk", next_at=utc(2024, 11, 1, 6, 0))
    sub = await subscribe(storage, MINSK, "keyword", "secretary")
    await match(storage, MINSK, sub.id, ids)
    clock = Clock(utc(2024, 11, 4, 7, 12))  # down for three days and a bit: three slots missed
    digests = Digests(
        storage, Deliverer(bot, pacer=Pacer(100.0, private_interval=0.0)), clock=clock
    )
    first = await digests.send_due()
    second = await digests.send_due()
    assert (first.messages, second.messages) == (1, 0)
    assert (await storage.get_chat(MINSK)).next_digest_at == utc(2024, 11, 5, 6, 0)
    assert len(server.sent_log) == 1 and "3 new articles" in server.sent_log[0].message.text
