"""Digests through the real PTB application and the local Bot API server: the minute tick,
``/digest now``, ``/more``, instant batches, and Telegram's faults (429, 5xx, timeouts, 403, 400).
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from bot.digests.service import Digests
from bot.runtime.context import AttacheContext
from bot.runtime.jobs import digest_tick, instant_tick
from bot.runtime.sender import Deliverer, Pacer, RetryPolicy
from bot.sandbox import SandboxMessage
from tests.conftest import Bot
from tests.storage.peek import pending_inbox
from tests.unit.test_digest_support import (
    STATEDEPT,
    make_chat,
    match,
    release,
    store_releases,
    subscribe,
)


def quick_digests(bot: Bot, *, read_timeout: float | None = None) -> Digests:
    """The app's digests with no per-chat spacing and short retry delays (tests only)."""
    digests = bot.app.bot_data.digests
    digests.sender = Deliverer(
        bot.app.bot,
        pacer=Pacer(private_interval=0.0, group_interval=0.0),
        policy=RetryPolicy(base_delay=0.05, max_delay=0.2),
        read_timeout=read_timeout,
    )
    return digests


def past() -> datetime:
    return datetime.now(UTC) - timedelta(minutes=5)


async def pending_soon(bot: Bot, chat_id: int, expected: int) -> int:
    """Pending articles of the chat, once they reach ``expected`` (a handler marks its items
    right after Telegram accepted the message the test saw) or after a short wait."""
    count = -1
    for _ in range(200):
        count = len({r.article_id for r in await pending_inbox(bot.services.storage, chat_id)})
        if count == expected:
            break
        await asyncio.sleep(0.02)
    return count


def sent_to(bot: Bot, chat_id: int) -> list[SandboxMessage]:
    return [e.message for e in bot.server.sent_log if e.chat_id == chat_id]


async def test_due_daily_digest_on_the_job_queue(bot: Bot) -> None:
    storage = bot.services.storage
    chat_id = bot.alice_chat.id
    ids = await store_releases(storage, range(22))
    # the same story again from another wire: stored once, with two sources
    (merged,) = await storage.add_articles(
        [release(0, source="Mirror Wire", url="https://mirror.example/blinken-kofod")],
        now=datetime.now(UTC),
    )
    assert merged.article_id == ids[0] and not merged.created
    await make_chat(storage, chat_id, tz="Europe/Minsk", next_at=past())
    person = await subscribe(storage, chat_id, "person", "Antony J. Blinken")
    keyword = await subscribe(storage, chat_id, "keyword", "strategic dialogue")
    await match(storage, chat_id, person.id, ids[:14])
    await match(storage, chat_id, keyword.id, ids[14:])

    queue = bot.app.job_queue
    assert queue is not None
    queue.run_once(digest_tick, 0)  # the real JobQueue runs the minute tick's callback
    first = await bot.server.wait_for_message(chat_id, timeout=10)
    parts = [first]
    while "/more" not in parts[-1].text:
        parts.append(await bot.server.wait_for_message(chat_id, timeout=10))
    text = "\n".join(p.text for p in parts)
    assert first.text.startswith("Your digest · 22 new articles")
    assert "Antony J. Blinken · " in text and "“strategic dialogue” · " in text
    assert text.rstrip().endswith("and 2 more: /more")
    titles = [row["title"] for row in STATEDEPT[:22]]
    assert sum(title in text for title in titles) == 20
    if STATEDEPT[0]["title"] in text:
        assert "+1 source" in text
    assert all(p.has_entity("text_link") for p in parts)

    for _ in range(200):  # the job marks the last part right after Telegram accepted it
        chat = await storage.get_chat(chat_id)
        if chat.next_digest_at is not None and chat.next_digest_at > datetime.now(UTC):
            break
        await asyncio.sleep(0.02)
    assert chat.next_digest_at is not None and chat.next_digest_at > datetime.now(UTC)
    assert chat.next_digest_at.astimezone(UTC).hour == 6  # 09:00 in Minsk is 06:00 UTC
    assert await pending_soon(bot, chat_id, 2) == 2

    more = await bot.ask(bot.alice_chat, bot.alice, "/more")
    assert more.text.startswith("More from your digest · 2 new articles")
    assert await pending_soon(bot, chat_id, 0) == 0
    done = await bot.ask(bot.alice_chat, bot.alice, "/more")
    assert done.text == "Nothing more: you are all caught up."
    # a second tick sends nothing: the chat is not due and nothing is pending
    report = await quick_digests(bot).send_due()
    assert report.chats == 0


