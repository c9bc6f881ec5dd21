"""Acceptance: a subscriber to ``person Lavrov`` with a daily digest at 09:00 Europe/Minsk gets,
at that time, one digest holding the seed article after a feed on 127.0.0.1 published it; a
second run sends nothing new.

Everything is real: the PTB application polling the local Bot API server, a fresh SQLite file
(nothing stored before the user subscribes), a feed and its article page served on 127.0.0.1,
and the app's own job callbacks. Only time is controlled: the services' clock is set by the
test, so the hours between polling and the digest pass without sleeping.
"""

from __future__ import annotations

import email.utils
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot.app import ALLOWED_UPDATES, AttacheApp, build_application
from bot.config import Settings
from bot.factory import make_storage
from bot.runtime.context import AttacheContext
from bot.sandbox import BotApiServer, SandboxChat, SandboxMessage, SandboxUser
from bot.services import Services
from storage.base import Storage
from tests.conftest import ADMIN_ID, FIXTURES, make_settings, stop_bot
from tests.storage.peek import pending_inbox
from tests.webserver import LocalWebServer

SEED_TITLE = "Eurasian integration named one of priorities of Russia, Belarus"
SEED_PAGE = (FIXTURES / "kazinform_article.html").read_bytes()
SEED_SUMMARY = (
    "The development of Eurasian integration is one of the priorities of Russia and Belarus, "
    "Russian Foreign Minister Sergei Lavrov said."
)
PUBLISHED = datetime(2019, 10, 30, 8, 25, tzinfo=UTC)
# The story's day, 13:00 in Minsk: the next 09:00 in Minsk (UTC+3) is 06:00 UTC tomorrow.
START = datetime(2019, 10, 30, 10, 0, tzinfo=UTC)
DIGEST_AT = datetime(2019, 10, 31, 6, 0, tzinfo=UTC)

JobCallback = Callable[[AttacheContext], Awaitable[object]]


class ClockedServices(Services):
    """The application's services with a clock the test sets (chats, feeds and digests read
    time through ``Services.clock``)."""

    def __init__(self, storage: Storage, settings: Settings, start: datetime) -> None:
        super().__init__(storage, settings, clock=lambda: self.moment)
        self.moment = start


@dataclass
class EmptyBot:
    """The running bot on an empty database, its Telegram world and its job callbacks."""

    server: BotApiServer
    app: AttacheApp
    services: ClockedServices
    alice: SandboxUser
    admin: SandboxUser
    jobs: dict[str, JobCallback]

    @property
    def alice_chat(self) -> SandboxChat:
        return self.server.private_chat(self.alice)

    @property
    def admin_chat(self) -> SandboxChat:
        return self.server.private_chat(self.admin)

    async def ask(self, chat: SandboxChat, user: SandboxUser, text: str) -> SandboxMessage:
        """Send ``text`` as ``user`` and return the bot's next message in that chat."""
        await self.server.send_text(chat, user, text)
        return await self.server.wait_for_message(chat.id, timeout=5.0)

    async def run_job(self, name: str) -> None:
        """Run one of the app's repeating jobs (as its timer would) at the services' time."""
        await self.jobs[name](AttacheContext(self.app))


@asynccontextmanager
async def empty_bot(
    tmp_path: Path, server: BotApiServer, start: datetime = START
) -> AsyncIterator[EmptyBot]:
    """Start the real application without storing anything first (unlike conftest's ``bot``).

    The repeating jobs ``schedule_jobs`` registered are taken off the timer before the app
    starts, and kept by name, so the test runs each at the moment it chooses."""
    settings = make_settings(tmp_path, server)
    services = ClockedServices(make_storage(settings), settings, start)
    app = build_application(settings, services)
    await app.initialize()
    assert app.post_init is not None
    await app.post_init(app)  # opens storage, binds the feed poller, schedules the jobs
    queue = app.job_queue
    assert queue is not None
    jobs: dict[str, JobCallback] = {}
    for job in queue.jobs():
        assert job.name is not None
        jobs[job.name] = job.callback
        job.schedule_removal()
    await app.start()
    assert app.updater is not None
    await app.updater.start_polling(poll_interval=0, timeout=5, allowed_updates=ALLOWED_UPDATES)
    harness = EmptyBot(
        server=server,
        app=app,
        services=services,
        alice=server.create_user("Alice", username="alice"),
        admin=server.create_user("Ada", username="ada_admin", user_id=ADMIN_ID),
        jobs=jobs,
    )
    try:
        yield harness
    finally:
        await stop_bot(app)


