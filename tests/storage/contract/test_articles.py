"""Contract: storing articles, duplicates, reading them back, re-enrichment and counts."""

from __future__ import annotations

from datetime import timedelta

import pytest

from storage.base import Storage
from storage.errors import NotFound
from storage.models import Classification, SearchQuery
from tests.storage.conftest import StorageFactory
from tests.storage.contract.support import (
    LAVROV,
    NOW,
    SEED_BODY,
    SEED_TITLE,
    STATEDEPT,
    T0,
    article,
)


async def test_add_and_get_article(loaded: Storage) -> None:
    found = await loaded.get_article(1)
    assert found.title == SEED_TITLE
    assert found.url == "https://www.inform.kz/en/eurasian-integration"
    assert found.published_at == T0 - timedelta(days=30)
    assert found.published_at.tzinfo is not None
    assert found.classification.is_diplomatic
    assert [s.source for s in found.sources] == ["Kazinform"]
    with pytest.raises(NotFound):
        await loaded.get_article(999)
    assert [a.id for a in await loaded.get_articles([3, 999, 1])] == [3, 1]
    assert [a.id async for a in loaded.iter_articles(batch_size=2)] == [1, 2, 3, 4, 5]
    assert (await loaded.stats()).articles == 5


async def test_storage_time_is_the_now_given(storage: Storage) -> None:
    moment = NOW + timedelta(microseconds=654_321)
    [stored] = await storage.add_articles(
        [article("T", "some words here", url="https://a.example/t")], now=moment
    )
    found = await storage.get_article(stored.article_id)
    assert found.ingested_at == NOW  # whole seconds, UTC
    assert found.ingested_at.tzinfo is not None
    assert [s.seen_at for s in found.sources] == [NOW]
    [again] = await storage.add_articles(
        [article("T", "some words here", url="https://b.example/t", source="Mirror")],
        now=NOW + timedelta(hours=1),
    )
    assert not again.created
    found = await storage.get_article(stored.article_id)
    assert [s.seen_at for s in found.sources] == [NOW, NOW + timedelta(hours=1)]
    assert await storage.add_articles([], now=NOW) == []


async def test_dedup_by_url_fingerprint_guid_and_near(storage: Storage) -> None:
    title, text = SEED_TITLE, SEED_BODY
    first = await storage.add_articles(
        [article(title, text, url="https://a.example/1", guid="feed-1:42")], now=NOW
    )
    assert first[0].created
    same_url = article("Other", "Completely different words.", url="https://a.example/1")
    same_text = article(title, text, url="https://b.example/copy", source="Mirror")
    same_guid = article("x", "unrelated body text entirely", guid="feed-1:42")
    near_text = text.replace("on 30 October", "on Thursday, 30 October")
    near = article(title, near_text, url="https://c.example/near", source="Near Wire")
    results = await storage.add_articles([same_url, same_text, same_guid, near], now=NOW)
    assert [(r.created, r.duplicate_reason, r.article_id) for r in results] == [
        (False, "url", 1),
        (False, "fingerprint", 1),
        (False, "guid", 1),
        (False, "near", 1),
    ]
    stored = await storage.get_article(1)
    assert {s.url for s in stored.sources if s.url} == {
        "https://a.example/1",
        "https://b.example/copy",
        "https://c.example/near",
    }
    assert {s.source for s in stored.sources} >= {"Mirror", "Near Wire"}
    assert (await storage.stats()).articles == 1
    assert await storage.seen_guids(["feed-1:42", "feed-1:43"]) == {"feed-1:42"}


async def test_dedup_within_one_batch(storage: Storage) -> None:
    title, text = SEED_TITLE, SEED_BODY
    results = await storage.add_articles(
        [
            article(title, text, url="https://x.example/a"),
            article(title, text, url="https://y.example/b", source="Other"),
            article(title, text + " BelTA reports.", url="https://z.example/c"),
            article("New", "A different story about Minsk talks.", url="https://x.example/a"),
        ],
        now=NOW,
    )
    assert [r.created for r in results] == [True, False, False, False]
    assert [r.duplicate_reason for r in results[1:]] == ["fingerprint", "near", "url"]
    assert (await storage.stats()).articles == 1


async def test_pasted_duplicate_records_source_once(storage: Storage) -> None:
    title, text = STATEDEPT[2]
    await storage.add_articles([article(title, text, source="telegram")], now=NOW)
    await storage.add_articles([article(title, text, source="telegram")], now=NOW)
    await storage.add_articles([article(title, text, source="admin paste")], now=NOW)
    stored = await storage.get_article(1)
    assert sorted(s.source for s in stored.sources) == ["admin paste", "telegram"]


async def test_a_duplicate_guid_is_seen_under_its_story(storage: Storage) -> None:
    title, text = STATEDEPT[1]
    await storage.add_articles([article(title, text, url="https://a.example/1")], now=NOW)
    # The same story from a feed: its entry id is recorded with the new source.
    await storage.add_articles(
        [article(title, text, url="https://feed.example/1", guid="feed-2:7")], now=NOW
    )
    assert await storage.seen_guids(["feed-2:7", "feed-2:8"]) == {"feed-2:7"}
    assert await storage.seen_guids([]) == set()


async def test_future_publication_date_is_not_trusted_for_order(storage: Storage) -> None:
    future = NOW + timedelta(days=400)
    await storage.add_articles(
        [article("Future", "an article from the future", published_at=future)], now=NOW
    )
    page = await storage.search(SearchQuery(since=NOW.date() + timedelta(days=300)))
    assert page.total == 0  # ordered and filtered by its storage time instead
    page = await storage.search(SearchQuery(since=NOW.date(), until=NOW.date()))
    assert page.total == 1


async def test_stats(loaded: Storage) -> None:
    stats = await loaded.stats()
    assert (stats.articles, stats.sources, stats.entities) == (5, 5, 2)
    assert (stats.chats, stats.subscriptions, stats.feeds) == (0, 0, 0)
    assert stats.db_bytes > 0


async def test_replace_enrichment(loaded: Storage) -> None:
    await loaded.replace_enrichment(2, Classification(0.95, True, ("summit",)), [LAVROV])
    stored = await loaded.get_article(2)
    assert stored.classification == Classification(0.95, True, ("summit",))
    assert [e.canonical for e in await loaded.article_entities(2)] == ["Sergei Lavrov"]
    assert (await loaded.find_entities(["lavrov"]))[0].articles == 2
    with pytest.raises(NotFound):
        await loaded.replace_enrichment(999, Classification(), [])


async def test_iteration_lets_the_caller_write_between_articles(loaded: Storage) -> None:
    """Reindexing: every article once, in storage order, while each is rewritten."""
    seen = []
    async for stored in loaded.iter_articles(batch_size=2):
        seen.append(stored.id)
        await loaded.replace_enrichment(stored.id, Classification(0.5, True, ("re",)), [])
        assert (await loaded.get_article(stored.id)).id == stored.id  # reads work meanwhile
    assert seen == [1, 2, 3, 4, 5]
    assert [(await loaded.get_article(i)).classification.reasons for i in seen] == [("re",)] * 5


async def test_a_reopened_store_keeps_everything(new_storage: StorageFactory) -> None:
    first = new_storage()
    await first.open()
    await first.open()  # harmless
    try:
        await first.add_articles([article("T", "some words here")], now=NOW)
        await first.ensure_chat(7, "private", "Ann", "UTC", now=NOW)
    finally:
        await first.close()
    again = new_storage()
    await again.open()
    try:
        assert (await again.stats()).articles == 1
        assert (await again.get_chat(7)).title == "Ann"
    finally:
        await again.close()