async def test_digest_now_then_nothing_and_schedule_kept(bot: Bot) -> None:
    storage = bot.services.storage
    chat_id = bot.alice_chat.id
    ids = await store_releases(storage, [3, 4, 5])
    upcoming = datetime.now(UTC).replace(microsecond=0) + timedelta(hours=5)
    await make_chat(storage, chat_id, next_at=upcoming)
    sub = await subscribe(storage, chat_id, "country", "Thailand")
    await match(storage, chat_id, sub.id, ids)
    quick_digests(bot)

    digest = await bot.ask(bot.alice_chat, bot.alice, "/digest now")
    assert digest.text.startswith("Your digest · 3 new articles")
    assert "Thailand · 3" in digest.text
    assert await pending_soon(bot, chat_id, 0) == 0
    assert (await storage.get_chat(chat_id)).next_digest_at == upcoming
    again = await bot.ask(bot.alice_chat, bot.alice, "/digest now")
    assert again.text == "Nothing new since the last digest."
    # the next scheduled digest covers only what came after
    (later,) = await store_releases(storage, [6])
    await match(storage, chat_id, sub.id, [later])
    await make_chat(storage, chat_id, next_at=past())
    report = await digests_now(bot)
    assert report == 1
    last = sent_to(bot, chat_id)[-1]
    assert (
        last.text.startswith("Your digest · 1 new article\n") and STATEDEPT[6]["title"] in last.text
    )


async def digests_now(bot: Bot) -> int:
    digests = bot.app.bot_data.digests
    assert digests is not None
    return (await digests.send_due()).messages


async def test_instant_chat_gets_one_batched_message(bot: Bot) -> None:
    storage = bot.services.storage
    chat_id = bot.alice_chat.id
    ids = await store_releases(storage, [7, 8, 9])
    await make_chat(storage, chat_id, frequency="instant")
    sub = await subscribe(storage, chat_id, "keyword", "secretary")
    await match(storage, chat_id, sub.id, ids)
    quick_digests(bot)
    await instant_tick(AttacheContext(bot.app))
    (message,) = sent_to(bot, chat_id)
    assert message.text.startswith("New for you · 3 new articles")
    assert all(STATEDEPT[i]["title"] in message.text for i in (7, 8, 9))
    assert (await storage.get_chat(chat_id)).next_digest_at is None
    await instant_tick(AttacheContext(bot.app))
    assert len(sent_to(bot, chat_id)) == 1  # nothing pending: nothing sent


async def _due_chat(bot: Bot, name: str, indexes: list[int]) -> int:
    storage = bot.services.storage
    user = bot.server.create_user(name)
    chat_id = bot.server.private_chat(user).id
    ids = await store_releases(storage, indexes)
    await make_chat(storage, chat_id, next_at=past())
    sub = await subscribe(storage, chat_id, "keyword", "dialogue")
    await match(storage, chat_id, sub.id, ids)
    return chat_id


async def test_429_is_waited_out_and_the_message_sent_once(bot: Bot) -> None:
    chat_id = await _due_chat(bot, "Bea", [10, 11])
    quick_digests(bot)
    bot.server.faults.fail_next("sendMessage", 429, retry_after=1)
    before = bot.server.request_counts["sendmessage"]
    report = await bot.app.bot_data.digests.send_due()
    assert report.messages == 1 and report.failed == 0
    assert len(sent_to(bot, chat_id)) == 1
    assert bot.server.request_counts["sendmessage"] - before == 2
    assert await pending_inbox(bot.services.storage, chat_id) == []


async def test_5xx_and_timeouts_are_retried(bot: Bot) -> None:
    chat_id = await _due_chat(bot, "Cy", [12, 13])
    digests = quick_digests(bot, read_timeout=0.5)
    bot.server.faults.timeout_hold = 1.0
    for fault in (500, 502, "timeout"):
        bot.server.faults.fail_next("sendMessage", fault)
    report = await digests.send_due()
    assert report.messages == 1 and report.failed == 0
    (message,) = sent_to(bot, chat_id)
    assert STATEDEPT[12]["title"] in message.text
    kinds = [f.fault.kind for f in bot.server.faults.injected]
    assert kinds == [500, 502, "timeout"]
    assert await pending_inbox(bot.services.storage, chat_id) == []


async def test_retries_are_bounded_and_items_stay_pending(bot: Bot) -> None:
    chat_id = await _due_chat(bot, "Dee", [14])
    digests = quick_digests(bot)
    bot.server.faults.fail_next("sendMessage", 500, count=5)
    report = await digests.send_due()
    assert report.failed == 1 and report.messages == 0
    chat = await bot.services.storage.get_chat(chat_id)
    assert chat.next_digest_at is not None and chat.next_digest_at < datetime.now(UTC)  # still due
    assert len(await pending_inbox(bot.services.storage, chat_id)) == 1
    report = await digests.send_due()  # the next tick delivers it
    assert report.messages == 1 and len(sent_to(bot, chat_id)) == 1


async def test_blocked_and_vanished_chats_stop_others_still_get_theirs(bot: Bot) -> None:
    storage = bot.services.storage
    blocked = await _due_chat(bot, "Eve", [15])
    vanished = await _due_chat(bot, "Fay", [16])
    fine = await _due_chat(bot, "Gus", [17])
    bot.server.faults.block(blocked)
    bot.server.faults.remove_chat(vanished)
    report = await quick_digests(bot).send_due()
    assert report.blocked == 2 and report.messages == 1
    assert len(sent_to(bot, fine)) == 1
    for chat_id in (blocked, vanished):
        chat = await storage.get_chat(chat_id)
        assert chat.blocked_at is not None
        assert len(await pending_inbox(storage, chat_id)) == 1  # never marked delivered
    assert {c.id for c in await storage.due_chats(datetime.now(UTC))} == set()
