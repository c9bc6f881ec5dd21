"""Builds the storage backend named by DATABASE_URL and the services over it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from bot.config import Settings
from bot.services import Services
from storage.base import Storage
from storage.sqlite import SQLiteStorage


def make_storage(settings: Settings) -> Storage:
    """SQLite is the only backend today; PostgreSQL will be chosen here by URL scheme."""
    return SQLiteStorage(settings.database_path)


@asynccontextmanager
async def open_services(settings: Settings) -> AsyncIterator[Services]:
    """Open storage and the HTTP client; close both however the block ends."""
    services = Services(make_storage(settings), settings)
    await services.open()
    try:
        yield services
    finally:
        await services.close()
