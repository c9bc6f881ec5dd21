"""Typed PTB context: everything handlers need lives in one ``BotData`` object.

PTB creates ``BotData`` without arguments; ``bot.app`` binds the services and digests to it
once, right after building the application.
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
from bot.feeds.service import Feeds
from bot.runtime.throttle import Throttle
from bot.services import Services


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
    """Application-wide state. PTB creates it without arguments; ``bot.app`` binds it once."""

    def __init__(self) -> None:
        self._services: Services | None = None
        self._digests: Digests | None = None
        self.search_throttle = Throttle(limit=10, window=60.0)
        self.queries = QueryCache()
        self.admins = TTLCache(ttl=60.0)
        # user id -> the channel their subscription and digest commands act on
        self.channel_targets: dict[int, ChannelTarget] = {}

    def bind(self, services: Services, digests: Digests) -> None:
        """Attach the use-cases and the digests (whose sender is the app's bot); once."""
        if self._services is not None:
            raise RuntimeError("BotData is bound already")
        self._services = services
        self._digests = digests

    @property
    def services(self) -> Services:
        if self._services is None:
            raise RuntimeError("BotData is not bound: build the app with bot.app.build_application")
        return self._services

    @property
    def digests(self) -> Digests:
        """Digests shared by the JobQueue ticks, ``/digest now`` and ``/more``: one pacer for
        Telegram's limits and one lock per chat."""
        if self._digests is None:
            raise RuntimeError("BotData is not bound: build the app with bot.app.build_application")
        return self._digests

    @property
    def settings(self) -> Settings:
        return self.services.settings

    @property
    def chats(self) -> Chats:
        return self.services.chats

    @property
    def feeds(self) -> Feeds:
        return self.services.feeds


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
