"""Feed administration shared by the admin commands and the CLI, free of any output format.

``FeedPoller`` does the work (fetching, storing, scheduling); this layer turns what people type
into its calls and its exceptions into outcomes that say what happened in plain words:
``/addfeed URL 15`` and ``attache feeds add URL --interval 15`` both end in ``add_feed``, which
returns ``Added``, ``AlreadyAdded`` or ``Refused`` rather than raising.

Feed URLs are stored in canonical form (``bot.ingest.normalize.canonical_url``), as the OPML
import stores them, so the same feed added both ways is recognised as one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.feeds.service import DEFAULT_INTERVAL_S, MIN_INTERVAL_S, FeedPoller
from bot.ingest.model import IngestError
from bot.ingest.normalize import canonical_url
from bot.services import IngestOutcome, Services
from storage.errors import AlreadyExists
from storage.models import Feed

DEFAULT_INTERVAL_MIN = DEFAULT_INTERVAL_S // 60
MIN_INTERVAL_MIN = MIN_INTERVAL_S // 60
#: A feed polled less than weekly is better removed; larger numbers are typing mistakes.
MAX_INTERVAL_MIN = 7 * 24 * 60

AppFeedPoller = FeedPoller[IngestOutcome]


def make_feed_poller(services: Services) -> AppFeedPoller:
    """The application's poller: the services' storage, SSRF-guarded client, store and clock.

    ``services`` must be open: its HTTP client (``make_client(allow_private=...)``, which pins
    vetted addresses against DNS rebinding) is shared, not copied.
    """
    return FeedPoller(
        services.storage,
        services.http,
        services.store,
        now=services.now,
        allow_private=services.settings.fetch_allow_private,
    )


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
    if not url.lower().startswith(("http://", "https://")):
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
class Refused:
    """The URL was not added; ``reason`` says why in plain words."""

    url: str
    reason: str


AddOutcome = Added | AlreadyAdded | Refused


async def find_feed(poller: AppFeedPoller, feed_id: int) -> Feed | None:
    """The feed with this id, or None."""
    return next((feed for feed in await poller.list_feeds() if feed.id == feed_id), None)


async def _feed_by_url(poller: AppFeedPoller, url: str) -> Feed | None:
    return next((feed for feed in await poller.list_feeds() if feed.url == url), None)


async def add_feed(
    poller: AppFeedPoller, url: str, interval_min: int = DEFAULT_INTERVAL_MIN
) -> AddOutcome:
    """Check ``url`` by fetching it once (the title is learned then) and store it as a feed."""
    try:
        canonical = canonical_url(url)
    except IngestError as exc:
        return Refused(url, exc.message)
    known = await _feed_by_url(poller, canonical)
    if known is not None:
        return AlreadyAdded(known)  # no need to fetch it again
    try:
        return Added(await poller.add_feed(canonical, interval_min * 60))
    except AlreadyExists:
        # Added meanwhile by another admin or process.
        raced = await _feed_by_url(poller, canonical)
        if raced is None:
            return Refused(canonical, "it was added and removed again meanwhile; try once more")
        return AlreadyAdded(raced)
    except IngestError as exc:
        return Refused(canonical, exc.message)
    except ValueError as exc:  # an interval below the minimum
        return Refused(canonical, str(exc))


async def remove_feed(poller: AppFeedPoller, feed_id: int) -> Feed | None:
    """Stop polling a feed (its stored articles stay); the removed feed, or None if unknown."""
    feed = await find_feed(poller, feed_id)
    if feed is None or not await poller.remove_feed(feed_id):
        return None
    return feed


async def list_feeds(poller: AppFeedPoller) -> list[Feed]:
    """Every feed, in the order they were added."""
    return sorted(await poller.list_feeds(), key=lambda feed: feed.id)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def feed_json(feed: Feed) -> dict[str, Any]:
    """A feed as a JSON object (times in ISO 8601, UTC)."""
    return {
        "id": feed.id,
        "url": feed.url,
        "title": feed.title,
        "interval_minutes": feed.interval_s // 60,
        "enabled": feed.enabled,
        "last_success_at": _iso(feed.last_success_at),
        "next_poll_at": _iso(feed.next_poll_at),
        "failures": feed.failures,
        "last_error": feed.last_error,
        "etag": feed.etag,
        "last_modified": feed.last_modified,
    }
