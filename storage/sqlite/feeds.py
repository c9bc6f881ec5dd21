"""Polled feeds: their rows, their schedule, what each poll learned, and the entries seen.

Kept apart because feeds are the poller's own bookkeeping (validators, failures, back-off),
independent of what the entries become once stored as articles; only :func:`seen_guids` looks
at articles, to tell the poller which entries it need not fetch again. Functions take the
connection: writers run inside the caller's write transaction, readers on the reader.
"""

# SQL here is assembled from constant fragments only; every value is a bound parameter.
# ruff: noqa: S608

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from datetime import datetime

import aiosqlite

from storage.errors import AlreadyExists, NotFound
from storage.models import Feed, PollOutcome
from storage.sqlite.connection import Row, dt, json_list, one, opt_dt, rows, ts

_COLUMNS = (
    "id, url, title, etag, last_modified, interval_s, next_poll_at, failures, last_error,"
    " last_success_at, enabled"
)


def _feed(row: Row) -> Feed:
    return Feed(
        id=row[0],
        url=row[1],
        title=row[2],
        etag=row[3],
        last_modified=row[4],
        interval_s=row[5],
        next_poll_at=dt(row[6]),
        failures=row[7],
        last_error=row[8],
        last_success_at=opt_dt(row[9]),
        enabled=bool(row[10]),
    )


async def add(
    db: aiosqlite.Connection, url: str, title: str | None, interval_s: int, now: datetime
) -> int:
    """Insert a feed due at ``now``; its id. Raise AlreadyExists for a known URL."""
    try:
        cursor = await db.execute(
            "INSERT INTO feeds (url, title, interval_s, next_poll_at) VALUES (?, ?, ?, ?)",
            (url, title, interval_s, ts(now)),
        )
    except sqlite3.IntegrityError as exc:
        raise AlreadyExists(f"feed {url}") from exc
    new_id = cursor.lastrowid
    assert new_id is not None  # set by a successful INSERT
    return new_id


async def list_all(db: aiosqlite.Connection) -> list[Feed]:
    return [_feed(r) for r in await rows(db, f"SELECT {_COLUMNS} FROM feeds ORDER BY id")]


async def get(db: aiosqlite.Connection, feed_id: int) -> Feed:
    row = await one(db, f"SELECT {_COLUMNS} FROM feeds WHERE id = ?", (feed_id,))
    if row is None:
        raise NotFound(f"feed {feed_id}")
    return _feed(row)


async def remove(db: aiosqlite.Connection, feed_id: int) -> bool:
    cursor = await db.execute("DELETE FROM feeds WHERE id = ?", (feed_id,))
    return cursor.rowcount > 0


async def due(db: aiosqlite.Connection, now: datetime) -> list[Feed]:
    found = await rows(
        db,
        f"SELECT {_COLUMNS} FROM feeds WHERE enabled = 1 AND next_poll_at <= ?"
        " ORDER BY next_poll_at, id",
        (ts(now),),
    )
    return [_feed(r) for r in found]


async def record_poll(db: aiosqlite.Connection, outcome: PollOutcome, at: datetime) -> None:
    """A success resets failures and keeps validators the server did not resend."""
    if outcome.ok:
        sql = (
            "UPDATE feeds SET next_poll_at = :next, failures = 0, last_error = NULL,"
            " last_success_at = :at, etag = coalesce(:etag, etag),"
            " last_modified = coalesce(:modified, last_modified),"
            " title = coalesce(:title, title), enabled = enabled AND NOT :disable"
            " WHERE id = :id"
        )
    else:
        sql = (
            "UPDATE feeds SET next_poll_at = :next, failures = failures + 1,"
            " last_error = :error, enabled = enabled AND NOT :disable WHERE id = :id"
        )
    cursor = await db.execute(
        sql,
        {
            "next": ts(outcome.next_poll_at),
            "at": ts(at),
            "etag": outcome.etag,
            "modified": outcome.last_modified,
            "title": outcome.title,
            "error": outcome.error,
            "disable": int(outcome.disable),
            "id": outcome.feed_id,
        },
    )
    if cursor.rowcount == 0:
        raise NotFound(f"feed {outcome.feed_id}")


async def seen_guids(db: aiosqlite.Connection, guids: Sequence[str]) -> set[str]:
    """Which of these feed entry ids a stored article (or a source of one) came with."""
    found = await rows(
        db,
        "SELECT guid FROM article_sources WHERE guid IN (SELECT value FROM json_each(?))",
        (json_list(guids),),
    )
    return {r[0] for r in found}
