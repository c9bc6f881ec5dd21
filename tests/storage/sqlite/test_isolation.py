"""SQLite only: reads run on their own connection and see committed data only.

The store holds a write transaction open here (``_database.write()``, what every writing
method uses), so a read can be made while it is in progress."""

from __future__ import annotations

import asyncio

import pytest

from storage.errors import NotFound
from storage.models import NewSubscription
from storage.sqlite import SQLiteStorage
from tests.storage.contract.support import NOW
from tests.storage.peek import all_subscriptions


class Boom(Exception):
    """Raised inside a write transaction to roll it back."""


async def test_a_read_during_a_write_that_rolls_back_never_sees_its_rows(
    store: SQLiteStorage,
) -> None:
    inserted = asyncio.Event()
    release = asyncio.Event()

    async def failing_write() -> None:
        async with store._database.write() as db:
            await db.execute(
                "INSERT INTO chats (id, type, title, tz, created_at) VALUES (42, 'private',"
                " 'Ghost', 'UTC', 0)"
            )
            inserted.set()
            await release.wait()
            raise Boom

    writer = asyncio.create_task(failing_write())
    await inserted.wait()
    # The insert is made but not committed: a read on the store must not see it.
    with pytest.raises(NotFound):
        await store.get_chat(42)
    assert (await store.stats()).chats == 0
    release.set()
    with pytest.raises(Boom):
        await writer
    with pytest.raises(NotFound):
        await store.get_chat(42)


async def test_reads_do_not_wait_for_a_write_in_progress(store: SQLiteStorage) -> None:
    await store.ensure_chat(1, "private", "Before", "UTC", now=NOW)
    inside = asyncio.Event()
    release = asyncio.Event()

    async def slow_write() -> None:
        async with store._database.write() as db:
            await db.execute("UPDATE chats SET title = 'After' WHERE id = 1")
            inside.set()
            await release.wait()

    writer = asyncio.create_task(slow_write())
    await inside.wait()
    # Answered at once, from the last commit.
    chat = await asyncio.wait_for(store.get_chat(1), timeout=2)
    assert chat.title == "Before"
    release.set()
    await writer
    assert (await store.get_chat(1)).title == "After"  # committed: seen at once


async def test_the_reader_cannot_write(store: SQLiteStorage) -> None:
    rows = await store._database.reader.execute_fetchall("PRAGMA query_only")
    assert next(iter(rows))[0] == 1


async def test_test_helpers_skip_blocked_chats(two_chats: SQLiteStorage) -> None:
    store = two_chats
    await store.add_subscription(NewSubscription(1, "keyword", "minsk"), 5, now=NOW)
    await store.add_subscription(NewSubscription(2, "keyword", "minsk"), 5, now=NOW)
    await store.mark_blocked(2, NOW)
    assert {s.chat_id async for s in store.all_subscriptions()} == {1}
    assert {s.chat_id for s in await all_subscriptions(store)} == {1}
