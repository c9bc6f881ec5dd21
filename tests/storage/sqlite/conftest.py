"""Fixtures of the SQLite-only tests: a SQLiteStorage itself (the ``db`` writer connection and
the test helpers included), on a fresh file."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from storage.sqlite import SQLiteStorage
from tests.storage.contract.support import NOW, loaded_articles


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SQLiteStorage]:
    async with SQLiteStorage(tmp_path / "data" / "attache.db") as storage:
        yield storage


@pytest.fixture
async def loaded(store: SQLiteStorage) -> SQLiteStorage:
    results = await store.add_articles(loaded_articles(), now=NOW)
    assert all(r.created for r in results)
    return store


@pytest.fixture
async def two_chats(store: SQLiteStorage) -> SQLiteStorage:
    await store.ensure_chat(1, "private", None, "UTC", now=NOW)
    await store.ensure_chat(2, "group", "Group", "UTC", now=NOW)
    return store
