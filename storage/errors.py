"""Storage error types.

StorageError            base of everything raised by a storage backend on purpose
├── NotFound            the row asked for does not exist (or belongs to another chat)
├── AlreadyExists       a unique thing (subscription, feed URL) is there already
├── LimitExceeded       a per-chat limit (e.g. subscriptions) would be passed
└── MigrationError      the database schema is newer than this code, or a migration failed
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
