"""Chats (their digest settings and schedule) and their subscriptions.

Kept together because a subscription lives and dies with its chat: creating one checks the chat,
the per-chat limit and duplicates in the same transaction, and forgetting a chat removes its
subscriptions (and, through foreign keys, its inbox and its keyword queries' index rows, see
:mod:`storage.sqlite.percolate`). Functions take the connection: writers run inside the
caller's write transaction, readers on the reader.
"""

# SQL here is assembled from constant fragments only; every value is a bound parameter.
# ruff: noqa: S608

from __future__ import annotations

from datetime import datetime

import aiosqlite

from storage.errors import AlreadyExists, LimitExceeded, NotFound
from storage.models import (
    Chat,
    ChatType,
    DigestFrequency,
    NewSubscription,
    Subscription,
    SubscriptionKind,
)
from storage.sqlite import percolate
from storage.sqlite.connection import Row, dt, one, opt_dt, opt_ts, rows, scalar, ts

_CHAT_TYPES: dict[str, ChatType] = {
    "private": "private",
    "group": "group",
    "supergroup": "supergroup",
    "channel": "channel",
}
_FREQUENCIES: dict[str, DigestFrequency] = {
    f: f for f in ("off", "instant", "hourly", "daily", "weekly")
}
_SUB_KINDS: dict[str, SubscriptionKind] = {
    k: k for k in ("keyword", "person", "country", "org", "source")
}

CHAT_COLUMNS = (
    "id, type, title, tz, digest_frequency, digest_time, digest_weekday, next_digest_at,"
    " only_diplomatic, paused, blocked_at, created_at"
)
_SUB_COLUMNS = "id, chat_id, kind, query, entity_id, created_at"


def chat_from_row(row: Row) -> Chat:
    return Chat(
        id=row[0],
        type=_CHAT_TYPES[row[1]],
        title=row[2],
        tz=row[3],
        digest_frequency=_FREQUENCIES[row[4]],
        digest_time=row[5],
        digest_weekday=row[6],
        next_digest_at=opt_dt(row[7]),
        only_diplomatic=bool(row[8]),
        paused=bool(row[9]),
        blocked_at=opt_dt(row[10]),
        created_at=opt_dt(row[11]),
    )


def _subscription(row: Row) -> Subscription:
    return Subscription(
        id=row[0],
        chat_id=row[1],
        kind=_SUB_KINDS[row[2]],
        query=row[3],
        entity_id=row[4],
        created_at=dt(row[5]),
    )


# ---------------------------------------------------------------------- chats


async def ensure(
    db: aiosqlite.Connection,
    chat_id: int,
    chat_type: ChatType,
    title: str | None,
    default_tz: str,
    now: datetime,
) -> None:
    """Create the chat, or refresh its type and title and clear ``blocked_at`` (a chat that
    talks to the bot is not blocking it)."""
    await db.execute(
        "INSERT INTO chats (id, type, title, tz, created_at) VALUES (?, ?, ?, ?, ?)"
        " ON CONFLICT (id) DO UPDATE SET title = excluded.title, type = excluded.type,"
        " blocked_at = NULL",
        (chat_id, chat_type, title, default_tz, ts(now)),
    )


async def get(db: aiosqlite.Connection, chat_id: int) -> Chat:
    row = await one(db, f"SELECT {CHAT_COLUMNS} FROM chats WHERE id = ?", (chat_id,))
    if row is None:
        raise NotFound(f"chat {chat_id}")
    return chat_from_row(row)


async def save(db: aiosqlite.Connection, chat: Chat) -> None:
    cursor = await db.execute(
        "UPDATE chats SET type = ?, title = ?, tz = ?, digest_frequency = ?,"
        " digest_time = ?, digest_weekday = ?, next_digest_at = ?, only_diplomatic = ?,"
        " paused = ?, blocked_at = ? WHERE id = ?",
        (
            chat.type,
            chat.title,
            chat.tz,
            chat.digest_frequency,
            chat.digest_time,
            chat.digest_weekday,
            opt_ts(chat.next_digest_at),
            int(chat.only_diplomatic),
            int(chat.paused),
            opt_ts(chat.blocked_at),
            chat.id,
        ),
    )
    if cursor.rowcount == 0:
        raise NotFound(f"chat {chat.id}")


async def forget(db: aiosqlite.Connection, chat_id: int) -> None:
    await db.execute("DELETE FROM chats WHERE id = ?", (chat_id,))


