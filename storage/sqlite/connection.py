"""The SQLite connections of one store (a writer, a few readers), and the helpers every SQL
module shares.

Why separate connections: a read must see only committed data. One connection serving both
would let a read that runs while another coroutine is inside ``BEGIN IMMEDIATE`` see that
transaction's uncommitted rows, which a rollback may then take back. So:

* the **writer** runs every write, each in one ``BEGIN IMMEDIATE`` transaction behind an
  :class:`asyncio.Lock` (coroutines never interleave inside each other's transactions; other
  processes, such as the CLI next to a running bot, are serialised by SQLite's own locking:
  WAL + ``busy_timeout``). Reads that belong to a write (duplicate detection, percolation,
  inbox expansion) run inside that transaction, on the writer, and so do the temporary tables
  percolation writes;
* the **readers** (``PRAGMA query_only``) run every other read. In WAL mode each statement
  (or :meth:`Database.read` ``snapshot``) sees the last transaction committed when it starts,
  never a transaction in progress, so a read after a committed write sees it, and a read
  during an open write does not. Each read has a reader to itself, taken from a small pool
  (:data:`READERS`, opened as needed): no read runs inside another read's snapshot (which
  could be older than a write its caller has just committed), reads never wait for writes,
  and one slow read does not hold up the others (with every reader busy, the next read waits
  for the first to come free).

A read may carry a **time budget** (search does: ``SQLiteStorage``'s ``search_budget_s``).
It is enforced inside SQLite: every reader has a progress handler, called every
:data:`PROGRESS_STEPS` virtual-machine steps of a running statement, which stops the
statement once the read's deadline has passed (``SQLITE_INTERRUPT``); the read then raises
:class:`storage.errors.QueryTooExpensive`. One step of a full-text statement can be long (a
prefix's expansion is merged inside one), so a statement may overrun its deadline by that
much (up to ~0.2 s measured for 32 one-letter prefixes on 10,000 articles).

Opening applies pragmas and the numbered migrations (``storage/sqlite/migrations/NNNN_*.sql``,
tracked by ``PRAGMA user_version``, one ``BEGIN EXCLUSIVE`` transaction each, the version read
again under the lock, so processes opening a new file together apply each migration once),
then opens the reader. A file that is not a database or is of a newer schema is refused
before anything is written to it; ``create=False`` (read-only commands) refuses to create one.
Every statement runs inside :func:`storage.sqlite.errors.driver_errors`, so callers get
``storage.errors`` only.

Times are stored as integer unix seconds (UTC) and come back as aware UTC datetimes.
"""

from __future__ import annotations

import asyncio
import json
import re
import sqlite3
import time
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from contextlib import asynccontextmanager, suppress
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any

import aiosqlite

from storage.errors import Corrupt, MigrationError, NoDatabase, QueryTooExpensive, Unavailable
from storage.sqlite.errors import SQLITE_BUSY, driver_errors, translate

BUSY_TIMEOUT_MS = 5000
PAGE_SIZE = 16_384
CACHE_KIB = 64 * 1024  # the writer's page cache; the readers share as much between them
READERS = 4  # reader connections at most: a slow read holds one, the others keep answering
PROGRESS_STEPS = 1000  # virtual-machine steps between two checks of a read's deadline
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


def split_statements(script: str) -> list[str]:
    """A migration script as its statements, in order (a trigger's body stays whole), so that
    they can run inside a transaction :func:`migrate` began: ``executescript`` would commit
    it first."""
    statements: list[str] = []
    start = 0
    for end in (semicolon.end() for semicolon in re.finditer(";", script)):
        if sqlite3.complete_statement(script[start:end]):  # not a ; in a string or comment
            statements.append(script[start:end])
            start = end
    if script[start:].strip():
        statements.append(script[start:])  # comments, or an incomplete statement SQLite refuses
    return statements


def _check_known(version: int, known: int) -> None:
    if version > known:
        raise MigrationError(
            f"the database's schema (version {version}) is newer than this version of Attaché"
            f" (which knows up to {known}); upgrade Attaché to use it"
        )


async def _apply(db: aiosqlite.Connection, version: int, script: str) -> None:
    """One migration's statements and its ``user_version``, inside the caller's transaction."""
    for statement in split_statements(script):
        try:
            await db.execute(statement)
        except sqlite3.Error as exc:
            if isinstance(translate(exc), Unavailable | Corrupt):
                raise  # the disk or the file failed, not the migration
            raise MigrationError(f"migration {version:04d} failed: {exc}") from exc
    await db.execute(f"PRAGMA user_version = {version}")


