"""The Storage protocol: everything Attaché persists, as async methods over ``storage.models``.

Nothing here knows about SQLite, SQL or Telegram: a second backend implements the same protocol
and passes the same contract suite (``tests/storage``). Times are timezone-aware UTC
``datetime`` objects everywhere.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from typing import Protocol

from storage.models import (
    AddResult,
    Article,
    Chat,
    ChatType,
    Classification,
    DigestFrequency,
    Entity,
    EntityKind,
    EntityMention,
    Feed,
    InboxItem,
    NewArticle,
    NewSubscription,
    PendingDigest,
    PercolateResult,
    PollOutcome,
    SearchPage,
    SearchQuery,
    StoreStats,
    Subscription,
)

# --------------------------------------------------------------------------- protocol


class Storage(Protocol):
    """Everything Attaché persists. Implementations are async and safe to share in one loop."""

    # lifecycle
    async def open(self) -> None: ...
    async def close(self) -> None: ...

    # articles
    async def add_articles(self, items: Sequence[NewArticle]) -> list[AddResult]:
        """Store articles in one transaction, merging duplicates (same URL, guid, text, or
        near-identical text) into the stored story while recording the new source."""
        ...

    async def get_article(self, article_id: int) -> Article:
        """Return one article; raise NotFound."""
        ...

    async def get_articles(self, article_ids: Sequence[int]) -> list[Article]:
        """Return the articles that exist, in the order asked."""
        ...

    async def search(self, query: SearchQuery) -> SearchPage: ...

    def iter_articles(self, batch_size: int = 500) -> AsyncIterator[Article]:
        """Every stored article, oldest first (for reindexing)."""
        ...

    async def count_articles(self) -> int: ...

    async def replace_enrichment(
        self,
        article_id: int,
        classification: Classification,
        entities: Sequence[EntityMention],
    ) -> None:
        """Replace an article's entities and classification (used by reindex)."""
        ...

    async def stats(self) -> StoreStats: ...

    # entities
    async def find_entities(
        self, alias_keys: Sequence[str], kind: EntityKind | None = None
    ) -> list[Entity]:
        """Entities having any of these alias keys, most-mentioned first."""
        ...

    async def get_entity(self, entity_id: int) -> Entity:
        """Return one entity; raise NotFound."""
        ...

    async def ensure_entity(self, mention: EntityMention) -> Entity:
        """Return the entity with the mention's key, creating it when new (no article needed:
        a subscription may name it first); the mention's aliases are added either way."""
        ...

    async def article_entities(self, article_id: int) -> list[Entity]:
        """The entities an article mentions, in order of first mention."""
        ...

    # chats
    async def ensure_chat(
        self, chat_id: int, chat_type: ChatType, title: str | None, default_tz: str
    ) -> Chat:
        """Return the chat, creating it with defaults if new (title refreshed if changed)."""
        ...

    async def get_chat(self, chat_id: int) -> Chat:
        """Return one chat; raise NotFound."""
        ...

    async def save_chat(self, chat: Chat) -> None:
        """Persist a chat's settings (all fields but id and created_at)."""
        ...

    async def forget_chat(self, chat_id: int) -> None:
        """Delete a chat with its subscriptions and inbox."""
        ...

    # subscriptions
    async def add_subscription(self, sub: NewSubscription, limit: int) -> Subscription:
        """Create a subscription; raise AlreadyExists or LimitExceeded."""
        ...

    async def list_subscriptions(self, chat_id: int) -> list[Subscription]: ...

    async def get_subscription(self, chat_id: int, subscription_id: int) -> Subscription:
        """Return a chat's subscription; raise NotFound (also when it is another chat's)."""
        ...

    async def delete_subscription(self, chat_id: int, subscription_id: int) -> bool: ...

    async def delete_all_subscriptions(self, chat_id: int) -> int: ...

    def all_subscriptions(self) -> AsyncIterator[Subscription]:
        """Every subscription of every chat that is not blocked (to build the match index)."""
        ...

    # inbox and digests
    async def percolate(self, limit: int = 500) -> PercolateResult:
        """Match up to ``limit`` stored, not yet matched articles against the subscriptions
        that existed when each article was stored; record the matches and mark the articles
        matched, in one transaction (a crash leaves them for the next call). The matches
        reach each chat's inbox no later than its next ``pending_inbox`` / ``pending_chats``.
        ``articles`` is 0 when nothing was waiting; see PercolateResult for ``chats``."""
        ...

    async def add_inbox(self, items: Sequence[InboxItem]) -> int:
        """Insert matches, ignoring ones already there; return how many were new."""
        ...

    async def pending_inbox(self, chat_id: int) -> list[InboxItem]:
        """The chat's undelivered items, oldest match first: one per (article, matching
        subscription), including every match recorded so far (a backend that records matches
        lazily materialises the chat's inbox rows first, in the same transaction)."""
        ...

    async def pending_digest(
        self, chat_id: int, *, diplomatic_only: bool, limit: int, in_flight: bool = False
    ) -> PendingDigest:
        """The chat's pending inbox as a digest needs it (see PendingDigest), up to date with
        every match recorded so far, as ``pending_inbox``. ``in_flight``: only the items
        marked by ``mark_sending`` and not delivered (a send a crash may have interrupted)."""
        ...

    async def prepare_inboxes(self, chat_ids: Sequence[int]) -> None:
        """Bring these chats' inboxes up to date with every match recorded so far, in one go,
        as ``pending_digest`` would for each (by each chat's stored ``only_diplomatic``): for
        a batch of due chats, before their digests are composed one by one. A backend that
        writes every chat's inbox at match time has nothing to do."""
        ...

    async def mark_delivered(
        self,
        chat_id: int,
        article_ids: Sequence[int],
        delivered_at: datetime,
        next_digest_at: datetime | None,
    ) -> None:
        """In one transaction: mark the chat's items for these articles delivered and set
        the chat's next digest time."""
        ...

    async def mark_sending(
        self, chat_id: int, article_ids: Sequence[int], at: datetime | None
    ) -> None:
        """Mark the chat's pending items for these articles as being sent (``at``), or clear
        the mark (``None``) after a send that Telegram refused."""
        ...

    async def due_chats(self, now: datetime, limit: int = 1000) -> list[Chat]:
        """Chats whose next digest time has come (not paused, not blocked)."""
        ...

    async def pending_chats(self, frequency: DigestFrequency, limit: int = 1000) -> list[Chat]:
        """Chats on ``frequency`` with undelivered inbox items (not paused, not blocked),
        for instant delivery."""
        ...

    async def mark_blocked(self, chat_id: int, at: datetime) -> None: ...

    # feeds
    async def add_feed(self, url: str, title: str | None, interval_s: int) -> Feed:
        """Create a feed; raise AlreadyExists for the same URL."""
        ...

    async def list_feeds(self) -> list[Feed]: ...

    async def get_feed(self, feed_id: int) -> Feed: ...

    async def remove_feed(self, feed_id: int) -> bool: ...

    async def due_feeds(self, now: datetime) -> list[Feed]: ...

    async def record_poll(self, outcome: PollOutcome, at: datetime) -> Feed: ...

    async def seen_guids(self, guids: Sequence[str]) -> set[str]:
        """Which of these feed entry ids are stored already."""
        ...
