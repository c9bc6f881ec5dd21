"""Feed polling against a real feed server on 127.0.0.1 and a real SQLite store.

Covers conditional GET (ETag, Last-Modified, 304), page fetches for summary-only entries (at
most two at once per host), deduplication across polls and feeds, and the fault modes: slow,
huge, malformed, redirect loop, 500, billion laughs and gzip bomb, with backoff and disabling.
"""

from __future__ import annotations

import asyncio
import random
import tracemalloc
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from bot.feeds.opml import export_opml, parse_opml
from bot.feeds.poll import (
    DISABLE_AFTER_FAILURES,
    MAX_BACKOFF_S,
    FeedPoller,
    next_poll_delay,
)
from bot.feeds.service import Added, AlreadyAdded, Feeds, NotAdded
from bot.ingest.guard import make_client
from bot.ingest.model import IngestOutcome, ParsedArticle
from bot.ingest.normalize import build_new_article
from storage.models import (
    Feed,
    PollOutcome,
)
from storage.sqlite import SQLiteStorage
from tests.feedserver import FeedServer, quadratic_blowup_feed

START = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
INTERVAL = 600
#: A safety net for "must not hang": far beyond any normal run, so only a real hang fails it.
HANG_GUARD_S = 60
RSS20_TITLES = [
    "Diversion of Ryanair Flight to Belarus and Arrest of Journalist",
    "On the Situation in Mali",
    "G7 Foreign Ministers’ Statement on Belarus",
    "Detention of Armenian Soldiers",
]


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, start: datetime = START) -> None:
        self.current = start

    def __call__(self) -> datetime:
        return self.current

    def advance(self, seconds: float) -> None:
        self.current += timedelta(seconds=seconds)


class Collected:
    """A store that keeps what it is given (for checking order and content)."""

    def __init__(self) -> None:
        self.articles: list[ParsedArticle] = []
        self.calls = 0

    async def __call__(self, parsed: Sequence[ParsedArticle]) -> list[IngestOutcome]:
        self.calls += 1
        self.articles.extend(parsed)
        return [IngestOutcome(0, True, p.title) for p in parsed]


class SQLiteStore:
    """Stores parsed articles as the application does, minus entity extraction."""

    def __init__(self, storage: SQLiteStorage) -> None:
        self.storage = storage

    async def __call__(self, parsed: Sequence[ParsedArticle]) -> list[IngestOutcome]:
        results = await self.storage.add_articles(
            [build_new_article(p) for p in parsed], now=datetime.now(UTC)
        )
        return [
            IngestOutcome(r.article_id, r.created, p.title, duplicate_reason=r.duplicate_reason)
            for p, r in zip(parsed, results, strict=True)
        ]


@pytest.fixture
async def storage(tmp_path: Path) -> AsyncIterator[SQLiteStorage]:
    async with SQLiteStorage(tmp_path / "t.db") as store:
        yield store


@pytest.fixture
async def server() -> AsyncIterator[FeedServer]:
    async with FeedServer() as running:
        yield running


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with make_client(allow_private=True, timeout=5.0) as http:
        yield http


@pytest.fixture
def clock() -> Clock:
    return Clock()


async def add(storage: SQLiteStorage, url: str, clock: Clock) -> Feed:
    """A feed row due now (as Feeds.add leaves it), without the validating fetch."""
    feed = await storage.add_feed(url, None, INTERVAL, now=clock())
    return await storage.record_poll(
        PollOutcome(feed_id=feed.id, ok=True, next_poll_at=clock()), at=clock()
    )


def within_jitter(delay: timedelta, expected_s: float) -> bool:
    return expected_s * 0.9 <= delay.total_seconds() <= expected_s * 1.1


# --------------------------------------------------------------------------- adding feeds


