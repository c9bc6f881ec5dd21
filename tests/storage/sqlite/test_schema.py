"""SQLite only: the file, its pragmas and its migrations."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from storage.errors import MigrationError
from storage.sqlite import SQLiteStorage, load_migrations
from tests.storage.contract.support import NOW, article


async def test_open_creates_schema_and_reopens(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "dir" / "a.db"
    async with SQLiteStorage(path) as storage:
        await storage.add_articles([article("T", "some words here")], now=NOW)
    versions = len(load_migrations())
    raw = sqlite3.connect(path)
    assert raw.execute("PRAGMA user_version").fetchone()[0] == versions
    assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    raw.close()
    async with SQLiteStorage(path) as again:
        assert await again.count_articles() == 1


async def test_newer_database_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "a.db"
    raw = sqlite3.connect(path)
    raw.execute("PRAGMA user_version = 999")
    raw.close()
    with pytest.raises(MigrationError):
        await SQLiteStorage(path).open()


async def test_pragmas(store: SQLiteStorage) -> None:
    rows = await store.db.execute_fetchall("PRAGMA foreign_keys")
    assert next(iter(rows))[0] == 1
    rows = await store.db.execute_fetchall("PRAGMA busy_timeout")
    assert next(iter(rows))[0] == 5000
    rows = await store.db.execute_fetchall("PRAGMA query_only")
    assert next(iter(rows))[0] == 0  # the writer


async def test_migrations_are_numbered_from_one() -> None:
    versions = [version for version, _ in load_migrations()]
    assert versions == list(range(1, len(versions) + 1))


async def test_processes_opening_a_new_file_together_migrate_it_once(tmp_path: Path) -> None:
    path = tmp_path / "together.db"
    stores = [SQLiteStorage(path) for _ in range(4)]
    await asyncio.gather(*(s.open() for s in stores))
    try:
        for store in stores:
            assert await store.count_articles() == 0
        raw = sqlite3.connect(path)
        assert raw.execute("PRAGMA user_version").fetchone()[0] == len(load_migrations())
        raw.close()
    finally:
        await asyncio.gather(*(s.close() for s in stores))
