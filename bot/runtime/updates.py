"""How incoming updates are scheduled: several at once, but each sender's in order.

PTB handles one update at a time by default, so one slow command (a search that takes a
second) made every other user wait behind it: with three users sending four broad searches
each, a bystander's ``/search lavrov`` took 23 s instead of 0.04 s. :class:`SenderLanes`
lets updates of different senders run concurrently while keeping the updates of one sender
(a user in a chat, or a channel) in the order they arrived: ``/subscribe x`` then
``/subscriptions`` still lists ``x``, and one sender's burst only queues behind itself.

The handlers are safe to run concurrently: they share in-memory state only through
synchronous operations (throttle, query cache, channel targets), storage serialises writes in
transactions and gives each read its own connection, and digest deliveries hold a lock per
chat. At most :data:`RUNNING` handlers run at once; an update waiting for its sender's
earlier one does not count against them (the PTB bound, :data:`QUEUED`, only caps how many
updates are held in memory).
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Awaitable, Hashable
from typing import Any

from telegram import Update
from telegram.ext import BaseUpdateProcessor

RUNNING = 16  # handlers running at once, over all senders
QUEUED = 1024  # updates held at once (running, or waiting for their sender's earlier ones)


def sender_key(update: object) -> Hashable:
    """The lane of an update: its chat and user (a channel post: its chat); None for
    anything that is not a Telegram update."""
    if not isinstance(update, Update):
        return None
    chat, user = update.effective_chat, update.effective_user
    return (chat.id if chat else None, user.id if user else None)


class SenderLanes(BaseUpdateProcessor):
    """Concurrent update processing, in order within each sender's lane."""

    def __init__(self, running: int = RUNNING, queued: int = QUEUED) -> None:
        super().__init__(max(running, queued))
        self._running = asyncio.Semaphore(running)
        self._lanes: dict[Hashable, asyncio.Lock] = {}
        self._lane_users: Counter[Hashable] = Counter()  # updates holding or awaiting a lane

    @property
    def lanes(self) -> int:
        """Senders with an update in progress or waiting (their locks are dropped when idle)."""
        return len(self._lanes)

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        key = sender_key(update)
        lane = self._lanes.setdefault(key, asyncio.Lock())
        self._lane_users[key] += 1
        started = False
        try:
            async with lane, self._running:
                started = True
                await coroutine
        finally:
            if not started and asyncio.iscoroutine(coroutine):
                coroutine.close()  # cancelled while waiting: never to run
            self._lane_users[key] -= 1
            if not self._lane_users[key]:
                del self._lane_users[key]
                del self._lanes[key]

    async def initialize(self) -> None:
        """Nothing to set up."""

    async def shutdown(self) -> None:
        """Nothing to release: PTB waits for the updates in progress."""
