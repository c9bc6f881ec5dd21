"""Polling feeds: one feed, or every feed that is due, storing their new entries.

Adding, listing and removing feeds are the use-cases of ``bot.feeds.service``; this module
fetches and schedules.

A poll is a conditional GET (``If-None-Match`` / ``If-Modified-Since`` from the last success),
then ``bot.feeds.parse.parse_feed``; entries whose guid is stored already are skipped, entries
that carry only a summary get their page fetched and extracted (at most ``per_host`` requests at
once to any one host, the summary kept when the page fails), and the new entries are handed to
``store`` oldest first, in one call. Storage merges an entry that another feed already brought
(same canonical URL or near-identical text), so a story carried by two feeds is stored once.

Scheduling lives in the database (``feeds.next_poll_at``). A success schedules the next poll one
interval ahead with +/-10 % jitter (so feeds added together do not poll in lockstep); the n-th
consecutive failure waits ``interval * 2**n`` (at most 24 h), and the 20th disables the feed and
returns a notice for the admins. Validators (ETag, Last-Modified) are saved only after the new
entries were stored, so a crash in between refetches rather than loses them.

Nothing here knows Telegram; time comes from the injected clock, randomness from the injected RNG.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Protocol
from urllib.parse import urlsplit

import httpx

from bot.clock import Clock
from bot.feeds.parse import FeedEntry, FeedError, ParsedFeed, parse_feed
from bot.ingest.fetch import fetch
from bot.ingest.guard import DEFAULT_TIMEOUT
from bot.ingest.html import parse_html
from bot.ingest.model import IngestError, IngestOutcome, ParsedArticle
from storage.models import (
    Feed,
    PollOutcome,
)

log = logging.getLogger(__name__)

DEFAULT_INTERVAL_S = 600
MIN_INTERVAL_S = 60
MAX_BACKOFF_S = 24 * 3600
DISABLE_AFTER_FAILURES = 20
JITTER = 0.10
PAGE_FETCHES_PER_HOST = 2
#: Summary-only entries beyond this many in one poll keep their summary (a first poll of a big
#: feed would otherwise fetch hundreds of pages at once).
MAX_PAGE_FETCHES_PER_POLL = 40
MAX_PARALLEL_FEEDS = 4
#: Only the newest entries of a feed are considered: a 10 MB feed can list tens of thousands.
MAX_ENTRIES_PER_POLL = 500

FEED_CONTENT_TYPES: tuple[str, ...] = (
    "application/rss+xml",
    "application/atom+xml",
    "application/rdf+xml",
    "application/feed+json",
    "application/xml",
    "text/xml",
    "application/json",
    "text/plain",
    "text/html",  # misconfigured servers send feeds as text/html; parse_feed judges the body
    "application/octet-stream",
    "+xml",
    "+json",
)
PAGE_CONTENT_TYPES: tuple[str, ...] = ("text/html", "application/xhtml+xml")


class FeedStorage(Protocol):
    """The part of ``storage.base.Storage`` that feeds use (any Storage is one)."""

    async def due_feeds(self, now: datetime) -> list[Feed]: ...
    async def record_poll(self, outcome: PollOutcome, at: datetime) -> Feed: ...
    async def seen_guids(self, guids: Sequence[str]) -> set[str]: ...


#: Stores parsed articles (enriching and deduplicating them); ``Ingest.store`` is one.
Store = Callable[[Sequence[ParsedArticle]], Awaitable[Sequence[IngestOutcome]]]


@dataclass(frozen=True, slots=True)
class PollResult:
    """What one poll did. ``notice`` is set when the feed was just disabled (tell the admins)."""

    feed: Feed  # the feed as stored after the poll
    ok: bool
    not_modified: bool = False
    entries: int = 0  # entries in the feed document
    new_entries: int = 0  # entries whose guid was not stored yet
    pages_fetched: int = 0  # summary-only entries whose page was fetched and used
    pages_unused: int = 0  # page fetch or extraction failed, or gave less than the summary
    stored: tuple[IngestOutcome, ...] = ()  # what ``store`` returned, one per new entry
    error: str | None = None
    disabled: bool = False
    notice: str | None = None


def next_poll_delay(
    interval_s: int, failures: int, rng: random.Random, *, jitter: float = JITTER
) -> float:
    """Seconds until the next poll after ``failures`` consecutive failures (0 after a success)."""
    base = interval_s * (1 << min(failures, 32))
    return min(base * rng.uniform(1 - jitter, 1 + jitter), MAX_BACKOFF_S)


def disabled_notice(feed: Feed, error: str) -> str:
    """The message for the admins when a feed is disabled."""
    name = feed.title or feed.url
    return (
        f"Feed {feed.id} ({name}) was disabled after {DISABLE_AFTER_FAILURES} failed polls "
        f"in a row. Last error: {error}. Remove it, or add it again once it works."
    )


def host_of(url: str) -> str:
    """The URL's host name in lower case (empty when it has none)."""
    return (urlsplit(url).hostname or "").lower()


