"""Chat settings and subscriptions: the use-cases behind /subscribe, /digest, /timezone, /stop.

Everything takes the *target* chat id (the chat itself, or a channel a user manages from a
private chat); who may act on which chat is decided by the handlers before calling in here.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

from bot import nlp
from bot.chats.schedule import ScheduleError, next_digest_at, parse_hhmm
from bot.chats.timezones import parse_timezone
from bot.clock import Clock, utc_now
from bot.config import Settings
from bot.nlp.names import name_tokens
from bot.search.query import parse_query, visible_text
from bot.search.service import resolve_entities
from storage.base import Storage
from storage.errors import AlreadyExists, LimitExceeded, NotFound
from storage.models import (
    Chat,
    ChatType,
    DigestFrequency,
    Entity,
    EntityKind,
    EntityMention,
    NewSubscription,
    Subscription,
    SubscriptionKind,
)

MAX_QUERY_CHARS = 200
FREQUENCIES: tuple[DigestFrequency, ...] = ("off", "instant", "hourly", "daily", "weekly")
_KIND_WORDS: dict[str, SubscriptionKind] = {
    "person": "person",
    "country": "country",
    "org": "org",
    "organisation": "org",
    "organization": "org",
    "keyword": "keyword",
    "keywords": "keyword",
}
# A subscription matches new articles as they are stored, whatever the dates of its query.
DATES_IGNORED = "since: and until: do not apply to a subscription: it follows new articles"
RefusalReason = Literal["empty", "too_long", "no_words", "duplicate", "limit"]


@dataclass(frozen=True, slots=True)
class Subscribed:
    """A new subscription; ``entity`` is the person/country/org it follows, if any; ``notes``:
    what of a keyword query was read otherwise than written (as /search notes it)."""

    subscription: Subscription
    entity: Entity | None = None
    notes: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Ambiguous:
    """The name fits several entities; the user picks one (``subscribe_entity``)."""

    kind: EntityKind
    query: str
    candidates: tuple[Entity, ...]


@dataclass(frozen=True, slots=True)
class Unknown:
    """Neither the stored articles nor the gazetteers know an entity of this kind by this name
    (a bare surname is not guessed: the full name is needed)."""

    kind: EntityKind
    query: str


@dataclass(frozen=True, slots=True)
class NotSubscribed:
    """The subscription was not made; ``reason`` says why, ``detail`` adds specifics."""

    reason: RefusalReason
    detail: str = ""


SubscribeOutcome = Subscribed | Ambiguous | Unknown | NotSubscribed


def parse_subscription(text: str) -> tuple[SubscriptionKind, str]:
    """``person Lavrov`` -> ("person", "Lavrov"); plain words are a keyword query. Invisible
    format characters are dropped (see ``visible_text``): they are stored and shown back."""
    cleaned = " ".join(visible_text(text).split())
    head, _, rest = cleaned.partition(" ")
    kind = _KIND_WORDS.get(head.lower().rstrip(":"))
    if kind is not None and rest:
        return kind, rest
    return "keyword", cleaned


class Chats:
    """Chat settings and subscriptions over a Storage."""

    def __init__(
        self,
        storage: Storage,
        settings: Settings,
        clock: Clock = utc_now,
    ) -> None:
        self.storage = storage
        self.settings = settings
        self.clock = clock

    # ------------------------------------------------------------------ chats

    async def ensure(self, chat_id: int, chat_type: ChatType, title: str | None) -> Chat:
        """The chat's row, created with the defaults (and a scheduled digest) when new."""
        chat = await self.storage.ensure_chat(
            chat_id, chat_type, title, self.settings.default_timezone, now=self.clock()
        )
        if chat.next_digest_at is None and chat.digest_frequency not in ("off", "instant"):
            chat = await self._save(chat)
        return chat

    async def get(self, chat_id: int) -> Chat:
        """Return the chat; raise NotFound (for a chat the caller registered with ``ensure``)."""
        return await self.storage.get_chat(chat_id)

    async def find(self, chat_id: int) -> Chat | None:
        """The chat, or None when it never used the bot (or asked to be forgotten)."""
        try:
            return await self.storage.get_chat(chat_id)
        except NotFound:
            return None

    async def mark_blocked(self, chat_id: int) -> None:
        """The chat blocked the bot or is gone: stop its digests."""
        await self.storage.mark_blocked(chat_id, self.clock())

    async def forget(self, chat_id: int) -> None:
        """Delete the chat with its subscriptions, inbox and settings."""
        await self.storage.forget_chat(chat_id)

    async def _save(self, chat: Chat) -> Chat:
        """Recompute the next digest time from now, then persist."""
        upcoming = None
        if not chat.paused:
            upcoming = next_digest_at(
                chat.digest_frequency,
                chat.digest_time,
                chat.digest_weekday,
                chat.tz,
                self.clock(),
            )
        chat = replace(chat, next_digest_at=upcoming)
        await self.storage.save_chat(chat)
        return chat

    async def update_digest(
        self,
        chat_id: int,
        *,
        frequency: DigestFrequency | None = None,
        at: str | None = None,
        weekday: int | None = None,
        only_diplomatic: bool | None = None,
        paused: bool | None = None,
    ) -> Chat:
        """Change digest settings; the next delivery time follows. Raise ScheduleError."""
        chat = await self.storage.get_chat(chat_id)
        if frequency is not None:
            if frequency not in FREQUENCIES:
                raise ScheduleError("frequency is one of " + ", ".join(FREQUENCIES))
            chat = replace(chat, digest_frequency=frequency)
        if at is not None:
            chat = replace(chat, digest_time=parse_hhmm(at))
        if weekday is not None:
            if not 0 <= weekday <= 6:
                raise ScheduleError("weekday is 0 (Monday) to 6 (Sunday)")
            chat = replace(chat, digest_weekday=weekday)
        if only_diplomatic is not None:
            chat = replace(chat, only_diplomatic=only_diplomatic)
        if paused is not None:
            chat = replace(chat, paused=paused)
        return await self._save(chat)

    async def set_timezone(self, chat_id: int, text: str) -> Chat:
        """Set the chat's zone from user text; raise TimezoneError (with examples)."""
        zone = parse_timezone(text)
        chat = await self.storage.get_chat(chat_id)
        return await self._save(replace(chat, tz=zone))

    # ------------------------------------------------------------------ subscriptions

    async def subscribe(self, chat_id: int, text: str) -> SubscribeOutcome:
        """Subscribe to ``[person|country|org|keyword] WHAT``; entity names are resolved."""
        kind, query = parse_subscription(text)
        if not query:
            return NotSubscribed("empty")
        if len(query) > MAX_QUERY_CHARS:
            return NotSubscribed("too_long", str(MAX_QUERY_CHARS))
        if kind == "keyword" or kind == "source":
            # Parsed exactly as /search parses it, so matching follows /search semantics.
            parsed = parse_query(query)
            if parsed.text is None:
                return NotSubscribed("no_words")
            outcome = await self._add(NewSubscription(chat_id, kind, query, text=parsed.text), None)
            if isinstance(outcome, Subscribed):
                notes = list(parsed.warnings)
                if parsed.since or parsed.until:
                    notes.append(DATES_IGNORED)
                outcome = replace(outcome, notes=tuple(notes))
            return outcome
        candidates = await self._candidates(query, kind)
        if not candidates:
            return Unknown(kind, query)
        if len(candidates) > 1:
            return Ambiguous(kind, query, candidates)
        return await self._add_entity(chat_id, candidates[0])

    async def subscribe_entity(self, chat_id: int, entity_id: int) -> SubscribeOutcome | None:
        """Subscribe to an entity picked from the candidates; None if it is gone."""
        try:
            entity = await self.storage.get_entity(entity_id)
        except NotFound:
            return None
        return await self._add_entity(chat_id, entity)

    async def _candidates(self, query: str, kind: EntityKind) -> tuple[Entity, ...]:
        """Stored entities with this name, joined by the ones the gazetteers know under it.

        People subscribe before the news arrives, so an entity no article has named yet is
        created from the gazetteers (with the identity an article will give it). A stored
        match found only through a looser key does not hide what the gazetteers know: a bare
        "Lavrov" matching only a stored Andrei Lavrov also offers Sergey Lavrov (the user
        picks), and "Sergei Lavrov" is never taken for Andrei Lavrov.
        """
        stored = await resolve_entities(self.storage, query, kind)
        stored_keys = {entity.key for entity in stored}
        known = [e for e in nlp.known_entities(query, kind) if e.key not in stored_keys]
        if not known:
            return stored
        tokens = name_tokens(query)
        if kind == "person" and len(tokens) >= 2:
            full = " ".join(tokens)
            stored = tuple(e for e in stored if full in e.aliases)
        created = [
            await self.storage.ensure_entity(
                EntityMention(e.kind, e.canonical, e.key, e.aliases, e.mentions, e.first_offset)
            )
            for e in known
        ]
        return (*stored, *created)

    async def _add_entity(self, chat_id: int, entity: Entity) -> SubscribeOutcome:
        sub = NewSubscription(chat_id, entity.kind, entity.canonical, entity.id)
        return await self._add(sub, entity)

    async def _add(self, sub: NewSubscription, entity: Entity | None) -> SubscribeOutcome:
        try:
            stored = await self.storage.add_subscription(
                sub, self.settings.max_subscriptions_per_chat, now=self.clock()
            )
        except AlreadyExists:
            return NotSubscribed("duplicate", sub.query)
        except LimitExceeded:
            return NotSubscribed("limit", str(self.settings.max_subscriptions_per_chat))
        return Subscribed(stored, entity)

    async def subscriptions(self, chat_id: int) -> list[Subscription]:
        return await self.storage.list_subscriptions(chat_id)

    async def unsubscribe(self, chat_id: int, subscription_id: int) -> Subscription | None:
        """Remove one of *this chat's* subscriptions; None if it has no such subscription."""
        try:
            sub = await self.storage.get_subscription(chat_id, subscription_id)
        except NotFound:
            return None
        await self.storage.delete_subscription(chat_id, subscription_id)
        return sub

    async def unsubscribe_all(self, chat_id: int) -> int:
        return await self.storage.delete_all_subscriptions(chat_id)
