"""Contract: chats, their schedule and blocking, and their subscriptions with limits."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from storage.base import Storage
from storage.errors import AlreadyExists, LimitExceeded, NotFound
from storage.models import Chat, DigestFrequency, EntityMention, NewSubscription
from tests.storage.contract.support import NOW, T0


async def test_chats(storage: Storage) -> None:
    chat = await storage.ensure_chat(100, "private", "Ann", "Europe/Minsk", now=NOW)
    assert (chat.tz, chat.digest_frequency, chat.next_digest_at) == ("Europe/Minsk", "daily", None)
    due_at = T0
    await storage.save_chat(replace(chat, next_digest_at=due_at, digest_time="07:30"))
    await storage.ensure_chat(200, "group", "Desk", "UTC", now=NOW)
    paused = await storage.ensure_chat(300, "private", None, "UTC", now=NOW)
    await storage.save_chat(replace(paused, next_digest_at=due_at, paused=True))
    assert [c.id for c in await storage.due_chats(T0)] == [100]
    assert await storage.due_chats(T0 - timedelta(seconds=1)) == []
    await storage.mark_blocked(100, T0)
    assert await storage.due_chats(T0) == []
    again = await storage.ensure_chat(100, "private", "Ann B.", "UTC", now=NOW)
    assert again.blocked_at is None and again.title == "Ann B." and again.tz == "Europe/Minsk"
    assert again.digest_time == "07:30"
    await storage.forget_chat(100)
    with pytest.raises(NotFound):
        await storage.get_chat(100)
    with pytest.raises(NotFound):
        await storage.save_chat(Chat(id=999, type="private", title=None, tz="UTC"))
    await storage.forget_chat(100)  # nothing left: no error


async def test_a_new_chat_has_the_defaults_and_now(storage: Storage) -> None:
    chat = await storage.ensure_chat(5, "supergroup", "Desk", "Asia/Almaty", now=NOW)
    assert chat == Chat(id=5, type="supergroup", title="Desk", tz="Asia/Almaty", created_at=NOW)
    assert await storage.get_chat(5) == chat
    later = await storage.ensure_chat(5, "channel", "Desk 2", "UTC", now=NOW + timedelta(days=1))
    assert (later.type, later.title, later.tz, later.created_at) == (
        "channel",
        "Desk 2",
        "Asia/Almaty",
        NOW,
    )


async def test_save_chat_keeps_every_setting(storage: Storage) -> None:
    chat = await storage.ensure_chat(6, "private", None, "UTC", now=NOW)
    changed = replace(
        chat,
        type="group",
        title="Renamed",
        tz="Europe/Berlin",
        digest_frequency="weekly",
        digest_time="18:45",
        digest_weekday=4,
        next_digest_at=NOW + timedelta(days=3),
        only_diplomatic=False,
        paused=True,
        blocked_at=NOW,
    )
    await storage.save_chat(changed)
    assert await storage.get_chat(6) == changed


async def test_due_chats_order_limit_and_off(storage: Storage) -> None:
    schedule: list[tuple[int, int, DigestFrequency]] = [
        (1, 5, "daily"),
        (2, 1, "hourly"),
        (3, 1, "off"),
    ]
    for chat_id, minutes, frequency in schedule:
        chat = await storage.ensure_chat(chat_id, "private", None, "UTC", now=NOW)
        await storage.save_chat(
            replace(
                chat, next_digest_at=NOW + timedelta(minutes=minutes), digest_frequency=frequency
            )
        )
    later = NOW + timedelta(minutes=10)
    assert [c.id for c in await storage.due_chats(later)] == [2, 1]  # earliest first; not off
    assert [c.id for c in await storage.due_chats(later, limit=1)] == [2]
    assert [c.id for c in await storage.due_chats(NOW + timedelta(minutes=1))] == [2]


async def test_subscriptions(storage: Storage) -> None:
    await storage.ensure_chat(1, "private", None, "UTC", now=NOW)
    await storage.ensure_chat(2, "private", None, "UTC", now=NOW)
    sub = await storage.add_subscription(
        NewSubscription(1, "keyword", "Eurasian Integration"), 2, now=NOW
    )
    assert (sub.chat_id, sub.kind, sub.query) == (1, "keyword", "Eurasian Integration")
    assert sub.created_at == NOW
    with pytest.raises(AlreadyExists):
        await storage.add_subscription(
            NewSubscription(1, "keyword", "eurasian  integration"), 5, now=NOW
        )
    await storage.add_subscription(NewSubscription(1, "source", "BelTA"), 2, now=NOW)
    with pytest.raises(LimitExceeded):
        await storage.add_subscription(NewSubscription(1, "keyword", "minsk"), 2, now=NOW)
    with pytest.raises(NotFound):
        await storage.add_subscription(NewSubscription(77, "keyword", "minsk"), 2, now=NOW)
    other = await storage.add_subscription(NewSubscription(2, "keyword", "minsk"), 2, now=NOW)
    with pytest.raises(NotFound):
        await storage.get_subscription(1, other.id)
    assert await storage.get_subscription(2, other.id) == other
    assert not await storage.delete_subscription(1, other.id)
    assert [s.query for s in await storage.list_subscriptions(1)] == [
        "Eurasian Integration",
        "BelTA",
    ]
    assert await storage.delete_subscription(1, sub.id)
    assert await storage.delete_all_subscriptions(1) == 1
    assert await storage.list_subscriptions(1) == []
    assert await storage.delete_all_subscriptions(1) == 0
    await storage.forget_chat(2)
    assert await storage.list_subscriptions(2) == []
    with pytest.raises(NotFound):
        await storage.get_subscription(2, other.id)


async def test_duplicate_is_checked_before_the_limit(storage: Storage) -> None:
    await storage.ensure_chat(1, "private", None, "UTC", now=NOW)
    await storage.add_subscription(NewSubscription(1, "keyword", "minsk"), 1, now=NOW)
    with pytest.raises(AlreadyExists):
        await storage.add_subscription(NewSubscription(1, "keyword", "MINSK"), 1, now=NOW)
    with pytest.raises(LimitExceeded):
        await storage.add_subscription(NewSubscription(1, "keyword", "vilnius"), 1, now=NOW)


async def test_entity_subscriptions_are_the_same_by_entity(storage: Storage) -> None:
    await storage.ensure_chat(1, "private", None, "UTC", now=NOW)
    lavrov = await storage.ensure_entity(
        EntityMention("person", "Sergei Lavrov", "person:sergei lavrov", ("lavrov",), 0, 0)
    )
    first = await storage.add_subscription(
        NewSubscription(1, "person", "Sergei Lavrov", entity_id=lavrov.id), 5, now=NOW
    )
    assert first.entity_id == lavrov.id
    with pytest.raises(AlreadyExists):  # another spelling of the same person
        await storage.add_subscription(
            NewSubscription(1, "person", "Sergey Lavrov", entity_id=lavrov.id), 5, now=NOW
        )
    # The same words as a keyword are another subscription.
    keyword = await storage.add_subscription(
        NewSubscription(1, "keyword", "Sergei Lavrov"), 5, now=NOW
    )
    assert [s.id for s in await storage.list_subscriptions(1)] == [first.id, keyword.id]
