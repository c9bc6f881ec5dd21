"""Storage error types: the only exceptions a storage backend lets escape on purpose.

A backend maps its driver's errors to these at its boundary (as httpx maps transport errors),
so callers catch ``storage.errors`` and never import a database driver.

StorageError              base of everything raised by a storage backend
├── NotFound              the row asked for does not exist (or belongs to another chat)
├── AlreadyExists         a unique thing (subscription, feed URL) is there already
├── LimitExceeded         a per-chat limit (e.g. subscriptions) would be passed
├── MigrationError        the database schema is newer than this code, or a migration failed
├── Unavailable           the database cannot be used right now: cannot be opened, stayed busy
│                         or locked past the timeout, disk full, I/O error, read-only
├── Corrupt               the database is damaged, or is not a database of this backend
├── NoDatabase            there is no database where one must already be (a backend opened
│                         with ``create=False``, as read-only commands do, creates none)
├── ConstraintViolation   a write broke a rule the database enforces (a bug, or a rule added
│                         by hand); the write was rolled back
└── QueryTooExpensive     a search ran past its time budget and was stopped inside the
                          database (a query so broad that answering it would hold the
                          database for everyone else); a narrower one will be answered

Any other driver error becomes a plain ``StorageError``. The driver's exception is kept as
``__cause__`` for the logs.
"""

from __future__ import annotations


class StorageError(Exception):
    """Base class for storage errors."""


class NotFound(StorageError):
    """The requested row does not exist (or is not visible to the caller)."""


class AlreadyExists(StorageError):
    """A unique item already exists."""


class LimitExceeded(StorageError):
    """A per-chat limit would be exceeded."""


class MigrationError(StorageError):
    """The schema cannot be brought to the version this code expects."""


class Unavailable(StorageError):
    """The database cannot be used right now (open, lock, disk or I/O failure); retrying later
    may succeed."""


class Corrupt(StorageError):
    """The database is damaged or is not a database of this backend."""


class NoDatabase(StorageError):
    """There is no database where opening was told one must already be: nothing was created."""


class ConstraintViolation(StorageError):
    """A write broke a rule the database enforces; nothing of that write was kept."""


class QueryTooExpensive(StorageError):
    """A read ran past its time budget and was stopped inside the database; nothing was
    returned. The query, not the database, is at fault: a narrower one will be answered."""
