"""Feed use-cases shared by the admin commands and the CLI, free of any output format.

``/addfeed URL 15`` and ``attache feeds add URL --interval 15`` both parse their words with the
functions here and end in ``Feeds.add``, which returns ``Added``, ``AlreadyAdded`` or
``NotAdded`` rather than raising. Polling itself is ``bot.feeds.poll.FeedPoller``.

Feed URLs are stored in canonical form (``bot.ingest.normalize.canonical_url``), as the OPML
import stores them, so the same feed added both ways is recognised as one.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from bot.clock import Clock
from bot.feeds.opml import OPMLFeed, export_opml, parse_opml
from bot.feeds.poll import (
    DEFAULT_INTERVAL_S,
    MAX_PARALLEL_FEEDS,
    MIN_INTERVAL_S,
    FeedPoller,
    host_of,
)
from bot.ingest.model import IngestError
from bot.ingest.normalize import canonical_url
from bot.urls import has_http_scheme
from storage.base import Storage
from storage.errors import AlreadyExists
from storage.models import Feed, PollOutcome

DEFAULT_INTERVAL_MIN = DEFAULT_INTERVAL_S // 60
MIN_INTERVAL_MIN = MIN_INTERVAL_S // 60
#: A feed polled less than weekly is better removed; larger numbers are typing mistakes.
MAX_INTERVAL_MIN = 7 * 24 * 60


class FeedArgumentError(ValueError):
    """Arguments of a feed command that cannot be used; the message says what is wrong."""


def parse_interval(text: str) -> int:
    """Minutes between polls from ``"15"``, ``"15m"`` or ``"15min"``; FeedArgumentError else."""
    cleaned = text.strip().lower().removesuffix("min").removesuffix("m").strip()
    if not (cleaned.isascii() and cleaned.isdigit()) or len(cleaned) > 6:
        raise FeedArgumentError(
            f"the interval must be a whole number of minutes, not {text.strip()[:40]!r}"
        )
    minutes = int(cleaned)
    if not MIN_INTERVAL_MIN <= minutes <= MAX_INTERVAL_MIN:
        raise FeedArgumentError(
            f"the interval must be from {MIN_INTERVAL_MIN} to {MAX_INTERVAL_MIN} minutes "
            f"(a week), not {minutes}"
        )
    return minutes


def parse_add_arguments(text: str) -> tuple[str, int]:
    """``"URL [minutes]"`` -> (URL, minutes between polls); FeedArgumentError when unusable."""
    words = text.split()
    if not words:
        raise FeedArgumentError("give the feed's URL")
    if len(words) > 2:
        raise FeedArgumentError(
            "give only the feed's URL and, optionally, the minutes between polls"
        )
    url = words[0]
    if not has_http_scheme(url.lower()):
        raise FeedArgumentError("the feed's address must start with http:// or https://")
    minutes = parse_interval(words[1]) if len(words) == 2 else DEFAULT_INTERVAL_MIN
    return url, minutes


def parse_feed_id(text: str) -> int:
    """A feed id (``"3"`` or ``"#3"``); FeedArgumentError otherwise."""
    cleaned = text.strip().lstrip("#")
    if not (cleaned.isascii() and cleaned.isdigit()) or len(cleaned) > 12 or int(cleaned) == 0:
        raise FeedArgumentError("give the feed's number, as shown by the list of feeds")
    return int(cleaned)


# --------------------------------------------------------------------------- outcomes


@dataclass(frozen=True, slots=True)
class Added:
    """The feed was fetched, recognised as a feed, and stored; its first poll is due now."""

    feed: Feed


@dataclass(frozen=True, slots=True)
class AlreadyAdded:
    """A feed with this (canonical) URL is already polled."""

    feed: Feed


@dataclass(frozen=True, slots=True)
class NotAdded:
    """The URL was not added; ``reason`` says why in plain words."""

    url: str
    reason: str


AddOutcome = Added | AlreadyAdded | NotAdded


@dataclass(slots=True)
class OPMLImport:
    """What an OPML import did: feeds added, already there, and refused with the reason."""

    added: list[Feed] = field(default_factory=list)
    existing: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)


# --------------------------------------------------------------------------- use-cases


class Feeds:
    """Adding, listing, removing, importing and exporting feeds."""

    def __init__(self, storage: Storage, poller: FeedPoller, clock: Clock) -> None:
        self.storage = storage
        self.poller = poller
        self.clock = clock

    async def list(self) -> list[Feed]:
        """Every feed, in the order they were added."""
        return sorted(await self.storage.list_feeds(), key=lambda feed: feed.id)

    async def find(self, feed_id: int) -> Feed | None:
        """The feed with this id, or None."""
        return next((feed for feed in await self.list() if feed.id == feed_id), None)

    async def _by_url(self, url: str) -> Feed | None:
        return next((feed for feed in await self.list() if feed.url == url), None)

    async def add(self, url: str, interval_min: int = DEFAULT_INTERVAL_MIN) -> AddOutcome:
        """Check ``url`` by fetching it once (the title is learned then) and store it as a feed.

        The first real poll is due at once."""
        if interval_min < MIN_INTERVAL_MIN:
            return NotAdded(url, f"the interval must be at least {MIN_INTERVAL_S} seconds")
        try:
            canonical = canonical_url(url)
        except IngestError as exc:
            return NotAdded(url, exc.message)
        known = await self._by_url(canonical)
        if known is not None:
            return AlreadyAdded(known)  # no need to fetch it again
        try:
            return Added(await self._store(canonical, interval_min * 60))
        except AlreadyExists:
            # Added meanwhile by another admin or process.
            raced = await self._by_url(canonical)
            if raced is None:
                return NotAdded(
                    canonical, "it was added and removed again meanwhile; try once more"
                )
            return AlreadyAdded(raced)
        except IngestError as exc:
            return NotAdded(canonical, exc.message)

    async def _store(self, url: str, interval_s: int) -> Feed:
        """Probe the feed, store it, and make its first poll due now; raises IngestError
        (not a feed, unreachable...) or AlreadyExists."""
        parsed = await self.poller.probe(url)
        title = parsed.title or host_of(url) or url
        now = self.clock()
        stored = await self.storage.add_feed(url, title, interval_s, now=now)
        # No validators yet: the first poll must fetch the whole feed and store its entries.
        return await self.storage.record_poll(
            PollOutcome(feed_id=stored.id, ok=True, next_poll_at=now, title=title), at=now
        )

    async def remove(self, feed_id: int) -> Feed | None:
        """Stop polling a feed (its stored articles stay); the removed feed, or None if unknown."""
        feed = await self.find(feed_id)
        if feed is None or not await self.storage.remove_feed(feed_id):
            return None
        return feed

    async def import_opml(
        self, data: bytes, interval_min: int = DEFAULT_INTERVAL_MIN
    ) -> OPMLImport:
        """Add every feed of an OPML document (each checked like ``add``, a few at once).

        Raises OPMLError when the document itself is unusable; a bad feed is only reported.
        """
        listed = parse_opml(data)
        report = OPMLImport()
        slots = asyncio.Semaphore(MAX_PARALLEL_FEEDS)

        async def one(item: OPMLFeed) -> None:
            async with slots:
                try:
                    report.added.append(await self._store(item.url, interval_min * 60))
                except AlreadyExists:
                    report.existing.append(item.url)
                except IngestError as exc:
                    report.failed.append((item.url, exc.message))

        await asyncio.gather(*(one(item) for item in listed))
        return report

    async def export_opml(self) -> str:
        """Every feed as an OPML 2.0 document."""
        feeds = await self.list()
        return export_opml([(feed.url, feed.title) for feed in feeds], now=self.clock())
