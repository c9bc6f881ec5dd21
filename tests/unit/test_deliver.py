"""Delivery on its own: the pacer's spacing, and ``Deliverer`` with a plain PTB ``Bot`` (no
application, no AIORateLimiter) against the local Bot API server with Telegram's flood limits."""

from __future__ import annotations

import asyncio
import itertools
import os
import time
from collections.abc import AsyncIterator

import pytest
from telegram import Bot

from bot.runtime.sender import Deliverer, Pacer, RetryPolicy
from bot.sandbox import BotApiServer, RateLimits

os.environ.setdefault("PTB_TIMEDELTA", "1")
TOKEN = "123456:attache-deliver-test"


class VirtualTime:
    """A clock that sleeping advances (the pacer's arithmetic without waiting)."""

    def __init__(self) -> None:
        self.now = 100.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


async def test_pacer_spaces_sends_overall_and_per_chat() -> None:
    vt = VirtualTime()
    pacer = Pacer(10.0, private_interval=1.0, group_interval=3.0, clock=vt.clock, sleep=vt.sleep)
    moments = []
    for chat_id in range(20):
        await pacer.wait(chat_id)
        moments.append(vt.now)
    gaps = [b - a for a, b in itertools.pairwise(moments)]
    assert all(abs(gap - 0.1) < 1e-9 for gap in gaps)  # 10 a second, evenly
    start = vt.now
    await pacer.wait(7, is_group=True)
    await pacer.wait(7, is_group=True)
    assert vt.now - start >= 3.0  # a group waits 3 s between messages


@pytest.fixture
async def limited() -> AsyncIterator[tuple[BotApiServer, Bot]]:
    async with BotApiServer(token=TOKEN, rate_limits=RateLimits()) as server:
        bot = Bot(TOKEN, base_url=server.base_url)
        async with bot:
            yield server, bot


async def test_paced_burst_meets_no_flood_limit(limited: tuple[BotApiServer, Bot]) -> None:
    server, bot = limited
    chats = [server.private_chat(server.create_user(f"U{i}")).id for i in range(45)]
    deliverer = Deliverer(bot, pacer=Pacer(28.0))
    started = time.monotonic()
    results = await asyncio.gather(*(deliverer.send(c, f"<b>digest</b> {c}") for c in chats))
    elapsed = time.monotonic() - started
    assert [r.status for r in results] == ["sent"] * 45
    assert all(r.attempts == 1 for r in results)  # no 429 was ever answered
    assert len(server.sent_log) == 45 and elapsed >= 44 / 28 - 0.05


async def test_retry_after_without_a_rate_limiter(limited: tuple[BotApiServer, Bot]) -> None:
    server, bot = limited
    chat_id = server.private_chat(server.create_user("Ann")).id
    server.faults.fail_next("sendMessage", 429, retry_after=1)
    vt = VirtualTime()
    deliverer = Deliverer(bot, pacer=Pacer(100.0, private_interval=0.0), sleep=vt.sleep)
    result = await deliverer.send(chat_id, "hello")
    assert result.status == "sent" and result.attempts == 2
    assert vt.sleeps == [1.0] and len(server.sent_log) == 1


async def test_network_errors_back_off_and_give_up(limited: tuple[BotApiServer, Bot]) -> None:
    server, bot = limited
    chat_id = server.private_chat(server.create_user("Bo")).id
    server.faults.fail_next("sendMessage", 502, count=3)
    vt = VirtualTime()
    policy = RetryPolicy(attempts=3, base_delay=0.5, max_delay=8.0)
    deliverer = Deliverer(
        bot, pacer=Pacer(100.0, private_interval=0.0), policy=policy, sleep=vt.sleep
    )
    result = await deliverer.send(chat_id, "hello")
    assert result.status == "failed" and not result.permanent and result.attempts == 3
    assert vt.sleeps == [0.5, 1.0]  # doubling, bounded by the attempts
    assert server.sent_log == []
    result = await deliverer.send(chat_id, "hello")
    assert result.status == "sent"


async def test_gone_chats_and_bad_requests(limited: tuple[BotApiServer, Bot]) -> None:
    server, bot = limited
    blocked = server.private_chat(server.create_user("Cy")).id
    server.faults.block(blocked)
    deliverer = Deliverer(bot, pacer=Pacer(100.0, private_interval=0.0))
    assert (await deliverer.send(blocked, "hi")).status == "blocked"
    assert (await deliverer.send(987_654_321, "hi")).status == "blocked"  # chat not found
    fine = server.private_chat(server.create_user("Di")).id
    refused = await deliverer.send(fine, "")  # 400: message text is empty
    assert refused.status == "failed" and refused.permanent
