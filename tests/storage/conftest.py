"""The storage backends under test, as fixtures.

``storage`` is an opened Storage on a fresh, real database for each backend in ``BACKENDS``
(today SQLite, a file in tmp_path); every test that takes it runs once per backend. A second
backend adds its name to ``BACKENDS`` and a branch to ``new_storage`` (e.g. PostgreSQL: a fresh
database on a test server) and must then pass ``tests/storage/contract`` unchanged.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from storage.base import Storage
from storage.sqlite import SQLiteStorage

BACKENDS = ["sqlite"]

StorageFactory = Callable[[], Storage]


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    return name


@pytest.fixture
def new_storage(backend: str, tmp_path: Path) -> StorageFactory:
    """Each call: a new, unopened Storage on this test's one database (to reopen it, or to act
    as a second process sharing it)."""
    if backend == "sqlite":
        path = tmp_path / "data" / "attache.db"
        return lambda: SQLiteStorage(path)
    raise ValueError(f"unknown storage backend {backend!r}")


@pytest.fixture
async def storage(new_storage: StorageFactory) -> AsyncIterator[Storage]:
    store = new_storage()
    await store.open()
    try:
        yield store
    finally:
        await store.close()
