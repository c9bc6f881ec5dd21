"""Typed PTB context: everything handlers need lives in one ``BotData`` object.

PTB creates ``BotData`` without arguments; ``bot/app.py`` binds settings and services to it.
The small in-memory stores here (search queries behind paging buttons, administrator checks,
channel selections) are bounded and may be lost on restart without harm.
"""

from __future__ import annotations

import secrets
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from telegram.ext import CallbackContext, ContextTypes, ExtBot

from bot.chats.service import Chats
from bot.config import Settings
from bot.digests.service import Digests
from bot.feeds.service import FeedPoller
from bot.runtime.throttle import Throttle
from bot.services import IngestOutcome, Services


class QueryCache:
    """Search queries kept server-side so paging buttons carry only a short token.

    Bounded per chat and in the number of chats; a token is only valid in the chat it was made
    in, so a button cannot replay another chat's query.
    """

    def __init__(self, per_chat: int = 32, max_chats: int = 5000) -> None:
        self._per_chat = per_chat
        self._max_chats = max_chats
        self._chats: OrderedDict[int, OrderedDict[str, str]] = OrderedDict()

    def put(self, chat_id: int, query: str) -> str:
        entries = self._chats.pop(chat_id, None) or OrderedDict()
        self._chats[chat_id] = entries
        while len(self._chats) > self._max_chats:
            self._chats.popitem(last=False)
        token = secrets.token_urlsafe(6)
        entries[token] = query
        while len(entries) > self._per_chat:
            entries.popitem(last=False)
        return token

    def get(self, chat_id: int, token: str) -> str | None:
        entries = self._chats.get(chat_id)
        return None if entries is None else entries.get(token)


class TTLCache:
    """A small bounded cache of booleans that expire (administrator checks)."""

    def __init__(
        self, ttl: float = 60.0, size: int = 10_000, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._ttl = ttl
        self._size = size
        self._clock = clock
        self._items: OrderedDict[tuple[int, int], tuple[float, bool]] = OrderedDict()

    def get(self, key: tuple[int, int]) -> bool | None:
        item = self._items.get(key)
        if item is None or item[0] <= self._clock():
            return None
        return item[1]

    def put(self, key: tuple[int, int], value: bool) -> None:
        self._items.pop(key, None)
        self._items[key] = (self._clock() + self._ttl, value)
        while len(self._items) > self._size:
            self._items.popitem(last=False)


@dataclass(frozen=True, slots=True)
class ChannelTarget:
    """A channel a user manages from their private chat (``/channel @name``)."""

    chat_id: int
    title: str


class BotData:
    """Application-wide state. PTB creates it without arguments; ``bot/app.py`` binds it."""

    def __init__(self) -> None:
        self._settings: Settings | None = None
        self._services: Services | None = None
        self._chats: Chats | None = None
        self._feeds: FeedPoller[IngestOutcome] | None = None
        self.search_throttle = Throttle(limit=10, window=60.0)
        self.queries = QueryCache()
        self.admins = TTLCache(ttl=60.0)
        # user id -> the channel their subscription and digest commands act on
        self.channel_targets: dict[int, ChannelTarget] = {}
        # Set in post_init by bot.runtime.jobs.schedule_jobs: the JobQueue ticks and /digest now,
        # /more share it, hence one pacer for Telegram's limits and one lock per chat.
        self.digests: Digests | None = None

    def bind(self, settings: Settings, services: Services) -> None:
        self._settings = settings
        self._services = services
        self._chats = Chats(services.storage, settings, clock=services.now)

    def bind_feeds(self, feeds: FeedPoller[IngestOutcome]) -> None:
        """Set the app's one feed poller (built once the services' HTTP client is open)."""
        self._feeds = feeds

    def _unbound(self) -> RuntimeError:
        return RuntimeError("BotData is not bound: build the app with bot.app.build_application")

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            raise self._unbound()
        return self._settings

    @property
    def services(self) -> Services:
        if self._services is None:
            raise self._unbound()
        return self._services

    @property
    def chats(self) -> Chats:
        if self._chats is None:
            raise self._unbound()
        return self._chats

    @property
    def feeds(self) -> FeedPoller[IngestOutcome]:
        """The feed poller shared by the admin commands and the polling job."""
        if self._feeds is None:
            raise RuntimeError("BotData.feeds is not bound: the app's post_init binds it")
        return self._feeds


@dataclass
class ChatData:
    """Per-chat state kept in memory (nothing here must survive a restart)."""


@dataclass
class UserData:
    """Per-user state kept in memory (nothing here must survive a restart)."""


class AttacheContext(CallbackContext[ExtBot[None], UserData, ChatData, BotData]):
    """The context every handler receives: ``context.bot_data`` is a typed ``BotData``."""


CONTEXT_TYPES = ContextTypes(
    context=AttacheContext, bot_data=BotData, chat_data=ChatData, user_data=UserData
)