async def migrate(db: aiosqlite.Connection) -> None:
    """Apply the migrations the database lacks, each in its own ``BEGIN EXCLUSIVE``
    transaction that also sets its ``user_version``.

    The version is read again once the lock is held, and only what is still missing then is
    applied: processes opening a new file together wait for each other (``busy_timeout``)
    and apply each migration once, whichever gets the lock first. A database that is up to
    date is not locked at all."""
    migrations = load_migrations()
    current = await scalar(db, "PRAGMA user_version")
    _check_known(current, len(migrations))
    while current < len(migrations):
        await db.execute("BEGIN EXCLUSIVE")
        try:
            current = await scalar(db, "PRAGMA user_version")  # again, under the lock
            _check_known(current, len(migrations))
            if current < len(migrations):
                version, script = migrations[current]
                await _apply(db, version, script)
                current = version
            await db.execute("COMMIT")
        except BaseException:
            if db.in_transaction:
                with suppress(sqlite3.Error):
                    await db.execute("ROLLBACK")
            raise


# ---------------------------------------------------------------------- the connections


def _probe(path: Path, *, create: bool = True) -> None:
    """Open and close the file once with the plain driver, so a file that cannot be opened
    fails here: when ``aiosqlite.connect`` fails it leaves its worker thread to stop on its
    own, which can then outlive the event loop. ``create=False``: open it read-write only if
    it exists (SQLite's ``mode=rw``), never creating it."""
    if create:
        sqlite3.connect(path).close()
    else:
        sqlite3.connect(f"{path.resolve().as_uri()}?mode=rw", uri=True).close()


async def _journal_mode_wal(db: aiosqlite.Connection) -> None:
    """``PRAGMA journal_mode = WAL``, retried for up to ``BUSY_TIMEOUT_MS`` while another
    connection holds the file: SQLite answers this pragma "database is locked" at once,
    without waiting ``busy_timeout``, when another connection is writing a file that is not in
    WAL mode yet (as when processes open a new file together)."""
    deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
    pause = 0.005
    while True:
        try:
            await db.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            busy = (getattr(exc, "sqlite_errorcode", 0) & 0xFF) == SQLITE_BUSY
            if not busy or time.monotonic() >= deadline:
                raise
        await asyncio.sleep(pause)
        pause = min(2 * pause, 0.1)


async def _connect(path: Path, *, reader: bool, create: bool = True) -> aiosqlite.Connection:
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
            # Before anything is written (WAL mode, migrations): a file that is not a
            # database, or of a newer schema, or not there to be created, is left as it was.
            version = await scalar(db, "PRAGMA user_version")
            if version == 0 and not create:
                raise NoDatabase(f"{path} holds no Attaché database")
            _check_known(version, len(load_migrations()))
            await _journal_mode_wal(db)
            await db.execute("PRAGMA foreign_keys = ON")
            await db.execute("PRAGMA synchronous = NORMAL")
            await migrate(db)
    except BaseException:
        await db.close()
        raise
    return db


