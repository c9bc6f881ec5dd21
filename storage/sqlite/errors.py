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

_UNAVAILABLE = frozenset(
    {
        SQLITE_PERM,
        SQLITE_BUSY,
        SQLITE_LOCKED,
        SQLITE_NOMEM,
        SQLITE_READONLY,
        SQLITE_IOERR,
        SQLITE_FULL,
        SQLITE_CANTOPEN,
        SQLITE_PROTOCOL,
    }
)
_CORRUPT = frozenset({SQLITE_CORRUPT, SQLITE_NOTADB})


def translate(error: sqlite3.Error) -> StorageError:
    """The storage error for a driver error (the caller raises it ``from`` the original)."""
    code = getattr(error, "sqlite_errorcode", None)
    primary = code & 0xFF if isinstance(code, int) else None
    message = f"sqlite: {error}"
    if primary in _UNAVAILABLE:
        return Unavailable(message)
    if primary in _CORRUPT:
        return Corrupt(message)
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
