"""Contract: one instance shared by many coroutines, and instances sharing one database.

Reads see committed data: every write committed before a read started (the caller's own
included), and never a write in progress. (That a read does not see a write still in progress
is checked per backend, where a test can hold a transaction open: tests/storage/sqlite.)"""

from __future__ import annotations

import asyncio
import random
from dataclasses import replace
from datetime import timedelta

import pytest

from storage.base import Storage
from storage.errors import LimitExceeded, NotFound
from storage.models import NewSubscription
from tests.storage.conftest import StorageFactory
from tests.storage.contract.support import NOW, STATEDEPT, TARGETS, article

VOCABULARY = sorted({word for _, text in TARGETS for word in text.split()})


async def test_every_coroutine_reads_its_own_writes(storage: Storage) -> None:
    async def user(chat_id: int) -> None:
        chat = await storage.ensure_chat(chat_id, "private", None, "UTC", now=NOW)
        assert (await storage.get_chat(chat_id)) == chat
        for n in range(3):
            moved = replace(chat, next_digest_at=NOW + timedelta(minutes=n), digest_time="10:00")
            await storage.save_chat(moved)
            assert (await storage.get_chat(chat_id)) == moved
            sub = await storage.add_subscription(
                NewSubscription(chat_id, "keyword", f"word{n}"), 10, now=NOW
            )
            assert sub in await storage.list_subscriptions(chat_id)
        words = random.Random(chat_id).sample(VOCABULARY, 12)  # a story of its own
        [stored] = await storage.add_articles(
            [article(f"Story {chat_id}", " ".join(words), url=f"https://c.example/{chat_id}")],
            now=NOW,
        )
        assert stored.created
        assert (await storage.get_article(stored.article_id)).url == f"https://c.example/{chat_id}"

    await asyncio.gather(*(user(chat_id) for chat_id in range(1, 41)))
    assert len(await storage.due_chats(NOW + timedelta(hours=1))) == 40
    assert (await storage.stats()).articles == 40


async def test_a_failed_write_keeps_nothing(storage: Storage) -> None:
    await storage.ensure_chat(1, "private", None, "UTC", now=NOW)
    await storage.add_subscription(NewSubscription(1, "keyword", "minsk"), 1, now=NOW)
    with pytest.raises(LimitExceeded):
        await storage.add_subscription(NewSubscription(1, "keyword", "vilnius"), 1, now=NOW)
    with pytest.raises(NotFound):
        await storage.add_subscription(NewSubscription(2, "keyword", "vilnius"), 1, now=NOW)
    assert [s.query for s in await storage.list_subscriptions(1)] == ["minsk"]
    assert (await storage.stats()).subscriptions == 1
    # The store is still usable after the failures.
    await storage.ensure_chat(2, "private", None, "UTC", now=NOW)
    await storage.add_subscription(NewSubscription(2, "keyword", "vilnius"), 1, now=NOW)
    assert (await storage.stats()).subscriptions == 2


async def test_instances_on_one_database_see_each_others_commits(
    new_storage: StorageFactory,
) -> None:
    writer, reader = new_storage(), new_storage()
    await writer.open()
    await reader.open()
    try:
        with pytest.raises(NotFound):
            await reader.get_chat(9)
        await writer.ensure_chat(9, "private", "Nine", "UTC", now=NOW)
        assert (await reader.get_chat(9)).title == "Nine"
        [stored] = await reader.add_articles([article(*STATEDEPT[0], url="x:1")], now=NOW)
        assert (await writer.get_article(stored.article_id)).url == "x:1"
    finally:
        await writer.close()
        await reader.close()
