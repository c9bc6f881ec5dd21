"""Contract: the inbox as digests use it, and delivery marking (sending, delivered)."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from storage.base import Storage
from storage.models import InboxItem, NewSubscription
from tests.storage.contract.support import NOW, T0, TARGETS, drain, make_article
from tests.storage.peek import add_inbox, pending_inbox


async def test_inbox_and_mark_delivered(loaded: Storage) -> None:
    chat = await loaded.ensure_chat(5, "private", None, "UTC", now=NOW)
    sub = await loaded.add_subscription(NewSubscription(5, "keyword", "belarus"), 10, now=NOW)
    items = [InboxItem(5, article_id, sub.id, T0) for article_id in (1, 5, 3)]
    assert await add_inbox(loaded, items) == 3
    assert await add_inbox(loaded, items[:2]) == 0
    pending = await pending_inbox(loaded, 5)
    assert sorted(i.article_id for i in pending) == [1, 3, 5]
    next_at = T0 + timedelta(days=1)
    await loaded.mark_delivered(chat.id, [1, 5], T0 + timedelta(minutes=1), next_at)
    assert [i.article_id for i in await pending_inbox(loaded, 5)] == [3]
    assert (await loaded.get_chat(5)).next_digest_at == next_at
    await loaded.forget_chat(5)
    assert await pending_inbox(loaded, 5) == []


async def _chat_with_matches(storage: Storage, articles: int = 4) -> list[int]:
    """Chat 1 (daily, every article) subscribed to words of the first ``articles`` targets."""
    chat = await storage.ensure_chat(1, "private", None, "UTC", now=NOW)
    await storage.save_chat(replace(chat, only_diplomatic=False))
    await storage.add_subscription(NewSubscription(1, "keyword", "the"), 10, now=NOW)
    results = await storage.add_articles(
        [make_article(t, x) for t, x in TARGETS[:articles]], now=NOW
    )
    await drain(storage)
    return [r.article_id for r in results]


async def test_sending_marks_and_in_flight(storage: Storage) -> None:
    stored = await _chat_with_matches(storage)
    digest = await storage.pending_digest(1, diplomatic_only=False, limit=10)
    assert digest.articles == len(stored)
    assert (await storage.pending_digest(1, diplomatic_only=False, limit=10, in_flight=True)) == (
        replace(digest, items=(), articles=0)
    )
    # Two articles go out in one message: marked before the send ...
    await storage.mark_sending(1, stored[:2], NOW)
    in_flight = await storage.pending_digest(1, diplomatic_only=False, limit=10, in_flight=True)
    assert sorted(i.article_id for i in in_flight.items) == sorted(stored[:2])
    # ... still pending until delivered ...
    assert (await storage.pending_digest(1, diplomatic_only=False, limit=10)).articles == 4
    # ... or unmarked when Telegram refused the message.
    await storage.mark_sending(1, stored[:1], None)
    in_flight = await storage.pending_digest(1, diplomatic_only=False, limit=10, in_flight=True)
    assert [i.article_id for i in in_flight.items] == stored[1:2]
    await storage.mark_delivered(1, stored[1:2], NOW, NOW + timedelta(days=1))
    in_flight = await storage.pending_digest(1, diplomatic_only=False, limit=10, in_flight=True)
    assert in_flight.items == () and in_flight.articles == 0
    left = await storage.pending_digest(1, diplomatic_only=False, limit=10)
    assert sorted(i.article_id for i in left.items) == sorted([stored[0], *stored[2:]])


async def test_mark_delivered_touches_only_that_chat_and_those_articles(
    storage: Storage,
) -> None:
    stored = await _chat_with_matches(storage)
    chat2 = await storage.ensure_chat(2, "group", None, "UTC", now=NOW)
    await storage.save_chat(replace(chat2, only_diplomatic=False))
    sub2 = await storage.add_subscription(NewSubscription(2, "keyword", "x"), 10, now=NOW)
    await add_inbox(storage, [InboxItem(2, a, sub2.id, NOW) for a in stored])
    # Digests read before they mark (the read brings the chat's matches into its inbox).
    assert (await storage.pending_digest(1, diplomatic_only=False, limit=10)).articles == 4
    await storage.mark_delivered(1, stored[:1], NOW, None)
    await storage.mark_delivered(1, stored[:1], NOW + timedelta(hours=1), None)  # again: no-op
    assert (await storage.pending_digest(1, diplomatic_only=False, limit=10)).articles == 3
    assert (await storage.pending_digest(2, diplomatic_only=False, limit=10)).articles == 4
    # Scheduling alone: nothing pending to mark, the next digest time is still set.
    await storage.mark_delivered(1, [], NOW, NOW + timedelta(hours=6))
    assert (await storage.get_chat(1)).next_digest_at == NOW + timedelta(hours=6)
    await storage.mark_delivered(1, [], NOW, None)
    assert (await storage.get_chat(1)).next_digest_at is None


async def test_pending_chats_and_limits(storage: Storage) -> None:
    await _chat_with_matches(storage, articles=2)
    for chat_id in (2, 3):
        await storage.ensure_chat(chat_id, "private", None, "UTC", now=NOW)
        await storage.add_subscription(NewSubscription(chat_id, "keyword", "the"), 10, now=NOW)
    await storage.add_articles([make_article(*TARGETS[5])], now=NOW)
    await drain(storage)
    # Matches not yet read into an inbox count as pending.
    assert [c.id for c in await storage.pending_chats("daily")] == [1, 2, 3]
    assert [c.id for c in await storage.pending_chats("daily", limit=2)] == [1, 2]
    assert await storage.pending_chats("instant") == []
    chat3 = await storage.get_chat(3)
    await storage.save_chat(replace(chat3, paused=True))
    await storage.mark_blocked(2, NOW)
    assert [c.id for c in await storage.pending_chats("daily")] == [1]
