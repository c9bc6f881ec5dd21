"""Contract: feeds, their schedule, and what each poll records."""

from __future__ import annotations

from datetime import timedelta

import pytest

from storage.base import Storage
from storage.errors import AlreadyExists, NotFound
from storage.models import PollOutcome
from tests.storage.contract.support import NOW
from tests.storage.peek import get_feed


async def test_feeds(storage: Storage) -> None:
    feed = await storage.add_feed("https://example.org/rss", None, 900, now=NOW)
    assert feed.enabled and feed.failures == 0 and feed.last_success_at is None
    assert (feed.next_poll_at, feed.interval_s, feed.etag) == (NOW, 900, None)
    with pytest.raises(AlreadyExists):
        await storage.add_feed("https://example.org/rss", "again", 900, now=NOW)
    later = NOW + timedelta(seconds=5, microseconds=250)
    assert [f.id for f in await storage.due_feeds(later)] == [feed.id]
    ok = await storage.record_poll(
        PollOutcome(feed.id, True, later + timedelta(hours=1), etag='"abc"', title="Wire"), later
    )
    assert (ok.etag, ok.title, ok.failures) == ('"abc"', "Wire", 0)
    assert ok.last_success_at == later.replace(microsecond=0)
    assert await storage.due_feeds(later) == []
    failed = await storage.record_poll(
        PollOutcome(feed.id, False, later + timedelta(hours=2), error="HTTP 500"), later
    )
    assert (failed.failures, failed.last_error, failed.etag) == (1, "HTTP 500", '"abc"')
    disabled = await storage.record_poll(
        PollOutcome(feed.id, False, later, error="gone", disable=True), later
    )
    assert not disabled.enabled
    assert await storage.due_feeds(later + timedelta(days=1)) == []
    assert [f.url for f in await storage.list_feeds()] == ["https://example.org/rss"]
    assert await storage.remove_feed(feed.id)
    assert not await storage.remove_feed(feed.id)
    with pytest.raises(NotFound):
        await get_feed(storage, feed.id)
    with pytest.raises(NotFound):
        await storage.record_poll(PollOutcome(feed.id, True, later), later)


async def test_a_success_resets_failures_and_keeps_unsent_validators(storage: Storage) -> None:
    feed = await storage.add_feed("https://example.org/atom", "Atom", 600, now=NOW)
    await storage.record_poll(
        PollOutcome(feed.id, True, NOW, etag='"v1"', last_modified="Tue, 01 Mar 2022"), NOW
    )
    for _ in range(3):
        await storage.record_poll(PollOutcome(feed.id, False, NOW, error="timeout"), NOW)
    back = await storage.record_poll(PollOutcome(feed.id, True, NOW + timedelta(hours=1)), NOW)
    assert (back.failures, back.last_error, back.etag, back.last_modified, back.title) == (
        0,
        None,
        '"v1"',
        "Tue, 01 Mar 2022",
        "Atom",
    )
    assert back.next_poll_at == NOW + timedelta(hours=1)
    # A disabled feed stays disabled, even after a successful poll.
    await storage.record_poll(PollOutcome(feed.id, False, NOW, disable=True), NOW)
    again = await storage.record_poll(PollOutcome(feed.id, True, NOW), NOW)
    assert not again.enabled


async def test_due_feeds_earliest_first_and_listed_oldest_first(storage: Storage) -> None:
    first = await storage.add_feed(
        "https://a.example/feed", "A", 600, now=NOW + timedelta(minutes=5)
    )
    second = await storage.add_feed("https://b.example/feed", "B", 600, now=NOW)
    third = await storage.add_feed("https://c.example/feed", "C", 600, now=NOW)
    due = await storage.due_feeds(NOW + timedelta(minutes=10))
    assert [f.id for f in due] == [second.id, third.id, first.id]
    assert [f.id for f in await storage.due_feeds(NOW)] == [second.id, third.id]
    assert [f.id for f in await storage.list_feeds()] == [first.id, second.id, third.id]
    assert (await get_feed(storage, first.id)).title == "A"
