"""Each chat's inbox: pending matches, what a digest reads of them, and delivery marks.

Kept apart from matching (:mod:`storage.sqlite.percolate`, which records matches per query or
entity) because this is the per-chat side: a chat's inbox rows are materialised from those
matches when the inbox is read (``expand_chat`` / ``expand_chats``, in a write transaction),
then read, then marked. Marking is what makes delivery safe across crashes: ``sending_at`` is
set before a message goes out and ``delivered_at`` (with the chat's next digest time, in one
transaction) after, so a crash between the two repeats at most that one message.

Functions take the connection: writers run inside the caller's write transaction, readers on
the reader.
"""

# SQL here is assembled from constant fragments only; every value is a bound parameter.
# ruff: noqa: S608

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime

import aiosqlite

from storage.models import Chat, DigestFrequency, InboxItem, PendingDigest
from storage.sqlite import percolate
from storage.sqlite.chats import CHAT_COLUMNS, chat_from_row
from storage.sqlite.connection import dt, json_list, opt_ts, rows, ts


async def add(db: aiosqlite.Connection, items: Sequence[InboxItem]) -> int:
    """Insert items, ignoring ones already there; how many were new."""
    before = db.total_changes
    await db.executemany(
        "INSERT OR IGNORE INTO inbox"
        " (chat_id, article_id, subscription_id, matched_at, delivered_at)"
        " VALUES (?, ?, ?, ?, ?)",
        [
            (i.chat_id, i.article_id, i.subscription_id, ts(i.matched_at), opt_ts(i.delivered_at))
            for i in items
        ],
    )
    return db.total_changes - before


async def pending(db: aiosqlite.Connection, chat_id: int) -> list[InboxItem]:
    """Inside the caller's write transaction: expand the chat's new matches, then read its
    undelivered rows, oldest match first."""
    await percolate.expand_chat(db, chat_id)
    found = await rows(
        db,
        "SELECT chat_id, article_id, subscription_id, matched_at FROM inbox"
        " WHERE chat_id = ? AND delivered_at IS NULL ORDER BY matched_at, article_id,"
        " subscription_id",
        (chat_id,),
    )
    return [InboxItem(r[0], r[1], r[2], dt(r[3])) for r in found]


# Pending articles a diplomatic-only digest passes over (usually none: diplomatic-only
# expansion writes no such rows), as a JSON array.
_PASSED_OVER = (
    "SELECT json_group_array(DISTINCT p.article_id) FROM inbox p INDEXED BY inbox_pending"
    " CROSS JOIN articles b ON b.id = p.article_id WHERE p.chat_id = ?"
    " AND p.delivered_at IS NULL AND b.is_diplomatic = 0 AND ? = 1"
)


async def digest(
    db: aiosqlite.Connection, chat_id: int, diplomatic_only: bool, limit: int, in_flight: bool
) -> PendingDigest:
    """The newest ``limit`` eligible pending articles with the counts, in one statement
    (30,000 chats are composed at once: round trips count), after the chat's matches were
    expanded."""
    flag = int(diplomatic_only)
    # inbox_pending covers chat_id, matched_at and the key (article, subscription); the window
    # count runs over every eligible article before LIMIT; the passed-over list is computed once.
    found = await rows(
        db,
        "SELECT i.article_id, min(i.subscription_id), min(i.matched_at), count(*) OVER (),"
        f" ({_PASSED_OVER}) FROM inbox i INDEXED BY inbox_pending CROSS JOIN articles a"
        " ON a.id = i.article_id WHERE i.chat_id = ? AND i.delivered_at IS NULL"
        " AND (? = 0 OR a.is_diplomatic = 1) AND (? = 0 OR i.sending_at IS NOT NULL)"
        " GROUP BY i.article_id"
        " ORDER BY coalesce(a.published_at, a.ingested_at) DESC, i.article_id DESC LIMIT ?",
        (chat_id, flag, chat_id, flag, int(in_flight), max(1, limit)),
    )
    if found:
        articles, passed = int(found[0][3]), json.loads(found[0][4])
    else:
        articles, passed = 0, []
        if diplomatic_only:
            passed = json.loads((await rows(db, _PASSED_OVER, (chat_id, flag)))[0][0])
    items = tuple(InboxItem(chat_id, r[0], r[1], dt(r[2])) for r in found[: max(0, limit)])
    return PendingDigest(items, articles, tuple(sorted(int(i) for i in passed)))


async def mark_delivered(
    db: aiosqlite.Connection,
    chat_id: int,
    article_ids: Sequence[int],
    delivered_at: datetime,
    next_digest_at: datetime | None,
) -> None:
    """Inside the caller's write transaction: the items delivered, the next digest set."""
    await db.execute(
        "UPDATE inbox SET delivered_at = ? WHERE chat_id = ? AND delivered_at IS NULL"
        " AND article_id IN (SELECT value FROM json_each(?))",
        (ts(delivered_at), chat_id, json_list(article_ids)),
    )
    await db.execute(
        "UPDATE chats SET next_digest_at = ? WHERE id = ?", (opt_ts(next_digest_at), chat_id)
    )


async def mark_sending(
    db: aiosqlite.Connection, chat_id: int, article_ids: Sequence[int], at: datetime | None
) -> None:
    await db.execute(
        "UPDATE inbox SET sending_at = ? WHERE chat_id = ? AND delivered_at IS NULL"
        " AND article_id IN (SELECT value FROM json_each(?))",
        (opt_ts(at), chat_id, json_list(article_ids)),
    )


async def pending_chats(
    db: aiosqlite.Connection, frequency: DigestFrequency, limit: int
) -> list[Chat]:
    """Chats on ``frequency`` (not paused, not blocked) with undelivered rows or matches not
    yet expanded into rows."""
    found = await rows(
        db,
        f"SELECT {CHAT_COLUMNS} FROM chats WHERE digest_frequency = ? AND paused = 0"
        " AND blocked_at IS NULL AND (EXISTS (SELECT 1 FROM inbox WHERE inbox.chat_id ="
        f" chats.id AND inbox.delivered_at IS NULL) OR {percolate.UNEXPANDED})"
        " ORDER BY id LIMIT ?",
        (frequency, limit),
    )
    return [chat_from_row(r) for r in found]
