"""Tests for storage.sqlite.SQLiteStorage on real SQLite files."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.ingest.normalize import fingerprint_and_signature
from bot.search.query import parse_query
from storage.errors import AlreadyExists, LimitExceeded, MigrationError, NotFound
from storage.models import (
    HIGHLIGHT_END,
    HIGHLIGHT_START,
    AnyOf,
    Chat,
    Classification,
    EntityMention,
    InboxItem,
    NewArticle,
    NewSubscription,
    PollOutcome,
    SearchQuery,
    Term,
    TextQuery,
)
from storage.sqlite import SQLiteStorage, load_migrations

FIXTURES = Path(__file__).parents[1] / "fixtures"
SEED = (FIXTURES / "seed_kazinform.txt").read_text(encoding="utf-8")
SEED_TITLE = "Eurasian integration named one of priorities of Russia, Belarus"
SEED_BODY = SEED.split(SEED_TITLE, 2)[-1].strip()

# Sentences from U.S. State Department press releases (public domain, 17 U.S.C. 105).
STATEDEPT = [
    (
        "Secretary Blinken's Call with Danish Foreign Minister Kofod",
        "Secretary of State Antony J. Blinken spoke today with Danish Foreign Minister Jeppe "
        "Kofod. The Secretary and Foreign Minister discussed cooperation in the Arctic, "
        "including climate change, and the importance of transatlantic unity in responding to "
        "Russia's further invasion of Ukraine.",
    ),
    (
        "Joint Statement on the U.S.-Thailand Strategic Dialogue",
        "The United States and Thailand held the Strategic Dialogue in Bangkok. Both sides "
        "reaffirmed their commitment to a free and open Indo-Pacific and discussed health "
        "security, climate, and economic recovery. The delegations discussed energy security "
        "and regional security in Southeast Asia.",
    ),
    (
        "Sanctions on Russian Officials",
        "The United States is imposing sanctions on officials of the Russian Federation. The "
        "Department of State is designating individuals responsible for violations of human "
        "rights; these sanctions promote accountability for the minister and his deputies.",
    ),
    (
        "Secretary Blinken's Meeting with Belarusian Democratic Leader",
        "Secretary Blinken met with Belarusian democratic leader Sviatlana Tsikhanouskaya in "
        "Vilnius. They discussed the ongoing crackdown in Belarus and the need for the release "
        "of all political prisoners. Eurasian matters were not on the agenda.",
    ),
]
T0 = datetime(2022, 3, 1, 12, 0, tzinfo=UTC)


def article(
    title: str,
    text: str,
    *,
    url: str | None = None,
    source: str = "Test Wire",
    published_at: datetime | None = T0,
    guid: str | None = None,
    entities: tuple[EntityMention, ...] = (),
    diplomatic: bool = False,
) -> NewArticle:
    fingerprint, signature, bands = fingerprint_and_signature(text)
    return NewArticle(
        title=title,
        text=text,
        url=url,
        source=source,
        fingerprint=fingerprint,
        signature=signature,
        bands=bands,
        published_at=published_at,
        guid=guid,
        entities=entities,
        classification=Classification(0.9 if diplomatic else 0.1, diplomatic, ("test",)),
    )


LAVROV = EntityMention(
    "person", "Sergei Lavrov", "person:sergei lavrov", ("lavrov", "sergei lavrov"), 3, 120
)
BELARUS = EntityMention("country", "Belarus", "country:by", ("belarus",), 5, 40)


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SQLiteStorage]:
    async with SQLiteStorage(tmp_path / "data" / "attache.db") as storage:
        yield storage


@pytest.fixture
async def loaded(store: SQLiteStorage) -> SQLiteStorage:
    items = [
        article(
            SEED_TITLE,
            SEED_BODY,
            url="https://www.inform.kz/en/eurasian-integration",
            source="Kazinform",
            entities=(LAVROV, BELARUS),
            diplomatic=True,
            published_at=T0 - timedelta(days=30),
        )
    ]
    for day, (title, text) in enumerate(STATEDEPT):
        items.append(
            article(
                title,
                text,
                url=f"https://www.state.gov/release-{day}",
                source="State Department",
                published_at=T0 + timedelta(days=day),
                diplomatic=day % 2 == 0,
                entities=(BELARUS,) if "Belarus" in text else (),
            )
        )
    results = await store.add_articles(items)
    assert all(r.created for r in results)
    return store


# --------------------------------------------------------------------------- migrations


async def test_open_creates_schema_and_reopens(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "dir" / "a.db"
    async with SQLiteStorage(path) as storage:
        await storage.add_articles([article("T", "some words here")])
    versions = len(load_migrations())
    raw = sqlite3.connect(path)
    assert raw.execute("PRAGMA user_version").fetchone()[0] == versions
    assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    raw.close()
    async with SQLiteStorage(path) as again:
        assert await again.count_articles() == 1


async def test_newer_database_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "a.db"
    raw = sqlite3.connect(path)
    raw.execute("PRAGMA user_version = 999")
    raw.close()
    with pytest.raises(MigrationError):
        await SQLiteStorage(path).open()


async def test_pragmas(store: SQLiteStorage) -> None:
    rows = await store.db.execute_fetchall("PRAGMA foreign_keys")
    assert next(iter(rows))[0] == 1
    rows = await store.db.execute_fetchall("PRAGMA busy_timeout")
    assert next(iter(rows))[0] == 5000


# --------------------------------------------------------------------------- articles


async def test_add_and_get_article(loaded: SQLiteStorage) -> None:
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


async def test_dedup_by_url_fingerprint_guid_and_near(store: SQLiteStorage) -> None:
    title, text = SEED_TITLE, SEED_BODY
    first = await store.add_articles(
        [article(title, text, url="https://a.example/1", guid="feed-1:42")]
    )
    assert first[0].created
    same_url = article("Other", "Completely different words.", url="https://a.example/1")
    same_text = article(title, text, url="https://b.example/copy", source="Mirror")
    same_guid = article("x", "unrelated body text entirely", guid="feed-1:42")
    near_text = text.replace("on 30 October", "on Thursday, 30 October")
    near = article(title, near_text, url="https://c.example/near", source="Near Wire")
    results = await store.add_articles([same_url, same_text, same_guid, near])
    assert [(r.created, r.duplicate_reason, r.article_id) for r in results] == [
        (False, "url", 1),
        (False, "fingerprint", 1),
        (False, "guid", 1),
        (False, "near", 1),
    ]
    stored = await store.get_article(1)
    assert {s.url for s in stored.sources if s.url} == {
        "https://a.example/1",
        "https://b.example/copy",
        "https://c.example/near",
    }
    assert {s.source for s in stored.sources} >= {"Mirror", "Near Wire"}
    assert await store.count_articles() == 1
    assert await store.seen_guids(["feed-1:42", "feed-1:43"]) == {"feed-1:42"}


async def test_dedup_within_one_batch(store: SQLiteStorage) -> None:
    title, text = SEED_TITLE, SEED_BODY
    results = await store.add_articles(
        [
            article(title, text, url="https://x.example/a"),
            article(title, text, url="https://y.example/b", source="Other"),
            article(title, text + " BelTA reports.", url="https://z.example/c"),
            article("New", "A different story about Minsk talks.", url="https://x.example/a"),
        ]
    )
    assert [r.created for r in results] == [True, False, False, False]
    assert [r.duplicate_reason for r in results[1:]] == ["fingerprint", "near", "url"]
    assert await store.count_articles() == 1


async def test_pasted_duplicate_records_source_once(store: SQLiteStorage) -> None:
    title, text = STATEDEPT[2]
    await store.add_articles([article(title, text, source="telegram")])
    await store.add_articles([article(title, text, source="telegram")])
    await store.add_articles([article(title, text, source="admin paste")])
    stored = await store.get_article(1)
    assert sorted(s.source for s in stored.sources) == ["admin paste", "telegram"]


async def test_future_publication_date_is_not_trusted_for_order(store: SQLiteStorage) -> None:
    future = datetime.now(UTC) + timedelta(days=400)
    await store.add_articles([article("Future", "an article from the future", published_at=future)])
    page = await store.search(SearchQuery(since=date.today() + timedelta(days=300)))
    assert page.total == 0  # ordered and filtered by its storage time instead


async def test_stats(loaded: SQLiteStorage) -> None:
    stats = await loaded.stats()
    assert (stats.articles, stats.sources, stats.entities) == (5, 5, 2)
    assert stats.db_bytes > 0


# --------------------------------------------------------------------------- search


def text_query(
    text: str,
    *,
    limit: int = 10,
    diplomatic_only: bool = False,
    entity_groups: tuple[tuple[int, ...], ...] = (),
) -> SearchQuery:
    return parse_query(text).to_search_query(
        entity_groups, limit=limit, diplomatic_only=diplomatic_only
    )


async def test_search_finds_the_seed(loaded: SQLiteStorage) -> None:
    page = await loaded.search(text_query("eurasian integration"))
    assert page.total == 1
    assert page.hits[0].title == SEED_TITLE


async def test_title_match_ranks_first(store: SQLiteStorage) -> None:
    body = "The ministers met in Vienna to review the agenda of the meeting. " * 3
    await store.add_articles(
        [
            article("Ministers meet", body + "Sanctions were mentioned once.", url="u:1"),
            article("Sanctions review", body, url="u:2"),
            article("Filler one", "Talks on trade in Vienna.", url="u:3"),
            article("Filler two", "Talks on energy in Baku.", url="u:4"),
        ]
    )
    page = await store.search(text_query("sanctions"))
    assert [h.title for h in page.hits] == ["Sanctions review", "Ministers meet"]


async def test_recency_outweighs_a_small_relevance_edge(store: SQLiteStorage) -> None:
    body = "The ministers met in Vienna to review the agenda of the meeting. " * 3
    await store.add_articles(
        [
            article("Sanctions review", body, url="u:1", published_at=T0 - timedelta(days=120)),
            article("Ministers meet", body + "Sanctions were mentioned.", url="u:2"),
            article("Filler one", "Talks on trade in Vienna.", url="u:3"),
            article("Filler two", "Talks on energy in Baku.", url="u:4"),
        ]
    )
    page = await store.search(text_query("sanctions"))
    assert [h.title for h in page.hits] == ["Ministers meet", "Sanctions review"]


async def test_snippet_marks_matches(loaded: SQLiteStorage) -> None:
    page = await loaded.search(text_query("lavrov"))
    assert page.total == 1
    snippet = page.hits[0].snippet
    assert f"{HIGHLIGHT_START}Lavrov{HIGHLIGHT_END}" in snippet
    assert len(snippet.split()) <= 40


async def test_phrase_or_exclusion_prefix(loaded: SQLiteStorage) -> None:
    assert (await loaded.search(text_query('"energy security"'))).total == 1
    assert (await loaded.search(text_query('"security energy"'))).total == 0
    assert (await loaded.search(text_query("kofod OR tsikhanouskaya"))).total == 2
    assert (await loaded.search(text_query("secretary -kofod"))).total == 1
    assert (await loaded.search(text_query("sanction*"))).total == 1
    assert (await loaded.search(text_query("secur*"))).total == 2


async def test_stemming_and_diacritics(loaded: SQLiteStorage) -> None:
    assert (await loaded.search(text_query("discussing"))).total == 4
    assert (await loaded.search(text_query("Tsikhanouskayá"))).total == 1


async def test_filters(loaded: SQLiteStorage) -> None:
    everything = await loaded.search(text_query("the", limit=10))
    assert everything.total == 5
    since = await loaded.search(text_query("the since:2022-03-02"))
    assert since.total == 3
    until = await loaded.search(text_query("the until:2022-03-01"))
    assert until.total == 2
    source = await loaded.search(text_query("the source:kazinform"))
    assert [h.title for h in source.hits] == [SEED_TITLE]
    source_any_case = await loaded.search(text_query("the source:STATE"))
    assert source_any_case.total == 4
    diplomatic = await loaded.search(text_query("the", diplomatic_only=True))
    assert diplomatic.total == 3
    [belarus] = await loaded.find_entities(["belarus"])
    by_entity = await loaded.search(text_query("the", entity_groups=((belarus.id,),)))
    assert by_entity.total == 2
    entity_only = await loaded.search(SearchQuery(entity_groups=((belarus.id,),), limit=10))
    assert [h.id for h in entity_only.hits] == [5, 1]  # newest first
    [lavrov] = await loaded.find_entities(["lavrov"], kind="person")
    both = await loaded.search(SearchQuery(entity_groups=((belarus.id,), (lavrov.id,))))
    assert [h.id for h in both.hits] == [1]


async def test_paging_and_newest_order(loaded: SQLiteStorage) -> None:
    query = text_query("the", limit=2)
    pages = [await loaded.search(replace(query, offset=o)) for o in (0, 2, 4)]
    ids = [h.id for p in pages for h in p.hits]
    assert sorted(ids) == [1, 2, 3, 4, 5]
    assert all(p.total == 5 for p in pages)
    newest = await loaded.search(text_query("the order:newest"))
    assert [h.id for h in newest.hits] == [5, 4, 3, 2, 1]


async def test_browse_without_words(loaded: SQLiteStorage) -> None:
    page = await loaded.search(SearchQuery(limit=2))
    assert page.total == 5
    assert [h.id for h in page.hits] == [5, 4]
    assert page.hits[0].snippet.startswith("Secretary Blinken met")


async def test_empty_text_query_matches_nothing(loaded: SQLiteStorage) -> None:
    empty = TextQuery((AnyOf((Term("   "),)),))
    assert (await loaded.search(SearchQuery(text=empty))).total == 0
    quoted = TextQuery((AnyOf((Term('belarus" OR "x'),)),))
    assert (await loaded.search(SearchQuery(text=quoted))).total == 0


HOSTILE = [
    '"',
    "NEAR(minsk lavrov",
    "title:belarus",
    "^belarus",
    "*",
    "((",
    "belarus)",
    "\x00\x01\x1b[2J",
    "🇷🇺💥 belarus",
    "Лавров",
    "z" * 10_000,
    "belarus " * 2000,
    "a* b* c*",
    "-belarus",
    "since:9999-12-31 belarus",
    "since:0001-01-01 x",
]


async def test_hostile_queries_return_normally(loaded: SQLiteStorage) -> None:
    for text in HOSTILE:
        page = await loaded.search(text_query(text))
        assert page.total >= 0
    assert (await loaded.search(text_query("^belarus"))).total == 2


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(st.text(max_size=80))
async def test_any_parsed_query_is_valid_fts(loaded: SQLiteStorage, text: str) -> None:
    page = await loaded.search(text_query(text))
    assert page.total >= 0


# --------------------------------------------------------------------------- entities


async def test_entities(loaded: SQLiteStorage) -> None:
    found = await loaded.find_entities(["lavrov"])
    assert [(e.canonical, e.kind, e.articles) for e in found] == [("Sergei Lavrov", "person", 1)]
    assert set(found[0].aliases) == {"lavrov", "sergei lavrov"}
    assert await loaded.find_entities(["lavrov"], kind="country") == []
    belarus = await loaded.get_entity((await loaded.find_entities(["belarus"]))[0].id)
    assert belarus.articles == 2
    linked = await loaded.article_entities(1)
    assert [e.canonical for e in linked] == ["Belarus", "Sergei Lavrov"]  # by first offset
    with pytest.raises(NotFound):
        await loaded.get_entity(12345)


async def test_replace_enrichment(loaded: SQLiteStorage) -> None:
    await loaded.replace_enrichment(2, Classification(0.95, True, ("summit",)), [LAVROV])
    stored = await loaded.get_article(2)
    assert stored.classification == Classification(0.95, True, ("summit",))
    assert [e.canonical for e in await loaded.article_entities(2)] == ["Sergei Lavrov"]
    assert (await loaded.find_entities(["lavrov"]))[0].articles == 2
    with pytest.raises(NotFound):
        await loaded.replace_enrichment(999, Classification(), [])


# --------------------------------------------------------------------------- chats


async def test_chats(store: SQLiteStorage) -> None:
    chat = await store.ensure_chat(100, "private", "Ann", "Europe/Minsk")
    assert (chat.tz, chat.digest_frequency, chat.next_digest_at) == ("Europe/Minsk", "daily", None)
    due_at = T0
    await store.save_chat(replace(chat, next_digest_at=due_at, digest_time="07:30"))
    await store.ensure_chat(200, "group", "Desk", "UTC")
    paused = await store.ensure_chat(300, "private", None, "UTC")
    await store.save_chat(replace(paused, next_digest_at=due_at, paused=True))
    assert [c.id for c in await store.due_chats(T0)] == [100]
    assert await store.due_chats(T0 - timedelta(seconds=1)) == []
    await store.mark_blocked(100, T0)
    assert await store.due_chats(T0) == []
    again = await store.ensure_chat(100, "private", "Ann B.", "UTC")
    assert again.blocked_at is None and again.title == "Ann B." and again.tz == "Europe/Minsk"
    assert again.digest_time == "07:30"
    await store.forget_chat(100)
    with pytest.raises(NotFound):
        await store.get_chat(100)
    with pytest.raises(NotFound):
        await store.save_chat(Chat(id=999, type="private", title=None, tz="UTC"))


async def test_subscriptions(store: SQLiteStorage) -> None:
    await store.ensure_chat(1, "private", None, "UTC")
    await store.ensure_chat(2, "private", None, "UTC")
    sub = await store.add_subscription(NewSubscription(1, "keyword", "Eurasian Integration"), 2)
    assert (sub.chat_id, sub.kind, sub.query) == (1, "keyword", "Eurasian Integration")
    with pytest.raises(AlreadyExists):
        await store.add_subscription(NewSubscription(1, "keyword", "eurasian  integration"), 5)
    await store.add_subscription(NewSubscription(1, "source", "BelTA"), 2)
    with pytest.raises(LimitExceeded):
        await store.add_subscription(NewSubscription(1, "keyword", "minsk"), 2)
    with pytest.raises(NotFound):
        await store.add_subscription(NewSubscription(77, "keyword", "minsk"), 2)
    other = await store.add_subscription(NewSubscription(2, "keyword", "minsk"), 2)
    with pytest.raises(NotFound):
        await store.get_subscription(1, other.id)
    assert not await store.delete_subscription(1, other.id)
    assert [s.query for s in await store.list_subscriptions(1)] == ["Eurasian Integration", "BelTA"]
    await store.mark_blocked(2, T0)
    assert {s.chat_id async for s in store.all_subscriptions()} == {1}
    assert await store.delete_subscription(1, sub.id)
    assert await store.delete_all_subscriptions(1) == 1
    assert await store.list_subscriptions(1) == []


async def test_inbox_and_mark_delivered(loaded: SQLiteStorage) -> None:
    chat = await loaded.ensure_chat(5, "private", None, "UTC")
    sub = await loaded.add_subscription(NewSubscription(5, "keyword", "belarus"), 10)
    items = [InboxItem(5, article_id, sub.id, T0) for article_id in (1, 5, 3)]
    assert await loaded.add_inbox(items) == 3
    assert await loaded.add_inbox(items[:2]) == 0
    pending = await loaded.pending_inbox(5)
    assert sorted(i.article_id for i in pending) == [1, 3, 5]
    next_at = T0 + timedelta(days=1)
    await loaded.mark_delivered(chat.id, [1, 5], T0 + timedelta(minutes=1), next_at)
    assert [i.article_id for i in await loaded.pending_inbox(5)] == [3]
    assert (await loaded.get_chat(5)).next_digest_at == next_at
    await loaded.forget_chat(5)
    assert await loaded.pending_inbox(5) == []


async def test_mark_delivered_is_one_transaction(loaded: SQLiteStorage) -> None:
    await loaded.ensure_chat(6, "private", None, "UTC")
    sub = await loaded.add_subscription(NewSubscription(6, "keyword", "x"), 10)
    await loaded.add_inbox([InboxItem(6, 1, sub.id, T0)])
    # A bad chat id in the second statement must roll back the first.
    await loaded.db.execute(
        "CREATE TRIGGER fail_next BEFORE UPDATE OF next_digest_at ON chats "
        "BEGIN SELECT RAISE(ABORT, 'boom'); END"
    )
    with pytest.raises(sqlite3.IntegrityError):
        await loaded.mark_delivered(6, [1], T0, T0)
    assert [i.article_id for i in await loaded.pending_inbox(6)] == [1]


# --------------------------------------------------------------------------- feeds


async def test_feeds(store: SQLiteStorage) -> None:
    feed = await store.add_feed("https://example.org/rss", None, 900)
    assert feed.enabled and feed.failures == 0 and feed.last_success_at is None
    with pytest.raises(AlreadyExists):
        await store.add_feed("https://example.org/rss", "again", 900)
    later = datetime.now(UTC) + timedelta(seconds=5)
    assert [f.id for f in await store.due_feeds(later)] == [feed.id]
    ok = await store.record_poll(
        PollOutcome(feed.id, True, later + timedelta(hours=1), etag='"abc"', title="Wire"), later
    )
    assert (ok.etag, ok.title, ok.failures) == ('"abc"', "Wire", 0)
    assert ok.last_success_at == later.replace(microsecond=0)
    assert await store.due_feeds(later) == []
    failed = await store.record_poll(
        PollOutcome(feed.id, False, later + timedelta(hours=2), error="HTTP 500"), later
    )
    assert (failed.failures, failed.last_error, failed.etag) == (1, "HTTP 500", '"abc"')
    disabled = await store.record_poll(
        PollOutcome(feed.id, False, later, error="gone", disable=True), later
    )
    assert not disabled.enabled
    assert await store.due_feeds(later + timedelta(days=1)) == []
    assert [f.url for f in await store.list_feeds()] == ["https://example.org/rss"]
    assert await store.remove_feed(feed.id)
    assert not await store.remove_feed(feed.id)
    with pytest.raises(NotFound):
        await store.get_feed(feed.id)
    with pytest.raises(NotFound):
        await store.record_poll(PollOutcome(feed.id, True, later), later)
