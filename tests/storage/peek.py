"""Test-only views of a Storage that the protocol does not offer (production code needs none).

Tests of the bot (digests, delivery, jobs) check the inbox row by row or seed it directly; those
reads and writes are not part of ``storage.base.Storage``, so they are done here, per backend:
each function dispatches on the backend's class (a second backend adds its branch).
"""

from __future__ import annotations

from collections.abc import Sequence

from storage.base import Storage
from storage.errors import NotFound
from storage.models import Feed, InboxItem, Subscription
from storage.sqlite import SQLiteStorage


def _unsupported(storage: Storage) -> TypeError:
    return TypeError(f"no test view for {type(storage).__name__}")


async def pending_inbox(storage: Storage, chat_id: int) -> list[InboxItem]:
    """The chat's undelivered items, oldest match first: one per (article, matching
    subscription), with every match recorded so far."""
    if isinstance(storage, SQLiteStorage):
        return await storage.pending_inbox(chat_id)
    raise _unsupported(storage)


async def add_inbox(storage: Storage, items: Sequence[InboxItem]) -> int:
    """Insert inbox items directly (as if matched), ignoring ones already there; how many
    were new."""
    if isinstance(storage, SQLiteStorage):
        return await storage.add_inbox(items)
    raise _unsupported(storage)


async def all_subscriptions(storage: Storage) -> list[Subscription]:
    """Every subscription of every chat that is not blocked."""
    if isinstance(storage, SQLiteStorage):
        return [sub async for sub in storage.all_subscriptions()]
    raise _unsupported(storage)


async def get_feed(storage: Storage, feed_id: int) -> Feed:
    """One feed, through the protocol's ``list_feeds``; raise NotFound."""
    for feed in await storage.list_feeds():
        if feed.id == feed_id:
            return feed
    raise NotFound(f"feed {feed_id}")