class FeedPoller:
    """Polls feeds over one storage, one HTTP client and one article store."""

    def __init__(
        self,
        storage: FeedStorage,
        client: httpx.AsyncClient,
        store: Store,
        *,
        clock: Clock,
        allow_private: bool = False,
        rng: random.Random | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        per_host: int = PAGE_FETCHES_PER_HOST,
        max_page_fetches: int = MAX_PAGE_FETCHES_PER_POLL,
        max_parallel_feeds: int = MAX_PARALLEL_FEEDS,
    ) -> None:
        self.storage = storage
        self.client = client
        self.store = store
        self.clock = clock
        self.allow_private = allow_private
        self.rng = rng or random.Random()
        self.timeout = timeout
        self.per_host = per_host
        self.max_page_fetches = max_page_fetches
        self.max_parallel_feeds = max_parallel_feeds
        # One semaphore per host, shared by every feed polled by this poller.
        self._host_slots: dict[str, asyncio.Semaphore] = {}

    async def probe(self, url: str) -> ParsedFeed:
        """Fetch ``url`` once to check it is a feed (and learn its title); IngestError if not."""
        parsed = await self._fetch_feed(url, etag=None, last_modified=None)
        if parsed is None:
            raise FeedError(f"{url} answered 304 Not Modified to a request without validators")
        return parsed[0]

    # ------------------------------------------------------------------ polling

    async def poll_due(self, now: datetime | None = None) -> list[PollResult]:
        """Poll every enabled feed whose time has come, a few at once; one result per feed."""
        due = await self.storage.due_feeds(now or self.clock())
        slots = asyncio.Semaphore(self.max_parallel_feeds)

        async def one(feed: Feed) -> PollResult:
            async with slots:
                try:
                    return await self.poll_feed(feed)
                except Exception as exc:
                    # A bug or a storage error must not stop the other feeds; the feed backs off
                    # like any failure so it is not retried every tick.
                    log.exception("polling feed %s (%s) failed", feed.id, feed.url)
                    return await self._failure(feed, f"internal error: {exc!r}")

        return list(await asyncio.gather(*(one(feed) for feed in due)))

    async def poll_feed(self, feed: Feed) -> PollResult:
        """Poll one feed now, store its new entries and record the outcome."""
        try:
            fetched = await self._fetch_feed(
                feed.url, etag=feed.etag, last_modified=feed.last_modified
            )
        except IngestError as exc:
            return await self._failure(feed, exc.message)
        if fetched is None:
            updated = await self._success(feed, title=None, etag=None, last_modified=None)
            return PollResult(feed=updated, ok=True, not_modified=True)
        parsed, etag, last_modified = fetched

        fresh = await self._unseen(parsed.entries[-MAX_ENTRIES_PER_POLL:])
        title = feed.title or parsed.title or host_of(feed.url)
        articles, pages_used, pages_unused = await self._articles(fresh, source=title)
        stored = tuple(await self.store(articles)) if articles else ()
        updated = await self._success(
            feed, title=parsed.title, etag=etag, last_modified=last_modified
        )
        return PollResult(
            feed=updated,
            ok=True,
            entries=len(parsed.entries),
            new_entries=len(fresh),
            pages_fetched=pages_used,
            pages_unused=pages_unused,
            stored=stored,
        )

    # ------------------------------------------------------------------ steps

    async def _fetch_feed(
        self, url: str, *, etag: str | None, last_modified: str | None
    ) -> tuple[ParsedFeed, str | None, str | None] | None:
        """The parsed feed with its new validators, or None when the server said 304."""
        result = await fetch(
            url,
            client=self.client,
            allow_private=self.allow_private,
            timeout=self.timeout,
            accept=FEED_CONTENT_TYPES,
            etag=etag,
            last_modified=last_modified,
        )
        if result.not_modified:
            return None
        now = self.clock()
        content_type = result.headers.get("content-type")
        # feedparser is CPU-bound (a 10 MB feed takes seconds): keep the event loop free.
        parsed = await asyncio.to_thread(
            parse_feed, result.raw, url=result.url, content_type=content_type, now=now
        )
        return parsed, result.etag, result.last_modified

    async def _unseen(self, entries: Sequence[FeedEntry]) -> list[FeedEntry]:
        unique: dict[str, FeedEntry] = {}
        for entry in entries:
            unique.setdefault(entry.guid, entry)
        seen = await self.storage.seen_guids(list(unique)) if unique else set()
        return [entry for guid, entry in unique.items() if guid not in seen]

    async def _articles(
        self, entries: Sequence[FeedEntry], *, source: str
    ) -> tuple[list[ParsedArticle], int, int]:
        """Entries as articles, in order: (articles, pages used, pages not used)."""
        to_fetch = [i for i, e in enumerate(entries) if not e.has_full_text and e.url]
        to_fetch = to_fetch[: self.max_page_fetches]
        pages = await asyncio.gather(*(self._from_page(entries[i], source) for i in to_fetch))
        by_index = dict(zip(to_fetch, pages, strict=True))
        articles: list[ParsedArticle] = []
        for i, entry in enumerate(entries):
            article = by_index.get(i) or _from_entry(entry, source)
            if article is not None:
                articles.append(article)
        used = sum(page is not None for page in pages)
        return articles, used, len(pages) - used

    async def _from_page(self, entry: FeedEntry, source: str) -> ParsedArticle | None:
        """The entry's page extracted, or None (then the summary is used)."""
        assert entry.url is not None
        slot = self._host_slots.setdefault(host_of(entry.url), asyncio.Semaphore(self.per_host))
        try:
            async with slot:
                result = await fetch(
                    entry.url,
                    client=self.client,
                    allow_private=self.allow_private,
                    timeout=self.timeout,
                    accept=PAGE_CONTENT_TYPES,
                )
            page = await asyncio.to_thread(
                parse_html, result.text, url=result.url, now=self.clock()
            )
        except IngestError as exc:
            log.info("page of feed entry %s not used: %s", entry.url, exc.message)
            return None
        except Exception:
            # The extractor meets hostile HTML; one bad page must not cost the feed its entries.
            log.exception("extracting %s failed", entry.url)
            return None
        if len(page.text) <= len(entry.text):
            return None  # the extractor found less than the feed already gave
        return replace(
            page,
            title=entry.title or page.title,
            url=entry.url,
            source=source,
            published_at=entry.published_at or page.published_at,
            guid=entry.guid,
        )

    async def _success(
        self, feed: Feed, *, title: str | None, etag: str | None, last_modified: str | None
    ) -> Feed:
        now = self.clock()
        delay = next_poll_delay(feed.interval_s, 0, self.rng)
        return await self.storage.record_poll(
            PollOutcome(
                feed_id=feed.id,
                ok=True,
                next_poll_at=now + timedelta(seconds=delay),
                etag=etag,
                last_modified=last_modified,
                title=title if not feed.title else None,
            ),
            at=now,
        )

    async def _failure(self, feed: Feed, error: str) -> PollResult:
        now = self.clock()
        failures = feed.failures + 1
        disable = failures >= DISABLE_AFTER_FAILURES
        delay = next_poll_delay(feed.interval_s, failures, self.rng)
        updated = await self.storage.record_poll(
            PollOutcome(
                feed_id=feed.id,
                ok=False,
                next_poll_at=now + timedelta(seconds=delay),
                error=error,
                disable=disable,
            ),
            at=now,
        )
        log.warning("feed %s (%s) failed %d time(s): %s", feed.id, feed.url, failures, error)
        return PollResult(
            feed=updated,
            ok=False,
            error=error,
            disabled=disable,
            notice=disabled_notice(updated, error) if disable else None,
        )


def _from_entry(entry: FeedEntry, source: str) -> ParsedArticle | None:
    text = entry.text or entry.title
    if not text:
        return None
    return ParsedArticle(
        title=entry.title,
        text=text,
        url=entry.url,
        source=source,
        published_at=entry.published_at,
        guid=entry.guid,
    )
