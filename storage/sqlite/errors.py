"""SQLite's errors turned into :mod:`storage.errors` at the backend's boundary.

Callers of a Storage must not need the driver to handle its failures (a second backend has
another driver), so every statement runs inside :func:`driver_errors`, which
:mod:`storage.sqlite.connection` wraps around opening, reads and write transactions. The
mapping goes by SQLite's primary result code (``sqlite3.Error.sqlite_errorcode``), which says
what went wrong more reliably than the exception class or the message.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager

from storage.errors import (
    ConstraintViolation,
    Corrupt,
    StorageError,
    Unavailable,
)

# SQLite primary result codes (https://sqlite.org/rescode.html).
SQLITE_PERM = 3
SQLITE_BUSY = 5
SQLITE_LOCKED = 6
SQLITE_NOMEM = 7
SQLITE_READONLY = 8
SQLITE_IOERR = 10
SQLITE_CORRUPT = 11
SQLITE_FULL = 13
SQLITE_CANTOPEN = 14
SQLITE_PROTOCOL = 15
SQLITE_CONSTRAINT = 19
SQLITE_NOTADB = 26

# What each primary code means and what to do about it, in words a person running the bot can
# act on; the driver's own message goes in brackets between the two.
_UNAVAILABLE = {
    SQLITE_PERM: ("the database file may not be accessed", "check its permissions"),
    SQLITE_BUSY: ("the database stayed locked by another process past the timeout", "try again"),
    SQLITE_LOCKED: ("the database stayed locked past the timeout", "try again"),
    SQLITE_NOMEM: ("SQLite ran out of memory", "try again with more memory free"),
    SQLITE_READONLY: (
        "the database cannot be written",
        "check the permissions of the file and its folder",
    ),
    SQLITE_IOERR: (
        "a disk I/O error",
        "free some disk space if the disk is full (or a file size limit was reached), "
        "else check the disk",
    ),
    SQLITE_FULL: ("the disk is full", "free some disk space and try again"),
    SQLITE_CANTOPEN: (
        "the database file cannot be opened",
        "check the path and the permissions of the file and its folder",
    ),
    SQLITE_PROTOCOL: ("the database's locking failed", "try again"),
}
_CORRUPT = {
    SQLITE_CORRUPT: ("the database is damaged", "restore it from a backup"),
    SQLITE_NOTADB: (
        "the file is damaged or is not a database",
        "restore it from a backup, or use another file",
    ),
}


def translate(error: sqlite3.Error) -> StorageError:
    """The storage error for a driver error (the caller raises it ``from`` the original)."""
    code = getattr(error, "sqlite_errorcode", None)
    primary = code & 0xFF if isinstance(code, int) else -1
    if primary in _UNAVAILABLE:
        what, advice = _UNAVAILABLE[primary]
        return Unavailable(f"{what} (sqlite: {error}); {advice}")
    if primary in _CORRUPT:
        what, advice = _CORRUPT[primary]
        return Corrupt(f"{what} (sqlite: {error}); {advice}")
    message = f"sqlite: {error}"
    if primary == SQLITE_CONSTRAINT or isinstance(error, sqlite3.IntegrityError):
        return ConstraintViolation(message)
    return StorageError(message)


@contextmanager
def driver_errors() -> Iterator[None]:
    """Re-raise any ``sqlite3.Error`` (aiosqlite raises the same classes) as a StorageError."""
    try:
        yield
    except sqlite3.Error as exc:
        raise translate(exc) from exc