class _Deadline:
    """A reader's progress handler: once the clock passes ``at``, it returns 1 and SQLite stops
    the running statement. SQLite calls it on the connection's own thread; ``at`` is set before
    a read sends its statements there and cleared after the last one has answered."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self.at: float | None = None
        self.passed = False

    def start(self, budget_s: float | None) -> None:
        self.passed = False
        self.at = None if budget_s is None else self._clock() + budget_s

    def stop(self) -> None:
        self.at = None

    def __call__(self) -> int:
        if self.at is None:
            return 0
        if self._clock() > self.at:
            self.passed = True
            return 1
        return 0


class _Reader:
    """A reader connection and its deadline."""

    def __init__(self, db: aiosqlite.Connection, deadline: _Deadline) -> None:
        self.db = db
        self.deadline = deadline


class Database:
    """The writer and the reader connections of one SQLite file.

    ``readers``: how many reader connections may be open at once; ``clock``: the monotonic
    seconds read budgets are measured in (tests pass their own); ``create=False``: the
    database must exist already (:class:`storage.errors.NoDatabase` otherwise), and opening
    creates no file or folder (what read-only commands use)."""

    def __init__(
        self,
        path: Path,
        *,
        readers: int = READERS,
        clock: Callable[[], float] = time.monotonic,
        create: bool = True,
    ) -> None:
        if readers < 1:
            raise ValueError("a database needs at least one reader")
        self.path = Path(path)
        self.create = create
        self._writer: aiosqlite.Connection | None = None
        self._readers: list[_Reader] = []  # every open reader
        self._idle: list[_Reader] = []  # the readers no read holds, the last used on top
        self._max_readers = readers
        self._reader_slots = asyncio.Semaphore(readers)
        self._clock = clock
        self._write_lock = asyncio.Lock()

    @property
    def writer(self) -> aiosqlite.Connection:
        if self._writer is None:
            raise RuntimeError("storage is not open; call open() first")
        return self._writer

    @property
    def reader(self) -> aiosqlite.Connection:
        """The first reader, for tests of the readers' settings (reads go through read())."""
        if not self._readers:
            raise RuntimeError("storage is not open; call open() first")
        return self._readers[0].db

    @property
    def readers_open(self) -> int:
        """How many reader connections are open (at most ``readers``)."""
        return len(self._readers)

    async def _open_reader(self) -> _Reader:
        db = await _connect(self.path, reader=True)
        try:
            # The readers share the page cache one reader had.
            await db.execute(f"PRAGMA cache_size = {-max(1024, CACHE_KIB // self._max_readers)}")
            deadline = _Deadline(self._clock)
            await db.set_progress_handler(deadline, PROGRESS_STEPS)
        except BaseException:
            await db.close()
            raise
        return _Reader(db, deadline)

    async def _take_reader(self) -> _Reader:
        """An idle reader, or a new one (the caller holds one of the ``readers`` slots)."""
        if self._idle:
            return self._idle.pop()
        if self._writer is None:
            raise RuntimeError("storage is not open; call open() first")
        reader = await self._open_reader()
        self._readers.append(reader)
        return reader

    async def open(self) -> None:
        """Open the writer (pragmas, migrations), then the reader; idempotent."""
        if self._writer is not None:
            return
        if await asyncio.to_thread(self.path.is_dir):
            raise Unavailable(
                f"{self.path} is a directory, not a database file; use the path of a file"
            )
        if not self.create and not await asyncio.to_thread(self.path.exists):
            raise NoDatabase(f"no database at {self.path}")
        if self.create:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise Unavailable(f"cannot create {self.path.parent}: {exc}") from exc
        with driver_errors():
            await asyncio.to_thread(_probe, self.path, create=self.create)
            writer = await _connect(self.path, reader=False, create=self.create)
            try:
                reader = await self._open_reader()
            except BaseException:
                await writer.close()
                raise
        self._writer, self._readers, self._idle = writer, [reader], [reader]

    async def close(self) -> None:
        """Close the readers, then the writer (the last to close checkpoints the WAL)."""
        readers, writer = self._readers, self._writer
        self._readers, self._idle, self._writer = [], [], None
        with driver_errors():
            try:
                closed = await asyncio.gather(
                    *(reader.db.close() for reader in readers), return_exceptions=True
                )
                for outcome in closed:
                    if isinstance(outcome, BaseException):
                        raise outcome
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
    async def read(
        self, *, snapshot: bool = False, budget_s: float | None = None
    ) -> AsyncIterator[aiosqlite.Connection]:
        """A reader of its own for the block, for committed data only. Each statement sees the
        latest commit when it starts; ``snapshot``: all the block's statements see the same
        one (a read transaction), for reads of several statements that must agree.

        ``budget_s``: the block's statements are stopped once this many seconds have passed
        since it began, and the read raises QueryTooExpensive."""
        async with self._reader_slots:
            reader = await self._take_reader()
            db, deadline = reader.db, reader.deadline
            try:
                with driver_errors():
                    if snapshot:
                        await db.execute("BEGIN")
                    deadline.start(budget_s)
                    try:
                        yield db
                    except sqlite3.OperationalError as exc:
                        if deadline.passed:
                            raise QueryTooExpensive(
                                f"stopped after its budget of {budget_s:g} s"
                            ) from exc
                        raise
                    finally:
                        deadline.stop()
                        if db.in_transaction:
                            await db.execute("COMMIT")
            finally:
                if reader in self._readers:  # not closed meanwhile
                    self._idle.append(reader)