async def test_add_feed_learns_the_title_and_is_due_at_once(
    storage: SQLiteStorage, server: FeedServer, client: httpx.AsyncClient, clock: Clock
) -> None:
    server.feed("/rss", "statedept_rss20.xml")
    server.feed("/error-page", "hostile_not_a_feed.html")
    poller = FeedPoller(storage, client, Collected(), clock=clock, allow_private=True)
    feeds = Feeds(storage, poller, clock)

    added = await feeds.add(server.url("/rss"), INTERVAL // 60)
    assert isinstance(added, Added)
    feed = added.feed

    assert feed.title == "U.S. Department of State: Press Releases"
    assert feed.interval_s == INTERVAL and feed.enabled and feed.etag is None
    assert feed.next_poll_at == clock()
    assert [f.id for f in await storage.due_feeds(clock())] == [feed.id]
    assert isinstance(await feeds.add(server.url("/rss")), AlreadyAdded)
    not_a_feed = await feeds.add(server.url("/error-page"))
    assert isinstance(not_a_feed, NotAdded) and "not a readable feed" in not_a_feed.reason
    too_often = await feeds.add(server.url("/rss"), 0)
    assert isinstance(too_often, NotAdded) and "at least 60 seconds" in too_often.reason
    assert [f.url for f in await feeds.list()] == [server.url("/rss")]
    assert await feeds.remove(feed.id) == feed
    assert await feeds.list() == []


# --------------------------------------------------------------------------- polling


async def test_poll_stores_entries_oldest_first_and_fetches_summary_pages(
    storage: SQLiteStorage, server: FeedServer, client: httpx.AsyncClient, clock: Clock
) -> None:
    server.feed("/rss", "statedept_rss20.xml", etag='"v1"')
    collected = Collected()
    poller = FeedPoller(storage, client, collected, clock=clock, allow_private=True)
    added = await Feeds(storage, poller, clock).add(server.url("/rss"), INTERVAL // 60)
    assert isinstance(added, Added)
    feed = added.feed

    result = await poller.poll_feed(feed)

    assert result.ok and not result.not_modified
    assert (result.entries, result.new_entries, result.pages_fetched) == (4, 4, 2)
    assert [a.title for a in collected.articles] == RSS20_TITLES
    assert {a.source for a in collected.articles} == {"U.S. Department of State: Press Releases"}
    mali = collected.articles[1]
    # The feed gave two sentences; the page gave the whole statement.
    assert "The United States strongly condemns the detention" in mali.text
    assert len(mali.text) > 1000
    assert mali.url == server.url("/statedept/on-the-situation-in-mali")
    assert mali.guid == f"{server.url('/rss')}#246529"
    assert mali.published_at == datetime(2021, 5, 26, 16, 9, 29, tzinfo=UTC)
    assert sorted(server.page_requests) == [
        "/statedept/detention-of-armenian-soldiers",
        "/statedept/on-the-situation-in-mali",
    ]
    assert result.feed.etag == '"v1"' and result.feed.last_success_at == clock()
    assert within_jitter(result.feed.next_poll_at - clock(), INTERVAL)

    # Second poll: the server answers 304 to If-None-Match and nothing is stored.
    clock.advance(INTERVAL)
    again = await poller.poll_feed(result.feed)
    assert server.requests[-1].headers.get("If-None-Match") == '"v1"'
    assert again.ok and again.not_modified and again.stored == ()
    assert collected.calls == 1
    assert again.feed.etag == '"v1"'  # kept though the 304 did not repeat it


async def test_last_modified_makes_the_next_poll_conditional(
    storage: SQLiteStorage, server: FeedServer, client: httpx.AsyncClient, clock: Clock
) -> None:
    stamp = "Thu, 27 May 2021 18:52:31 GMT"
    server.feed("/atom", "wikinews_atom.xml", last_modified=stamp)
    poller = FeedPoller(storage, client, SQLiteStore(storage), clock=clock, allow_private=True)
    feed = await add(storage, server.url("/atom"), clock)

    first = await poller.poll_feed(feed)
    second = await poller.poll_feed(first.feed)

    assert first.feed.last_modified == stamp and len(first.stored) == 3
    assert server.requests[-1].headers.get("If-Modified-Since") == stamp
    assert "If-None-Match" not in server.requests[-1].headers
    assert second.not_modified and await storage.count_articles() == 3


async def test_entries_seen_before_are_skipped_when_the_server_has_no_validators(
    storage: SQLiteStorage, server: FeedServer, client: httpx.AsyncClient, clock: Clock
) -> None:
    server.feed("/json", "statedept_feed.json")
    poller = FeedPoller(storage, client, SQLiteStore(storage), clock=clock, allow_private=True)
    feed = await add(storage, server.url("/json"), clock)

    first = await poller.poll_feed(feed)
    second = await poller.poll_feed(first.feed)

    assert [r.created for r in first.stored] == [True, True, True]
    assert second.ok and not second.not_modified
    assert (second.entries, second.new_entries, second.stored) == (3, 0, ())
    assert await storage.count_articles() == 3
    assert server.page_requests.count("/statedept/azerbaijan-republic-day") == 1  # not again


async def test_a_story_carried_by_two_feeds_is_stored_once(
    storage: SQLiteStorage, server: FeedServer, client: httpx.AsyncClient, clock: Clock
) -> None:
    server.feed("/rss", "statedept_rss20.xml")
    server.feed("/json", "statedept_feed.json")
    server.feed("/atom", "wikinews_atom.xml")
    server.feed("/rdf", "wikinews_rss10.rdf")
    poller = FeedPoller(storage, client, SQLiteStore(storage), clock=clock, allow_private=True)
    for path in ("/rss", "/json", "/atom", "/rdf"):
        await add(storage, server.url(path), clock)

    results = await poller.poll_due()

    assert all(r.ok for r in results) and len(results) == 4
    # 4 + 3 State Department stories with one in common; 3 + 3 Wikinews with two in common.
    assert await storage.count_articles() == 6 + 4
    duplicates = [r for result in results for r in result.stored if not r.created]
    assert len(duplicates) == 3
    assert {d.duplicate_reason for d in duplicates} <= {"url", "fingerprint", "near"}
    assert await storage.due_feeds(clock()) == []


async def test_at_most_two_pages_per_host_at_once(
    storage: SQLiteStorage, server: FeedServer, client: httpx.AsyncClient, clock: Clock
) -> None:
    server.page_delay = 0.15
    server.feed("/rdf", "wikinews_rss10.rdf")  # 3 summary-only entries
    server.feed("/rss091", "statedept_rss091.xml")  # 2
    server.feed("/rss", "statedept_rss20.xml")  # 2
    collected = Collected()
    poller = FeedPoller(storage, client, collected, clock=clock, allow_private=True)
    for path in ("/rdf", "/rss091", "/rss"):
        await add(storage, server.url(path), clock)

    results = await poller.poll_due()

    assert sum(r.pages_fetched for r in results) == 7
    assert len(server.page_requests) == 7
    assert server.max_concurrent_pages == 2


async def test_a_failed_page_falls_back_to_the_summary(
    storage: SQLiteStorage, server: FeedServer, client: httpx.AsyncClient, clock: Clock
) -> None:
    server.feed("/rss", "statedept_rss20.xml")
    server.failing_pages.add("/statedept/on-the-situation-in-mali")
    collected = Collected()
    poller = FeedPoller(storage, client, collected, clock=clock, allow_private=True)
    result = await poller.poll_feed(await add(storage, server.url("/rss"), clock))

    assert result.ok and (result.pages_fetched, result.pages_unused) == (1, 1)
    mali = collected.articles[1]
    assert mali.title == "On the Situation in Mali"
    assert mali.text.startswith("The United States strongly condemns the detention")
    assert len(mali.text) < 300


# --------------------------------------------------------------------------- faults


async def test_slow_feed_times_out_and_backs_off_doubling(
    storage: SQLiteStorage, server: FeedServer, client: httpx.AsyncClient, clock: Clock
) -> None:
    server.feed("/slow", "statedept_rss20.xml", delay=5.0)
    poller = FeedPoller(
        storage,
        client,
        Collected(),
        clock=clock,
        allow_private=True,
        timeout=0.3,
        rng=random.Random(1),
    )
    feed = await add(storage, server.url("/slow"), clock)

    first = await poller.poll_feed(feed)
    assert not first.ok and first.error is not None and "timed out" in first.error
    assert first.feed.failures == 1 and first.feed.last_error == first.error
    assert within_jitter(first.feed.next_poll_at - clock(), 2 * INTERVAL)

    clock.current = first.feed.next_poll_at
    second = await poller.poll_feed(first.feed)
    assert second.feed.failures == 2
    assert within_jitter(second.feed.next_poll_at - clock(), 4 * INTERVAL)


@pytest.mark.parametrize(
    ("setup", "reason"),
    [
        (
            lambda s: s.huge(
                "/f", 11 * 1024 * 1024, announce_length=False, content_type="text/xml"
            ),
            "larger than 10 MB",
        ),
        (
            lambda s: s.huge("/f", 11 * 1024 * 1024, announce_length=True, content_type="text/xml"),
            "larger than 10 MB",
        ),
        (lambda s: s.feed("/f", "hostile_not_a_feed.html"), "not a readable feed"),
        (lambda s: s.feed("/f", "hostile_truncated.xml"), "not a readable feed"),
        (lambda s: s.feed("/f", "hostile_billion_laughs.xml"), "declares XML entities"),
        (
            lambda s: s.page(
                "/f", quadratic_blowup_feed(100_000, 100_000), content_type="text/xml"
            ),
            "declares XML entities",
        ),
        (lambda s: (s.redirect("/f", "/g"), s.redirect("/g", "/f")), "redirect loop"),
        (lambda s: s.fail("/f", 500), "500"),
        (lambda s: s.fail("/f", 404), "404"),
    ],
    ids=[
        "huge-chunked",
        "huge-announced",
        "html",
        "truncated",
        "laughs",
        "quadratic",
        "loop",
        "500",
        "404",
    ],
)
async def test_faults_are_recorded_as_failures_with_a_clear_reason(
    storage: SQLiteStorage,
    server: FeedServer,
    client: httpx.AsyncClient,
    clock: Clock,
    setup: Callable[[FeedServer], object],
    reason: str,
) -> None:
    setup(server)
    collected = Collected()
    poller = FeedPoller(storage, client, collected, clock=clock, allow_private=True)

    # Each fault is recognised for what it is (the reason below), not waited out: the client's
    # own 5 s timeout would say "timed out". The 60 s bound only turns a hang into a failure.
    result = await asyncio.wait_for(
        poller.poll_feed(await add(storage, server.url("/f"), clock)), HANG_GUARD_S
    )

    assert not result.ok and result.error is not None and reason in result.error
    assert result.feed.failures == 1 and result.feed.enabled
    assert collected.calls == 0


async def test_gzip_bomb_is_stopped_at_the_cap_in_bounded_memory(
    storage: SQLiteStorage,
    server: FeedServer,
    client: httpx.AsyncClient,
    clock: Clock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    compressed = server.gzip_bomb("/bomb", 256 * 1024 * 1024)  # 256 MB of zeros
    assert compressed < 512 * 1024
    poller = FeedPoller(storage, client, Collected(), clock=clock, allow_private=True)
    feed = await add(storage, server.url("/bomb"), clock)
    raw_reads: list[int] = []  # sizes of the compressed pieces the poll took off the wire
    read_raw = httpx.Response.aiter_raw

    async def counted(self: httpx.Response, chunk_size: int | None = None) -> AsyncIterator[bytes]:
        async for chunk in read_raw(self, chunk_size):
            raw_reads.append(len(chunk))
            yield chunk

    monkeypatch.setattr(httpx.Response, "aiter_raw", counted)

    tracemalloc.start()
    try:
        result = await asyncio.wait_for(poller.poll_feed(feed), HANG_GUARD_S)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert not result.ok and result.error is not None and "larger than 10 MB" in result.error
    # Work done, not time taken: the 10 MB cap is ~10 kB of this stream, so the poll stops
    # within its first network reads (64 kB at most each), not after the whole 256 MB.
    assert raw_reads and sum(raw_reads) < compressed // 2, f"{sum(raw_reads):,} bytes read"
    print(f"gzip bomb: peak {peak / 1e6:.1f} MB traced while polling")
    assert peak < 200 * 1024 * 1024, f"peak {peak / 1e6:.0f} MB"


async def test_twenty_failures_in_a_row_disable_the_feed_with_a_notice(
    storage: SQLiteStorage, server: FeedServer, client: httpx.AsyncClient, clock: Clock
) -> None:
    server.fail("/down", 500)
    poller = FeedPoller(storage, client, Collected(), clock=clock, allow_private=True)
    feed = await add(storage, server.url("/down"), clock)

    delays: list[float] = []
    for _ in range(DISABLE_AFTER_FAILURES - 1):
        result = await poller.poll_feed(feed)
        assert not result.disabled and result.notice is None
        delays.append((result.feed.next_poll_at - clock()).total_seconds())
        feed = result.feed
        clock.current = feed.next_poll_at
    last = await poller.poll_feed(feed)

    assert last.disabled and not last.feed.enabled
    assert last.feed.failures == DISABLE_AFTER_FAILURES
    assert last.notice is not None and "disabled after 20 failed polls" in last.notice
    assert "500" in last.notice
    assert max(delays) == MAX_BACKOFF_S  # doubling stopped at a day
    assert delays[0] < delays[1] < delays[2]
    assert await storage.due_feeds(clock() + timedelta(days=30)) == []


async def test_a_success_resets_the_failure_count(
    storage: SQLiteStorage, server: FeedServer, client: httpx.AsyncClient, clock: Clock
) -> None:
    server.fail("/f", 503)
    poller = FeedPoller(storage, client, Collected(), clock=clock, allow_private=True)
    failed = await poller.poll_feed(await add(storage, server.url("/f"), clock))
    server.feed("/f", "statedept_rss20.xml")

    ok = await poller.poll_feed(failed.feed)

    assert failed.feed.failures == 1
    assert ok.ok and ok.feed.failures == 0 and ok.feed.last_error is None


def test_next_poll_delay_jitters_within_ten_percent_and_caps_at_a_day() -> None:
    rng = random.Random(42)
    delays = [next_poll_delay(INTERVAL, 0, rng) for _ in range(200)]
    assert min(delays) >= INTERVAL * 0.9 and max(delays) <= INTERVAL * 1.1
    assert len(set(delays)) > 100  # it really varies
    assert next_poll_delay(INTERVAL, 3, rng) >= 8 * INTERVAL * 0.9
    assert next_poll_delay(INTERVAL, 60, rng) == MAX_BACKOFF_S


async def test_opml_import_adds_checks_and_reports_then_exports(
    storage: SQLiteStorage, server: FeedServer, client: httpx.AsyncClient, clock: Clock
) -> None:
    server.feed("/rss", "statedept_rss20.xml")
    server.feed("/atom", "wikinews_atom.xml")
    server.fail("/gone", 410)
    feeds = Feeds(
        storage, FeedPoller(storage, client, Collected(), clock=clock, allow_private=True), clock
    )
    assert isinstance(await feeds.add(server.url("/atom")), Added)
    opml = export_opml(
        [(server.url(p), None) for p in ("/rss", "/atom", "/gone")], title="Reading list"
    ).encode()

    report = await feeds.import_opml(opml)

    assert [f.title for f in report.added] == ["U.S. Department of State: Press Releases"]
    assert report.existing == [server.url("/atom")]
    assert [(url, "410" in reason) for url, reason in report.failed] == [
        (server.url("/gone"), True)
    ]
    exported = parse_opml((await feeds.export_opml()).encode())
    assert [(f.url, f.title) for f in exported] == [
        (server.url("/atom"), "Wikinews, the free news source"),
        (server.url("/rss"), "U.S. Department of State: Press Releases"),
    ]
