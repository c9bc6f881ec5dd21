"""Search filters answered by the full-text index: tags, date ranges, capped totals."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator
from datetime import date, timedelta
from pathlib import Path

import pytest

from storage.models import (
    Classification,
    SearchQuery,
)
from storage.sqlite import SQLiteStorage
from storage.sqlite import search as sq
from tests.storage.test_storage import BELARUS, LAVROV, STATEDEPT, T0, article, text_query


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SQLiteStorage]:
    async with SQLiteStorage(tmp_path / "attache.db") as storage:
        yield storage


async def ids(store: SQLiteStorage, query: SearchQuery) -> list[int]:
    page = await store.search(query)
    assert page.total == len(page.hits)  # every test here fits on one page
    return [hit.id for hit in page.hits]


async def test_source_filter_follows_every_source_that_carried_a_story(
    store: SQLiteStorage,
) -> None:
    title, text = STATEDEPT[2]
    [first] = await store.add_articles([article(title, text, url="https://a.example/1")])
    # The same story from two more sources: one in a later batch, one twice in one batch.
    repost = article(title, text, url="https://b.example/1", source="Reuters World")
    again = article(title, text, url="https://c.example/1", source="Agence Belga")
    results = await store.add_articles([repost, again])
    assert [r.article_id for r in results] == [first.article_id] * 2
    for source in ("reuters", "UTERS WOR", "belga", "test wire"):
        query = text_query(f"sanctions source:{source.replace(' ', '')}")
        if " " in source:
            query = SearchQuery(text=query.text, source=source, limit=10)
        assert await ids(store, query) == [first.article_id], source
    assert await ids(store, text_query("sanctions source:tass")) == []
    # Filters alone (no words) use the same tags.
    assert await ids(store, SearchQuery(source="reuters")) == [first.article_id]


async def test_duplicates_in_one_batch_tag_the_new_story(store: SQLiteStorage) -> None:
    title, text = STATEDEPT[0]
    batch = [
        article(title, text, url="https://a.example/2", source="Kazinform"),
        article(title, text, url="https://b.example/2", source="BelTA"),
    ]
    [stored, duplicate] = await store.add_articles(batch)
    assert not duplicate.created
    for source in ("kazinform", "belta"):
        assert await ids(store, text_query(f"kofod source:{source}")) == [stored.article_id]


async def test_date_filters_are_exact_when_stories_arrive_out_of_order(
    store: SQLiteStorage,
) -> None:
    rng = random.Random(5)
    days = list(range(40))
    rng.shuffle(days)  # ids follow storage order, not publication order
    published: dict[int, date] = {}
    for batch_start in range(0, len(days), 7):
        batch = [
            article(
                f"Consultations on security, round {day}",
                f"The delegations met for round {day} of consultations on regional security "
                f"and trade; statement number {day} followed.",
                url=f"https://example.org/round-{day}",
                published_at=T0 + timedelta(days=day, hours=rng.randint(0, 23)),
            )
            for day in days[batch_start : batch_start + 7]
        ]
        for result, item in zip(await store.add_articles(batch), batch, strict=True):
            assert result.created and item.published_at is not None
            published[result.article_id] = item.published_at.date()
    first = T0.date()
    for since, until in [(5, None), (None, 12), (3, 3), (10, 30), (39, None), (41, None)]:
        since_day = None if since is None else first + timedelta(days=since)
        until_day = None if until is None else first + timedelta(days=until)
        expected = sorted(
            (
                article_id
                for article_id, day in published.items()
                if (since_day is None or day >= since_day)
                and (until_day is None or day <= until_day)
            ),
            reverse=True,
        )
        for words in (text_query("security"), SearchQuery()):
            query = SearchQuery(
                text=words.text, since=since_day, until=until_day, order="newest", limit=50
            )
            assert await ids(store, query) == expected, (since, until, words.text)


async def test_tag_tokens_are_not_words(store: SQLiteStorage) -> None:
    title, text = STATEDEPT[3]
    await store.add_articles(
        [article(title, text, url="https://x.example/3", entities=(BELARUS,), diplomatic=True)]
    )
    for word in ("src1", "dip1", "ent1", "src1 OR tsikhanouskaya"):
        expected = [1] if "tsikhanouskaya" in word else []
        assert await ids(store, text_query(word)) == expected, word
    page = await store.search(text_query("belarus", diplomatic_only=True))
    assert [h.id for h in page.hits] == [1]
    assert "dip1" not in page.hits[0].snippet  # snippets come from the words alone
    assert "Belarus" in page.hits[0].snippet


async def test_replace_enrichment_moves_the_tags(store: SQLiteStorage) -> None:
    title, text = STATEDEPT[1]
    await store.add_articles([article(title, text, url="https://x.example/4", source="Trend")])
    [lavrov_less] = await store.add_articles([article(*STATEDEPT[0], url="https://x.example/5")])
    assert await ids(store, text_query("security", diplomatic_only=True)) == []
    await store.replace_enrichment(1, Classification(0.9, True, ("talks",)), [LAVROV])
    [lavrov] = await store.find_entities(["lavrov"])
    assert await ids(store, text_query("security", diplomatic_only=True)) == [1]
    assert await ids(store, SearchQuery(entity_groups=((lavrov.id,),))) == [1]
    assert await ids(store, text_query("security source:trend")) == [1]  # kept
    await store.replace_enrichment(1, Classification(), [])
    assert await ids(store, SearchQuery(entity_groups=((lavrov.id,),))) == []
    assert await ids(store, SearchQuery(diplomatic_only=True)) == []
    assert lavrov_less.article_id == 2


async def test_total_is_capped_and_flagged(
    store: SQLiteStorage, monkeypatch: pytest.MonkeyPatch
) -> None:
    await store.add_articles(
        [article(t, x, url=f"https://x.example/c{i}") for i, (t, x) in enumerate(STATEDEPT)]
    )
    exact = await store.search(text_query("the"))
    assert (exact.total, exact.total_capped) == (4, False)
    monkeypatch.setattr(sq, "TOTAL_CAP", 3)
    capped = await store.search(text_query("the"))
    assert (capped.total, capped.total_capped) == (3, True)
    assert len(capped.hits) == 4  # the page itself is not cut


async def test_source_tags_follow_the_recorded_sources(store: SQLiteStorage) -> None:
    title, text = STATEDEPT[1]
    [stored] = await store.add_articles([article(title, text, url="https://a.example/6")])
    # The same URL again under another name: nothing new is recorded, so no new source.
    [again] = await store.add_articles(
        [article(title, text, url="https://a.example/6", source="Xinhua")]
    )
    assert again.duplicate_reason == "url"
    assert [s.source for s in (await store.get_article(stored.article_id)).sources] == ["Test Wire"]
    assert await ids(store, text_query("security source:xinhua")) == []
    assert await ids(store, text_query("security source:wire")) == [stored.article_id]