async def mark_blocked(db: aiosqlite.Connection, chat_id: int, at: datetime) -> None:
    await db.execute("UPDATE chats SET blocked_at = ? WHERE id = ?", (ts(at), chat_id))


async def due(db: aiosqlite.Connection, now: datetime, limit: int) -> list[Chat]:
    """Chats whose next digest time has come (not paused, not blocked, not off)."""
    found = await rows(
        db,
        f"SELECT {CHAT_COLUMNS} FROM chats WHERE next_digest_at IS NOT NULL"
        " AND next_digest_at <= ? AND paused = 0 AND blocked_at IS NULL"
        " AND digest_frequency != 'off' ORDER BY next_digest_at, id LIMIT ?",
        (ts(now), limit),
    )
    return [chat_from_row(r) for r in found]


# ---------------------------------------------------------------------- subscriptions


async def add_subscription(
    db: aiosqlite.Connection, sub: NewSubscription, limit: int, now: datetime
) -> int:
    """Inside the caller's write transaction: check, index (keywords) and insert; the new id."""
    dedup_key = (
        f"{sub.kind}:#{sub.entity_id}"
        if sub.entity_id is not None
        else f"{sub.kind}:{' '.join(sub.query.casefold().split())}"
    )
    if await scalar(db, "SELECT count(*) FROM chats WHERE id = ?", (sub.chat_id,)) == 0:
        raise NotFound(f"chat {sub.chat_id}")
    if await scalar(
        db,
        "SELECT count(*) FROM subscriptions WHERE chat_id = ? AND dedup_key = ?",
        (sub.chat_id, dedup_key),
    ):
        raise AlreadyExists(f"subscription {sub.kind} {sub.query!r}")
    count = await scalar(db, "SELECT count(*) FROM subscriptions WHERE chat_id = ?", (sub.chat_id,))
    if count >= limit:
        raise LimitExceeded(f"chat {sub.chat_id} has {count} subscriptions (max {limit})")
    query_id = None
    if sub.kind == "keyword":
        # Indexed for matching; the anchors go with the last subscription (a trigger).
        text = sub.text if sub.text is not None else percolate.plain_words(sub.query)
        query_id = await percolate.register_query(db, text)
    cursor = await db.execute(
        "INSERT INTO subscriptions"
        " (chat_id, kind, query, entity_id, dedup_key, created_at, query_id)"
        " VALUES (?, ?, ?, ?, ?, ?, ?)",
        (sub.chat_id, sub.kind, sub.query, sub.entity_id, dedup_key, ts(now), query_id),
    )
    new_id = cursor.lastrowid
    assert new_id is not None  # set by a successful INSERT
    return new_id


async def list_subscriptions(db: aiosqlite.Connection, chat_id: int) -> list[Subscription]:
    found = await rows(
        db,
        f"SELECT {_SUB_COLUMNS} FROM subscriptions WHERE chat_id = ? ORDER BY id",
        (chat_id,),
    )
    return [_subscription(r) for r in found]


async def get_subscription(
    db: aiosqlite.Connection, chat_id: int, subscription_id: int
) -> Subscription:
    row = await one(
        db,
        f"SELECT {_SUB_COLUMNS} FROM subscriptions WHERE id = ? AND chat_id = ?",
        (subscription_id, chat_id),
    )
    if row is None:
        raise NotFound(f"subscription {subscription_id}")
    return _subscription(row)


async def delete_subscription(db: aiosqlite.Connection, chat_id: int, subscription_id: int) -> bool:
    cursor = await db.execute(
        "DELETE FROM subscriptions WHERE id = ? AND chat_id = ?", (subscription_id, chat_id)
    )
    return cursor.rowcount > 0


async def delete_all_subscriptions(db: aiosqlite.Connection, chat_id: int) -> int:
    cursor = await db.execute("DELETE FROM subscriptions WHERE chat_id = ?", (chat_id,))
    return cursor.rowcount


async def subscriptions_after(
    db: aiosqlite.Connection, last_id: int, size: int
) -> list[Subscription]:
    """The next ``size`` subscriptions of chats that are not blocked, after ``last_id``."""
    found = await rows(
        db,
        "SELECT s.id, s.chat_id, s.kind, s.query, s.entity_id, s.created_at"
        " FROM subscriptions s JOIN chats c ON c.id = s.chat_id"
        " WHERE c.blocked_at IS NULL AND s.id > ? ORDER BY s.id LIMIT ?",
        (last_id, size),
    )
    return [_subscription(r) for r in found]
