"""Fixtures of the contract suite, over the per-backend ``storage`` fixture."""

from __future__ import annotations

import pytest

from storage.base import Storage
from tests.storage.contract.support import NOW, loaded_articles


@pytest.fixture
async def loaded(storage: Storage) -> Storage:
    """The seed and four State Department releases, stored at NOW (ids 1-5)."""
    results = await storage.add_articles(loaded_articles(), now=NOW)
    assert all(r.created for r in results)
    return storage


@pytest.fixture
async def two_chats(storage: Storage) -> Storage:
    """A private chat 1 and a group 2, with the defaults (daily digests)."""
    await storage.ensure_chat(1, "private", None, "UTC", now=NOW)
    await storage.ensure_chat(2, "group", "Group", "UTC", now=NOW)
    return storage
