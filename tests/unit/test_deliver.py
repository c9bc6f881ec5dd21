"""Delivery on its own: the pacer's spacing, and ``Deliverer`` with a plain PTB ``Bot`` (no
application, no AIORateLimiter) against the local Bot API server with Telegram's flood limits;
and how delivery stops when the process does."""

from __future__ import annotations

import asyncio
import itertools
import os
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from telegram import Bot

from bot.digests.deliver import SendResult
from bot.digests.service import Digests
from bot.runtime.sender import STOPPING, Deliverer, Pacer, RetryPolicy
from bot.sandbox import BotApiServer, RateLimits
from storage.sqlite import SQLiteStorage
from tests.storage.peek import pending_inbox
from tests.unit.test_digest_support import make_chat, match, store_releases, subscribe

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
    # The slots a 28-a-second pacer reserves for 45 senders arriving at once, on a clock that
    # stands still: the first goes at once, every other one waits for a slot of its own.
    frozen = 100.0
    reserved: list[float] = []

    async def note_slot(seconds: float) -> None:
        reserved.append(frozen + seconds)
        await asyncio.sleep(0)  # let the other senders reserve meanwhile

    planner = Pacer(28.0, clock=lambda: frozen, sleep=note_slot)
    await asyncio.gather(*(planner.wait(c) for c in chats))
    assert sorted(reserved) == pytest.approx([frozen + n / 28 for n in range(1, 45)], abs=1e-9)

    # The same pacing on the real clock against the server's flood limits (30 a second over
    # all chats): every message goes through on its first attempt.
    deliverer = Deliverer(bot, pacer=Pacer(28.0))
    results = await asyncio.gather(*(deliverer.send(c, f"<b>digest</b> {c}") for c in chats))
    assert [r.status for r in results] == ["sent"] * 45
    assert all(r.attempts == 1 for r in results)  # no 429 was ever answered
    assert len(server.sent_log) == 45


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


# ------------------------------------------------------------------------- stopping


async def test_a_stopping_deliverer_sends_nothing(limited: tuple[BotApiServer, Bot]) -> None:
    server, bot = limited
    chat_id = server.private_chat(server.create_user("Eve")).id
    deliverer = Deliverer(bot, pacer=Pacer(100.0, private_interval=0.0))
    deliverer.stop()
    result = await deliverer.send(chat_id, "hello")
    assert (result.status, result.error, result.attempts) == ("failed", STOPPING, 0)
    assert not result.permanent  # the message stays pending for the next run
    assert server.request_counts["sendmessage"] == 0


async def test_stopping_ends_a_retry_wait_at_once(limited: tuple[BotApiServer, Bot]) -> None:
    """A 502 puts the message in a back-off wait that would never end by itself; the stop ends
    it, and nothing is sent after it."""
    server, bot = limited
    chat_id = server.private_chat(server.create_user("Flo")).id
    server.faults.fail_next("sendMessage", 502)
    waits: list[float] = []
    never = asyncio.Event()
    backing_off = asyncio.Event()

    async def endless(seconds: float) -> None:
        waits.append(seconds)
        backing_off.set()
        await never.wait()

    deliverer = Deliverer(bot, pacer=Pacer(100.0, private_interval=0.0), sleep=endless)
    sending = asyncio.create_task(deliverer.send(chat_id, "hello"))
    await backing_off.wait()  # the first attempt failed and the back-off began
    deliverer.stop()
    result = await sending
    assert (result.status, result.error, result.attempts) == ("failed", STOPPING, 1)
    assert waits == [0.5]
    assert server.request_counts["sendmessage"] == 1 and server.sent_log == []


class StopOnFirstSend:
    """A sender that accepts every message and stops the digests at its first one."""

    def __init__(self) -> None:
        self.digests: Digests | None = None
        self.sent: list[int] = []

    async def send(self, chat_id: int, html_text: str, *, is_group: bool = False) -> SendResult:
        self.sent.append(chat_id)
        assert self.digests is not None
        self.digests.stop()
        return SendResult("sent", len(self.sent))


async def test_a_stopped_digest_run_begins_no_further_chat(tmp_path: Path) -> None:
    """``Digests.stop`` during a run: the chat being sent finishes its message, no other chat is
    begun, and those stay due with every item pending (the next start sends them)."""
    due = datetime.now(UTC) - timedelta(hours=1)
    async with SQLiteStorage(tmp_path / "attache.db") as storage:
        ids = await store_releases(storage, range(6))
        chats = [8_000_001 + n for n in range(4)]
        for chat_id in chats:
            await make_chat(storage, chat_id, next_at=due)
            sub = await subscribe(storage, chat_id, "keyword", "secretary")
            await match(storage, chat_id, sub.id, ids[:2])
        sender = StopOnFirstSend()
        digests = Digests(storage, sender, concurrency=1)
        sender.digests = digests
        report = await digests.send_due()
        assert report.chats == 1 and report.messages == 1
        assert len(sender.sent) == 1
        still_due = {chat.id for chat in await storage.due_chats(datetime.now(UTC))}
        assert still_due == set(chats) - set(sender.sent)
        for chat_id in still_due:
            assert len(await pending_inbox(storage, chat_id)) == 2
        assert (await digests.send_due()).chats == 0  # stopped for good


class GoneAtFirst:
    """A sender that holds its first message until released, then reports the chat gone
    (as Telegram does for a chat that blocked the bot or vanished); later messages are sent."""

    def __init__(self) -> None:
        self.calls: list[int] = []
        self.holding = asyncio.Event()
        self.release = asyncio.Event()

    async def send(self, chat_id: int, html_text: str, *, is_group: bool = False) -> SendResult:
        self.calls.append(chat_id)
        if len(self.calls) > 1:
            return SendResult("sent", len(self.calls))
        self.holding.set()
        await self.release.wait()
        return SendResult("blocked", error="Bad Request: chat not found")


async def test_a_run_that_waited_for_a_chat_reads_it_again(tmp_path: Path) -> None:
    """Two runs race for one chat (the minute tick and another ``send_due``): the second waits
    for the chat's lock while the first finds the chat gone. It must not act on the chat it
    read before waiting: a gone chat gets no second message, and nothing is counted."""
    chat_id = 8_100_001
    async with SQLiteStorage(tmp_path / "attache.db") as storage:
        ids = await store_releases(storage, range(3))
        await make_chat(storage, chat_id, next_at=datetime.now(UTC) - timedelta(hours=1))
        sub = await subscribe(storage, chat_id, "keyword", "secretary")
        await match(storage, chat_id, sub.id, ids)
        sender = GoneAtFirst()
        digests = Digests(storage, sender)
        first = asyncio.create_task(digests.send_due())
        await sender.holding.wait()
        second = asyncio.create_task(digests.send_due())
        for _ in range(6000):  # the second run reads storage, then waits (60 s safety net)
            if digests.locks.users(chat_id) == 2:
                break
            await asyncio.sleep(0.01)
        assert digests.locks.users(chat_id) == 2  # the second run waits for the chat's lock
        sender.release.set()
        one, other = await first, await second
        assert (one.chats, one.blocked) == (1, 1)
        assert other.chats == 0 and other.messages == 0
        assert sender.calls == [chat_id]
        assert (await storage.get_chat(chat_id)).blocked_at is not None
        assert len(await pending_inbox(storage, chat_id)) == 3
