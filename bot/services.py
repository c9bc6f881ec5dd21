"""The application's use-cases, built once over one storage, one HTTP client and one clock.

``Services`` is what the composition roots (``bot.app``, the CLI, the console) build and what
handlers reach through ``context.bot_data.services``: ``ingest``, ``search``, ``chats`` and
``feeds`` are the use-cases; nothing here talks to Telegram (digests need a sender, so the
Telegram runtime builds them beside this). ``open`` opens storage; ``close`` closes the HTTP
client and storage, whichever of them was opened.
"""

from __future__ import annotations

import httpx

from bot.chats.service import Chats
from bot.clock import Clock, utc_now
from bot.config import Settings
from bot.feeds.poll import FeedPoller
from bot.feeds.service import Feeds
from bot.ingest.guard import make_client
from bot.ingest.service import Ingest
from bot.search.service import Search
from storage.base import Storage


class Services:
    """Every use-case of the application over shared long-lived parts."""

    def __init__(
        self,
        storage: Storage,
        settings: Settings,
        *,
        clock: Clock = utc_now,
        http: httpx.AsyncClient | None = None,
    ) -> None:
        self.storage = storage
        self.settings = settings
        self.clock = clock
        # The SSRF-guarded client pins vetted addresses against DNS rebinding; one is shared by
        # article fetching and feed polling. Tests pass a ``make_client`` client whose network
        # reaches only 127.0.0.1; it is closed with the services either way.
        self.http = (
            http if http is not None else make_client(allow_private=settings.fetch_allow_private)
        )
        self.ingest = Ingest(storage, self.http, settings, clock)
        self.search = Search(storage)
        self.chats = Chats(storage, settings, clock=clock)
        self.poller = FeedPoller(
            storage,
            self.http,
            self.ingest.store,
            clock=clock,
            allow_private=settings.fetch_allow_private,
        )
        self.feeds = Feeds(storage, self.poller, clock)

    async def open(self) -> None:
        await self.storage.open()

    async def close(self) -> None:
        await self.http.aclose()
        await self.storage.close()
