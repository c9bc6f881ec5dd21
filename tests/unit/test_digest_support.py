"""Shared helpers for the digest, delivery and job tests (this module holds no tests).

Articles are real U.S. State Department press releases (public domain; see
fixtures/LICENCE-statedept.md) and the Kazinform seed.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from bot.ingest.normalize import fingerprint_and_signature
from storage.base import Storage
from storage.models import (
    Chat,
    ChatType,
    Classification,
    DigestFrequency,
    InboxItem,
    NewArticle,
    NewSubscription,
    Subscription,
    SubscriptionKind,
)
from tests.storage.peek import add_inbox

FIXTURES = Path(__file__).parents[1] / "fixtures"
STATEDEPT: list[dict[str, str]] = [
    json.loads(line)
    for line in (FIXTURES / "statedept_digest_40.jsonl").read_text(encoding="utf-8").splitlines()
]


def release(
    index: int,
    *,
    diplomatic: bool = True,
    source: str = "U.S. Department of State",
    url: str | None = None,
    title: str | None = None,
    text: str | None = None,
) -> NewArticle:
    """Press release ``index`` of the fixture as an article ready to store."""
    row = STATEDEPT[index]
    body = text if text is not None else row["text"]
    fingerprint, signature, bands = fingerprint_and_signature(body)
    return NewArticle(
        title=title if title is not None else row["title"],
        text=body,
        url=url if url is not None else row["url"],
        source=source,
        fingerprint=fingerprint,
        signature=signature,
        bands=bands,
        published_at=datetime.fromisoformat(row["published"]),
        classification=Classification(0.9 if diplomatic else 0.1, diplomatic, ("test",)),
    )


async def store_releases(
    storage: Storage, indexes: Sequence[int], *, diplomatic: bool = True
) -> list[int]:
    """Store releases; return their article ids (in the order given)."""
    results = await storage.add_articles(
        [release(i, diplomatic=diplomatic) for i in indexes], now=datetime.now(UTC)
    )
    # Match them now, while no test subscription exists yet: the tests write inbox rows
    # themselves, and the bot's matching job must find nothing left to add.
    while (await storage.percolate(500, now=datetime.now(UTC))).articles:
        pass
    return [r.article_id for r in results]


async def make_chat(
    storage: Storage,
    chat_id: int,
    *,
    chat_type: ChatType = "private",
    frequency: DigestFrequency = "daily",
    at: str = "09:00",
    tz: str = "UTC",
    next_at: datetime | None = None,
    only_diplomatic: bool = True,
) -> Chat:
    chat = await storage.ensure_chat(
        chat_id, chat_type, f"chat {chat_id}", tz, now=datetime.now(UTC)
    )
    chat = replace(
        chat,
        tz=tz,
        digest_frequency=frequency,
        digest_time=at,
        next_digest_at=next_at,
        only_diplomatic=only_diplomatic,
    )
    await storage.save_chat(chat)
    return chat


async def subscribe(
    storage: Storage, chat_id: int, kind: SubscriptionKind, query: str
) -> Subscription:
    return await storage.add_subscription(
        NewSubscription(chat_id, kind, query), 1000, now=datetime.now(UTC)
    )


async def match(
    storage: Storage, chat_id: int, subscription_id: int, article_ids: Sequence[int]
) -> None:
    now = datetime.now(UTC)
    await add_inbox(storage, [InboxItem(chat_id, a, subscription_id, now) for a in article_ids])
