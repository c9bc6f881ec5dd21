"""Builds the storage backend named by DATABASE_URL and the services over it.

The one place that knows which backend serves which DATABASE_URL scheme: the rest of the bot,
the handlers and the CLI hold a ``storage.base.Storage`` and never a file path.

``create=False`` asks for a database that exists already: opening it then raises
``storage.errors.NoDatabase`` instead of creating one (the read-only CLI commands use it, so
that a mistyped ``--db`` creates no folder and no file).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

from bot.config import Settings, SettingsError, database_scheme
from bot.services import Services
from storage.base import Storage
from storage.sqlite import SQLiteStorage


def sqlite_path(url: str) -> Path:
    """``sqlite:///rel.db`` -> ``rel.db``; ``sqlite:////abs.db`` -> ``/abs.db``."""
    return Path(url.removeprefix("sqlite:///"))


def _sqlite(url: str, create: bool) -> Storage:
    return SQLiteStorage(sqlite_path(url), create=create)


# DATABASE_URL scheme -> the backend for that URL and whether it may create the database
# (PostgreSQL will be added here). bot.config.DATABASE_SCHEMES (what settings accept) lists the
# same schemes.
BACKENDS: dict[str, Callable[[str, bool], Storage]] = {"sqlite": _sqlite}


def make_storage(settings: Settings, *, create: bool = True) -> Storage:
    """The (unopened) storage backend DATABASE_URL names, chosen by its scheme; raise
    SettingsError naming DATABASE_URL for a scheme no backend serves. ``create=False``: opening
    it fails with NoDatabase rather than creating a database."""
    url = settings.database_url
    scheme = database_scheme(url)
    backend = BACKENDS.get(scheme) if scheme is not None else None
    if backend is None:
        supported = ", ".join(f"{name}://" for name in BACKENDS)
        raise SettingsError(
            f"DATABASE_URL: no storage backend for {url.partition('://')[0]!r}"
            f" (supported: {supported})"
        )
    return backend(url, create)


def database_location(settings: Settings) -> str:
    """Where the database is, as a person would name it: the file of a SQLite URL, else the URL
    (for messages; a URL's password is not shown)."""
    url = settings.database_url
    if database_scheme(url) == "sqlite":
        return str(sqlite_path(url))
    scheme, _, rest = url.partition("://")
    credentials, at, host = rest.rpartition("@")
    user = credentials.partition(":")[0]
    return f"{scheme}://{user}{at}{host}" if at else url


@asynccontextmanager
async def open_services(settings: Settings, *, create: bool = True) -> AsyncIterator[Services]:
    """Open storage and the HTTP client; close both however the block ends. ``create=False``:
    the database must exist (NoDatabase otherwise)."""
    services = Services(make_storage(settings, create=create), settings)
    try:
        await services.open()
        yield services
    finally:
        await services.close()
