"""SQLite only: processes opening a new database file together all open it, and migrate it once.

The bug this guards: two ``attache ingest`` started together on a new file, and one died with
"database is locked" (SQLite answers ``PRAGMA journal_mode = WAL`` at once, without waiting
``busy_timeout``, while another connection writes the file) or "migration 0001 failed: table
already exists" (a migration applied by the other process after this one read the version).
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from storage.sqlite import SQLiteStorage, load_migrations

ROOT = Path(__file__).parents[3]
SEED = ROOT / "tests" / "fixtures" / "seed_kazinform.txt"
HOLD_S = 0.5  # how long another connection holds the new file (well under busy_timeout)


def schema_version(path: Path) -> int:
    raw = sqlite3.connect(path)
    try:
        version: int = raw.execute("PRAGMA user_version").fetchone()[0]
        return version
    finally:
        raw.close()


@contextmanager
def holder(path: Path) -> Iterator[sqlite3.Connection]:
    """Another connection to ``path``, as another process would have (autocommit mode)."""
    raw = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    try:
        yield raw
    finally:
        raw.close()


async def test_opening_waits_while_another_process_writes_the_new_file(tmp_path: Path) -> None:
    # The other process is writing the new file (not yet in WAL mode): switching to WAL must
    # wait for it rather than fail at once with "database is locked".
    path = tmp_path / "new.db"
    store = SQLiteStorage(path)
    with holder(path) as other:
        other.execute("BEGIN IMMEDIATE")
        opening = asyncio.create_task(store.open())
        await asyncio.sleep(HOLD_S)
        other.execute("COMMIT")
    try:
        await opening
        assert await store.count_articles() == 0
    finally:
        await store.close()
    assert schema_version(path) == len(load_migrations())


async def test_a_migration_applied_while_waiting_for_the_lock_is_not_applied_again(
    tmp_path: Path,
) -> None:
    # The other process holds the migration lock, with every migration applied but not yet
    # committed: this one must wait, read the version again, and find nothing left to do.
    path = tmp_path / "new.db"
    migrations = load_migrations()
    with holder(path) as other:
        other.execute("PRAGMA journal_mode = WAL")
        scripts = "\n;\n".join(script for _, script in migrations)
        # No COMMIT: the transaction stays open, the lock held, until the one below.
        other.executescript(
            f"BEGIN EXCLUSIVE;\n{scripts}\n;PRAGMA user_version = {len(migrations)};"
        )
        assert other.in_transaction
        store = SQLiteStorage(path)
        opening = asyncio.create_task(store.open())
        await asyncio.sleep(HOLD_S)
        other.execute("COMMIT")
    try:
        await opening
        assert await store.count_articles() == 0
    finally:
        await store.close()
    assert schema_version(path) == len(migrations)


@pytest.mark.parametrize("round_", range(5))
async def test_stores_opening_one_new_file_together_all_open_it(
    tmp_path: Path, round_: int
) -> None:
    path = tmp_path / f"together-{round_}.db"
    stores = [SQLiteStorage(path) for _ in range(3)]
    opened = await asyncio.gather(*(s.open() for s in stores), return_exceptions=True)
    try:
        assert [o for o in opened if isinstance(o, BaseException)] == []
        for store in stores:
            assert await store.count_articles() == 0
    finally:
        await asyncio.gather(*(s.close() for s in stores))
    assert schema_version(path) == len(load_migrations())


def test_split_statements_keeps_triggers_strings_and_comments_whole() -> None:
    from storage.sqlite.connection import split_statements

    script = (
        "-- a comment; with a semicolon\n"
        "CREATE TABLE t (x TEXT DEFAULT 'a;b');\n"
        "CREATE TRIGGER t_after AFTER INSERT ON t BEGIN\n"
        "    INSERT INTO t (x) SELECT 'y;' WHERE 0;\n"
        "END;\n"
        "/* trailing */\n"
    )
    statements = split_statements(script)
    assert [s.strip().splitlines()[-1] for s in statements] == [
        "CREATE TABLE t (x TEXT DEFAULT 'a;b');",
        "END;",
        "/* trailing */",
    ]
    raw = sqlite3.connect(":memory:", isolation_level=None)
    raw.execute("BEGIN")
    for statement in statements:
        raw.execute(statement)
    raw.execute("COMMIT")
    raw.close()


async def _ingest(db: Path, cwd: Path) -> tuple[int, str]:
    env = {
        "PATH": os.environ.get("PATH", ""),
        "PYTHONPATH": str(ROOT),
        "PYTHONDONTWRITEBYTECODE": "1",
        "LOG_LEVEL": "WARNING",
    }
    process = await asyncio.create_subprocess_exec(
        *(sys.executable, "-m", "bot", "ingest", "--json", "--db", str(db), str(SEED)),
        cwd=cwd,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await process.communicate()
    assert process.returncode is not None
    return process.returncode, (out + err).decode(errors="replace")


@pytest.mark.parametrize("held", [False, True], ids=["started together", "file held"])
async def test_two_ingest_processes_on_a_new_file_both_succeed(tmp_path: Path, held: bool) -> None:
    # Real processes, started together on a fresh file, a few times ("file held": a third
    # connection writes the new file while they start, which made the race certain).
    for round_ in range(3):
        db = tmp_path / f"race-{round_}.db"
        with holder(db) as other:
            if held:
                other.execute("BEGIN IMMEDIATE")
            both = asyncio.gather(_ingest(db, tmp_path), _ingest(db, tmp_path))
            if held:
                await asyncio.sleep(2 * HOLD_S)
                other.execute("COMMIT")
            results = await both
        for code, output in results:
            assert code == 0, output
        assert schema_version(db) == len(load_migrations())
        outputs = "".join(output for _, output in results)
        assert outputs.count('"added": 1') == 1  # the seed stored once, the other a duplicate
