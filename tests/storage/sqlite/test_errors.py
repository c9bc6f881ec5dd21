"""SQLite only: driver errors leave the store as ``storage.errors``, and a failed write is
rolled back whole."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from storage.errors import (
    ConstraintViolation,
    Corrupt,
    MigrationError,
    StorageError,
    Unavailable,
)
from storage.models import InboxItem, NewSubscription
from storage.sqlite import SQLiteStorage
from storage.sqlite.errors import translate
from tests.storage.contract.support import NOW, T0
from tests.storage.peek import pending_inbox


async def test_mark_delivered_is_one_transaction(loaded: SQLiteStorage) -> None:
    await loaded.ensure_chat(6, "private", None, "UTC", now=NOW)
    sub = await loaded.add_subscription(NewSubscription(6, "keyword", "x"), 10, now=NOW)
    await loaded.add_inbox([InboxItem(6, 1, sub.id, T0)])
    # A failure in the second statement must roll back the first.
    await loaded.db.execute(
        "CREATE TRIGGER fail_next BEFORE UPDATE OF next_digest_at ON chats "
        "BEGIN SELECT RAISE(ABORT, 'boom'); END"
    )
    with pytest.raises(ConstraintViolation) as failed:
        await loaded.mark_delivered(6, [1], T0, T0)
    assert isinstance(failed.value.__cause__, sqlite3.IntegrityError)
    assert [i.article_id for i in await pending_inbox(loaded, 6)] == [1]
    # The store goes on working: the transaction was closed.
    await loaded.db.execute("DROP TRIGGER fail_next")
    await loaded.mark_delivered(6, [1], T0, T0)
    assert await pending_inbox(loaded, 6) == []


async def test_a_file_that_is_not_a_database_is_corrupt(tmp_path: Path) -> None:
    path = tmp_path / "garbage.db"
    path.write_bytes(b"this is not an SQLite database, just some bytes " * 200)
    with pytest.raises(Corrupt) as failed:
        await SQLiteStorage(path).open()
    assert isinstance(failed.value.__cause__, sqlite3.DatabaseError)


async def test_a_path_that_cannot_be_opened_is_unavailable(tmp_path: Path) -> None:
    directory = tmp_path / "a-directory.db"
    directory.mkdir()
    with pytest.raises(Unavailable):
        await SQLiteStorage(directory).open()
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(Unavailable):
        await SQLiteStorage(blocker / "sub" / "a.db").open()


async def test_a_failed_migration_is_a_migration_error(tmp_path: Path) -> None:
    path = tmp_path / "half.db"
    raw = sqlite3.connect(path)
    raw.execute("CREATE TABLE articles (id INTEGER PRIMARY KEY)")  # in the way of 0001
    raw.close()
    with pytest.raises(MigrationError, match="migration 0001 failed"):
        await SQLiteStorage(path).open()


def _error(cls: type[sqlite3.Error], code: int) -> sqlite3.Error:
    error = cls("driver message")
    error.sqlite_errorcode = code
    return error


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (_error(sqlite3.OperationalError, 5), Unavailable),  # SQLITE_BUSY
        (_error(sqlite3.OperationalError, 5 | (3 << 8)), Unavailable),  # BUSY_TIMEOUT
        (_error(sqlite3.OperationalError, 6), Unavailable),  # SQLITE_LOCKED
        (_error(sqlite3.OperationalError, 10 | (12 << 8)), Unavailable),  # IOERR_READ
        (_error(sqlite3.OperationalError, 13), Unavailable),  # SQLITE_FULL
        (_error(sqlite3.OperationalError, 14), Unavailable),  # SQLITE_CANTOPEN
        (_error(sqlite3.OperationalError, 8), Unavailable),  # SQLITE_READONLY
        (_error(sqlite3.DatabaseError, 11), Corrupt),  # SQLITE_CORRUPT
        (_error(sqlite3.DatabaseError, 26), Corrupt),  # SQLITE_NOTADB
        (_error(sqlite3.IntegrityError, 19 | (8 << 8)), ConstraintViolation),  # UNIQUE
        (sqlite3.IntegrityError("no code"), ConstraintViolation),
        (_error(sqlite3.OperationalError, 1), StorageError),  # SQLITE_ERROR
        (sqlite3.ProgrammingError("closed"), StorageError),
    ],
)
def test_translation_by_result_code(error: sqlite3.Error, expected: type[StorageError]) -> None:
    translated = translate(error)
    assert type(translated) is expected
    assert "driver message" in str(translated) or str(error) in str(translated)
