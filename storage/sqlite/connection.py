"""The two SQLite connections of one store, and the helpers every SQL module shares.

Why two connections: a read must see only committed data. One connection serving both would
let a read that runs while another coroutine is inside ``BEGIN IMMEDIATE`` see that
transaction's uncommitted rows, which a rollback may then take back. So:

* the **writer** runs every write, each in one ``BEGIN IMMEDIATE`` transaction behind an
  :class:`asyncio.Lock` (coroutines never interleave inside each other's transactions; other
  processes, such as the CLI next to a running bot, are serialised by SQLite's own locking:
  WAL + ``busy_timeout``). Reads that belong to a write (duplicate detection, percolation,
  inbox expansion) run inside that transaction, on the writer, and so do the temporary tables
  percolation writes;
* the **reader** (``PRAGMA query_only``) runs every other read. In WAL mode each statement (or
  :meth:`Database.read` ``snapshot``) sees the last transaction committed when it starts,
  never a transaction in progress, so a read after a committed write sees it, and a read
  during an open write does not. Reads share the reader under their own lock, so no read
  runs inside another read's snapshot (which could be older than a write its caller has just
  committed), and reads never wait for writes.

Opening applies pragmas and the numbered migrations (``storage/sqlite/migrations/NNNN_*.sql``,
tracked by ``PRAGMA user_version``, one ``BEGIN IMMEDIATE`` transaction each), then opens the
reader. Every statement runs inside :func:`storage.sqlite.errors.driver_errors`, so callers
get ``storage.errors`` only.

Times are stored as integer unix seconds (UTC) and come back as aware UTC datetimes.
"""

from __future__ import annotations

import asyncio
import json
import re
import sqlite3
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager, suppress
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any

import aiosqlite

from storage.errors import MigrationError, Unavailable
from storage.sqlite.errors import driver_errors

BUSY_TIMEOUT_MS = 5000
PAGE_SIZE = 16_384
CACHE_KIB = 64 * 1024
_MIGRATION_NAME = re.compile(r"(\d{4})_[\w-]+\.sql")

Row = sqlite3.Row | tuple[Any, ...]
Params = Sequence[object] | dict[str, object]


# ---------------------------------------------------------------------- time and values


