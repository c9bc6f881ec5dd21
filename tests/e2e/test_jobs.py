"""The JobQueue wiring: which jobs run, matching catch-up feeding instant alerts, and feed
failures reported to the admins — all on the real application against the local servers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from aiohttp import web

from bot.runtime.context import AttacheContext
from bot.runtime.jobs import JobIntervals, feeds_tick, percolate_tick
from storage.models import PollOutcome
from tests.conftest import ADMIN_ID, Bot
from tests.storage.peek import get_feed, pending_inbox
from tests.unit.test_digest_support import STATEDEPT, make_chat, release, subscribe


async def test_jobs_are_scheduled_at_start(bot: Bot) -> None:
    queue = bot.app.job_queue
    assert queue is not None
    jobs = {job.name: job for job in queue.jobs()}
    assert set(jobs) >= {"digests", "instant", "percolate", "feeds"}
    every = JobIntervals()
    for name, seconds in (("digests", 60), ("instant", 10), ("percolate", 60), ("feeds", 60)):
        trigger = jobs[name].job.trigger
        assert trigger.interval == timedelta(seconds=seconds)
    assert every.first < 10  # catch-up digests go out soon after a restart
    assert bot.app.bot_data.digests is not None


async def test_matching_catch_up_sends_instant_alerts(bot: Bot) -> None:
    storage = bot.services.storage
    chat_id = bot.alice_chat.id
    await make_chat(storage, chat_id, frequency="instant")
    await subscribe(storage, chat_id, "keyword", "Greenland")
    # stored by "another process": not matched yet, waiting in the queue
    await storage.add_articles([release(0)], now=datetime.now(UTC))
    await percolate_tick(AttacheContext(bot.app))
    message = await bot.server.wait_for_message(chat_id, timeout=5)
    assert message.text.startswith("New for you · 1 new article")
    assert STATEDEPT[0]["title"] in message.text
    assert await pending_inbox(storage, chat_id) == []


async def test_disabled_feed_is_reported_to_admins(bot: Bot) -> None:
    async def broken(request: web.Request) -> web.Response:
        return web.Response(status=500, text="down")

    app = web.Application()
    app.router.add_get("/feed.xml", broken)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        storage = bot.services.storage
        feed = await storage.add_feed(
            f"http://127.0.0.1:{port}/feed.xml", "Broken Wire", 600, now=datetime.now(UTC)
        )
        past = datetime.now(UTC) - timedelta(minutes=1)
        for _ in range(19):  # nineteen failures already: the next poll disables it
            await storage.record_poll(PollOutcome(feed.id, False, past, error="HTTP 500"), past)
        assert bot.admin_chat.id == ADMIN_ID  # the admin's chat exists in the sandbox
        await feeds_tick(AttacheContext(bot.app))
        notice = await bot.server.wait_for_message(ADMIN_ID, timeout=5)
        assert "Broken Wire" in notice.text and "disabled" in notice.text
        assert not (await get_feed(storage, feed.id)).enabled
    finally:
        await runner.cleanup()
