"""Builds the storage backend named by DATABASE_URL and the services over it.

The one place that knows which backend serves which DATABASE_URL scheme: the rest of the bot,
the handlers and the CLI hold a ``storage.base.Storage`` and never a file path.
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


def _sqlite(url: str) -> Storage:
    return SQLiteStorage(sqlite_path(url))


# DATABASE_URL scheme -> the backend for that URL (PostgreSQL will be added here).
# bot.config.DATABASE_SCHEMES (what settings accept) lists the same schemes.
BACKENDS: dict[str, Callable[[str], Storage]] = {"sqlite": _sqlite}


def make_storage(settings: Settings) -> Storage:
    """The (unopened) storage backend DATABASE_URL names, chosen by its scheme; raise
    SettingsError naming DATABASE_URL for a scheme no backend serves."""
    url = settings.database_url
    scheme = database_scheme(url)
    backend = BACKENDS.get(scheme) if scheme is not None else None
    if backend is None:
        supported = ", ".join(f"{name}://" for name in BACKENDS)
        raise SettingsError(
            f"DATABASE_URL: no storage backend for {url.partition('://')[0]!r}"
            f" (supported: {supported})"
        )
    return backend(url)


@asynccontextmanager
async def open_services(settings: Settings) -> AsyncIterator[Services]:
    """Open storage and the HTTP client; close both however the block ends."""
    services = Services(make_storage(settings), settings)
    try:
        await services.open()
        yield services
    finally:
        await services.close()