def ts(moment: datetime) -> int:
    """Unix seconds; a naive datetime is taken as UTC."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp())


def opt_ts(moment: datetime | None) -> int | None:
    return None if moment is None else ts(moment)


def dt(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def opt_dt(seconds: int | None) -> datetime | None:
    return None if seconds is None else dt(seconds)


def json_list(values: Iterable[object]) -> str:
    """A JSON array, for ``IN (SELECT value FROM json_each(?))`` with one bound parameter."""
    return json.dumps(list(values))


# ---------------------------------------------------------------------- rows


async def rows(db: aiosqlite.Connection, sql: str, params: Params = ()) -> list[Row]:
    return list(await db.execute_fetchall(sql, params))


async def one(db: aiosqlite.Connection, sql: str, params: Params = ()) -> Row | None:
    found = await rows(db, sql, params)
    return found[0] if found else None


async def scalar(db: aiosqlite.Connection, sql: str, params: Params = ()) -> int:
    """The first column of the first row as an int (0 for no row or NULL)."""
    found = await rows(db, sql, params)
    value = found[0][0] if found else 0
    return int(value or 0)


# ---------------------------------------------------------------------- migrations


def load_migrations() -> list[tuple[int, str]]:
    """The packaged migrations as (version, SQL), checked to be numbered 1, 2, 3, ..."""
    folder = resources.files("storage.sqlite").joinpath("migrations")
    found: list[tuple[int, str]] = []
    for entry in folder.iterdir():
        match = _MIGRATION_NAME.fullmatch(entry.name)
        if match:
            found.append((int(match.group(1)), entry.read_text(encoding="utf-8")))
    found.sort()
    if [version for version, _ in found] != list(range(1, len(found) + 1)):
        raise MigrationError(f"migrations are not numbered 1..n: {[v for v, _ in found]}")
    return found


async def migrate(db: aiosqlite.Connection) -> None:
    """Apply the migrations the database lacks, each in its own ``BEGIN IMMEDIATE``
    transaction with its ``user_version`` (another process opening the same file at the same
    time waits for the lock; a migration it applied first is not applied again)."""
    migrations = load_migrations()
    current = await scalar(db, "PRAGMA user_version")
    if current > len(migrations):
        raise MigrationError(
            f"database schema version {current} is newer than this code "
            f"(knows {len(migrations)}); upgrade Attaché"
        )
    for version, script in migrations[current:]:
        try:
            await db.executescript(
                f"BEGIN IMMEDIATE;\n{script}\n;PRAGMA user_version = {version};\nCOMMIT;"
            )
        except sqlite3.Error as exc:
            if db.in_transaction:
                await db.execute("ROLLBACK")
            if await scalar(db, "PRAGMA user_version") >= version:
                continue  # another process applied it while this one waited
            raise MigrationError(f"migration {version:04d} failed: {exc}") from exc


# ---------------------------------------------------------------------- the connections


def _probe(path: Path) -> None:
    """Open and close the file once with the plain driver, so a file that cannot be opened
    fails here: when ``aiosqlite.connect`` fails it leaves its worker thread to stop on its
    own, which can then outlive the event loop."""
    sqlite3.connect(path).close()


async def _connect(path: Path, *, reader: bool) -> aiosqlite.Connection:
    # isolation_level=None: no implicit transactions; BEGIN/COMMIT are explicit.
    db = await aiosqlite.connect(path, isolation_level=None)
    try:
        if not reader:
            # Larger pages pack ~2 kB article rows with less slack (only effective while the
            # file is new, before WAL mode is set).
            await db.execute(f"PRAGMA page_size = {PAGE_SIZE}")
        # A bigger cache keeps the index hot.
        await db.execute(f"PRAGMA cache_size = {-CACHE_KIB}")
        await db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        if reader:
            await db.execute("PRAGMA query_only = ON")
        else:
            await db.execute("PRAGMA journal_mode = WAL")
            await db.execute("PRAGMA foreign_keys = ON")
            await db.execute("PRAGMA synchronous = NORMAL")
            await migrate(db)
    except BaseException:
        await db.close()
        raise
    return db


class Database:
    """The writer and reader connections of one SQLite file, with their locks."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._writer: aiosqlite.Connection | None = None
        self._reader: aiosqlite.Connection | None = None
        self._write_lock = asyncio.Lock()
        self._read_lock = asyncio.Lock()

    @property
    def writer(self) -> aiosqlite.Connection:
        if self._writer is None:
            raise RuntimeError("storage is not open; call open() first")
        return self._writer

    @property
    def reader(self) -> aiosqlite.Connection:
        if self._reader is None:
            raise RuntimeError("storage is not open; call open() first")
        return self._reader

    async def open(self) -> None:
        """Open the writer (pragmas, migrations), then the reader; idempotent."""
        if self._writer is not None:
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise Unavailable(f"cannot create {self.path.parent}: {exc}") from exc
        with driver_errors():
            await asyncio.to_thread(_probe, self.path)
            writer = await _connect(self.path, reader=False)
            try:
                reader = await _connect(self.path, reader=True)
            except BaseException:
                await writer.close()
                raise
        self._writer, self._reader = writer, reader

    async def close(self) -> None:
        """Close the reader, then the writer (the last to close checkpoints the WAL)."""
        reader, writer = self._reader, self._writer
        self._reader = self._writer = None
        with driver_errors():
            try:
                if reader is not None:
                    await reader.close()
            finally:
                if writer is not None:
                    await writer.close()

    @asynccontextmanager
    async def write(self) -> AsyncIterator[aiosqlite.Connection]:
        """One write transaction on the writer: committed when the block ends, rolled back
        (and the error re-raised, mapped to storage.errors) when it raises."""
        async with self._write_lock:
            db = self.writer
            with driver_errors():
                await db.execute("BEGIN IMMEDIATE")
                try:
                    yield db
                    await db.execute("COMMIT")
                except BaseException:
                    if db.in_transaction:
                        with suppress(sqlite3.Error):
                            await db.execute("ROLLBACK")
                    raise

    @asynccontextmanager
    async def read(self, *, snapshot: bool = False) -> AsyncIterator[aiosqlite.Connection]:
        """The reader, for committed data only. Each statement sees the latest commit when it
        starts; ``snapshot``: all the block's statements see the same one (a read
        transaction), for reads of several statements that must agree."""
        async with self._read_lock:
            db = self.reader
            with driver_errors():
                if not snapshot:
                    yield db
                    return
                await db.execute("BEGIN")
                try:
                    yield db
                finally:
                    if db.in_transaction:
                        await db.execute("COMMIT")
