"""The bot's heartbeat on PTB's JobQueue (APScheduler): digests, instant alerts, matching, feeds.

* every minute: every digest that is due (``Digests.send_due``);
* every 10 seconds: pending matches of chats on ``instant``, batched into one message each;
* every minute: matching catch-up (``Storage.percolate`` until nothing waits), for articles
  stored by another process (the ``attache ingest`` CLI) or left by a crash;
* every minute: the feeds that are due (``FeedPoller.poll_due``); a feed disabled after too many
  failures is reported to every ``ADMIN_IDS`` user.

Each job runs at most once at a time (APScheduler skips a tick while the previous one runs), and
the first ticks come a few seconds after start, so digests missed during downtime go out soon.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from telegram.ext import Application, ExtBot, JobQueue

from bot.digests.deliver import Deliverer
from bot.digests.matching import percolate_all
from bot.digests.service import Digests
from bot.feeds.admin import make_feed_poller
from bot.feeds.service import FeedPoller
from bot.render import escape
from bot.runtime.context import AttacheContext, BotData
from bot.services import IngestOutcome, Services

log = logging.getLogger(__name__)

PERCOLATE_BATCH = 500
PERCOLATE_MAX_BATCHES = 200  # per tick: a big backlog is worked off over several ticks


@dataclass(frozen=True, slots=True)
class JobIntervals:
    """Seconds between runs of each job, and before the first run."""

    digests: float = 60.0
    instant: float = 10.0
    percolate: float = 60.0
    feeds: float = 60.0
    first: float = 3.0


def _new_digests(services: Services, bot: ExtBot[None]) -> Digests:
    """Digests over the app's bot (with its rate limiter), storage and clock."""
    return Digests(services.storage, Deliverer(bot), clock=services.now)


def digests_of(context: AttacheContext) -> Digests:
    """The app's ``Digests``, built on first use when ``schedule_jobs`` did not run."""
    data = context.bot_data
    if data.digests is None:
        data.digests = _new_digests(data.services, context.bot)
    return data.digests


def _feeds(context: AttacheContext) -> FeedPoller[IngestOutcome]:
    """The app's feed poller (bound in post_init), built on first use otherwise."""
    data = context.bot_data
    try:
        return data.feeds
    except RuntimeError:
        poller = make_feed_poller(data.services)
        data.bind_feeds(poller)
        return poller


async def digest_tick(context: AttacheContext) -> None:
    """Send every due digest."""
    report = await digests_of(context).send_due()
    if report.chats:
        log.info(
            "digests: %d chats, %d messages, %d articles, %d empty, %d blocked, %d failed",
            report.chats,
            report.messages,
            report.articles,
            report.empty,
            report.blocked,
            report.failed,
        )


async def instant_tick(context: AttacheContext) -> None:
    """Send pending matches of chats on ``instant``."""
    report = await digests_of(context).send_instant()
    if report.messages:
        log.info("instant: %d messages to %d chats", report.messages, report.digests)


async def percolate_tick(context: AttacheContext) -> None:
    """Match stored articles nobody has matched yet; then send instant alerts at once."""
    storage = context.bot_data.services.storage
    result = await percolate_all(storage, PERCOLATE_BATCH, max_batches=PERCOLATE_MAX_BATCHES)
    if result.chats:
        await instant_tick(context)


async def feeds_tick(context: AttacheContext) -> None:
    """Poll the due feeds; tell the admins about feeds that were just disabled."""
    results = await _feeds(context).poll_due()
    notices = [r.notice for r in results if r.notice]
    if not notices:
        return
    sender = digests_of(context).sender
    for admin_id in sorted(context.bot_data.settings.admin_ids):
        for notice in notices:
            await sender.send(admin_id, escape(notice))


def schedule_jobs(
    app: Application[Any, AttacheContext, Any, Any, BotData, Any],
    intervals: JobIntervals | None = None,
) -> None:
    """Register the jobs on the app's JobQueue (call from post_init, after services opened)."""
    every = intervals if intervals is not None else JobIntervals()
    app.bot_data.digests = _new_digests(app.bot_data.services, app.bot)
    queue: JobQueue[AttacheContext] | None = app.job_queue
    if queue is None:
        raise RuntimeError("the JobQueue is missing: install python-telegram-bot[job-queue]")
    jobs = (
        (digest_tick, every.digests, "digests"),
        (instant_tick, every.instant, "instant"),
        (percolate_tick, every.percolate, "percolate"),
        (feeds_tick, every.feeds, "feeds"),
    )
    for callback, interval, name in jobs:
        queue.run_repeating(callback, interval=interval, first=every.first, name=name)
