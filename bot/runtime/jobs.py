"""The bot's heartbeat on PTB's JobQueue (APScheduler): digests, instant alerts, matching, feeds.

* every minute: every digest that is due (``Digests.send_due``);
* every 10 seconds: pending matches of chats on ``instant``, batched into one message each;
* every minute: matching catch-up (``Storage.percolate`` until nothing waits), for articles
  stored by another process (the ``attache ingest`` CLI) or left by a crash;
* every minute: the feeds that are due (``FeedPoller.poll_due``); a feed disabled after too many
  failures is reported to every ``ADMIN_IDS`` user.

Each job runs at most once at a time (APScheduler skips a tick while the previous one runs), and
the first ticks come a few seconds after start, so digests missed during downtime go out soon.
When the bot stops, the application waits for running jobs; digest runs end at the next chat
(``Digests.stop``), so a stop does not wait for a whole run.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from telegram.ext import Application, JobQueue

from bot.digests.matching import percolate_all
from bot.render import escape
from bot.runtime.context import AttacheContext, BotData

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


async def digest_tick(context: AttacheContext) -> None:
    """Send every due digest (when the bot is stopping, the run ends early; the rest stays
    due for the next start)."""
    digests = context.bot_data.digests
    report = await digests.send_due()
    if report.chats:
        log.info(
            "digests: %d chats, %d messages, %d articles, %d empty, %d blocked, %d failed%s",
            report.chats,
            report.messages,
            report.articles,
            report.empty,
            report.blocked,
            report.failed,
            " (stopping: the rest stays due)" if digests.stopping else "",
        )


async def instant_tick(context: AttacheContext) -> None:
    """Send pending matches of chats on ``instant``."""
    report = await context.bot_data.digests.send_instant()
    if report.messages:
        log.info("instant: %d messages to %d chats", report.messages, report.digests)


async def percolate_tick(context: AttacheContext) -> None:
    """Match stored articles nobody has matched yet; then send instant alerts at once."""
    storage = context.bot_data.services.storage
    result = await percolate_all(
        storage,
        PERCOLATE_BATCH,
        max_batches=PERCOLATE_MAX_BATCHES,
        clock=context.bot_data.services.clock,
    )
    if result.chats:
        await instant_tick(context)


async def feeds_tick(context: AttacheContext) -> None:
    """Poll the due feeds; tell the admins about feeds that were just disabled."""
    results = await context.bot_data.services.poller.poll_due()
    notices = [r.notice for r in results if r.notice]
    if not notices:
        return
    sender = context.bot_data.digests.sender
    for admin_id in sorted(context.bot_data.settings.admin_ids):
        for notice in notices:
            await sender.send(admin_id, escape(notice))


def schedule_jobs(
    app: Application[Any, AttacheContext, Any, Any, BotData, Any],
    intervals: JobIntervals | None = None,
) -> None:
    """Register the jobs on the app's JobQueue (call from post_init, after services opened)."""
    every = intervals if intervals is not None else JobIntervals()
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