def seed_feed(base_url: str) -> str:
    """An RSS 2.0 feed whose one item is the seed story: a summary and a link to its page."""
    return f"""<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0">
  <channel>
    <title>Kazinform</title>
    <link>{base_url}/en</link>
    <description>Kazinform International News Agency</description>
    <item>
      <title>{SEED_TITLE}</title>
      <link>{base_url}/en/eurasian-integration</link>
      <guid isPermaLink="false">kazinform-2964551</guid>
      <pubDate>{email.utils.format_datetime(PUBLISHED)}</pubDate>
      <description>{SEED_SUMMARY}</description>
    </item>
  </channel>
</rss>
"""


def sent_to(bot: EmptyBot, chat_id: int) -> list[SandboxMessage]:
    """Every message the bot sent to the chat (edits not counted)."""
    return [
        event.message
        for event in bot.server.sent_log
        if event.chat_id == chat_id and event.method == "sendMessage"
    ]


def digests_to(bot: EmptyBot, chat_id: int) -> list[SandboxMessage]:
    """The messages sent to the chat that are digests."""
    return [m for m in sent_to(bot, chat_id) if m.text.startswith("Your digest")]


async def test_lavrov_subscriber_gets_one_digest_at_nine_in_minsk(
    tmp_path: Path, sandbox: BotApiServer
) -> None:
    async with LocalWebServer() as web, empty_bot(tmp_path, sandbox) as bot:
        storage = bot.services.storage
        assert (await storage.stats()).articles == 0
        chat = bot.alice_chat

        # The user sets everything up before any news is stored.
        zone = await bot.ask(chat, bot.alice, "/timezone Europe/Minsk")
        assert "Europe/Minsk" in zone.text
        subscribed = await bot.ask(chat, bot.alice, "/subscribe person Lavrov")
        assert "Subscribed #" in subscribed.text and "Sergey Lavrov" in subscribed.text
        daily = await bot.ask(chat, bot.alice, "/digest daily")
        assert "daily at" in daily.text
        nine = await bot.ask(chat, bot.alice, "/digest time 09:00")
        assert "daily at 09:00" in nine.text
        settings = await storage.get_chat(chat.id)
        assert settings.next_digest_at == DIGEST_AT

        # An admin adds the feed; the feed job then stores the story it publishes.
        web.page("/en/rss.xml", seed_feed(web.base_url), content_type="application/rss+xml")
        web.page("/en/eurasian-integration", SEED_PAGE)
        added = await bot.ask(bot.admin_chat, bot.admin, f"/addfeed {web.url('/en/rss.xml')}")
        assert added.text.startswith("Feed added"), added.text
        bot.services.moment = START + timedelta(minutes=1)
        await bot.run_job("feeds")
        assert web.hits("/en/eurasian-integration") == 1  # the summary's page was fetched
        assert (await storage.stats()).articles == 1
        (lavrov,) = await storage.find_entities(["lavrov"], "person")
        assert lavrov.canonical == "Sergey Lavrov" and lavrov.articles == 1
        (sub,) = await storage.list_subscriptions(chat.id)
        assert sub.entity_id == lavrov.id
        await bot.run_job("percolate")  # nothing left to match: storing matched it already
        assert len(await pending_inbox(storage, chat.id)) == 1

        # 08:59 in Minsk: not yet.
        bot.services.moment = DIGEST_AT - timedelta(minutes=1)
        await bot.run_job("digests")
        assert digests_to(bot, chat.id) == []

        # 09:00 in Minsk: one digest, the story under the person's heading.
        bot.services.moment = DIGEST_AT
        await bot.run_job("digests")
        (digest,) = digests_to(bot, chat.id)
        assert digest.text.startswith("Your digest · 1 new article\n"), digest.text
        assert "Sergey Lavrov · 1" in digest.text
        assert digest.text.index("Sergey Lavrov · 1") < digest.text.index(SEED_TITLE)
        assert digest.has_entity("text_link")
        assert await pending_inbox(storage, chat.id) == []
        assert (await storage.get_chat(chat.id)).next_digest_at == DIGEST_AT + timedelta(days=1)
        sent = len(sent_to(bot, chat.id))

        # The same tick again, the feed polled again, and the next day's 09:00: nothing new.
        await bot.run_job("digests")
        bot.services.moment = DIGEST_AT + timedelta(hours=1)
        await bot.run_job("feeds")
        assert (await storage.stats()).articles == 1
        bot.services.moment = DIGEST_AT + timedelta(days=1)
        await bot.run_job("digests")
        assert len(sent_to(bot, chat.id)) == sent  # no digest, and no other message either
        assert (await storage.get_chat(chat.id)).next_digest_at == DIGEST_AT + timedelta(days=2)
