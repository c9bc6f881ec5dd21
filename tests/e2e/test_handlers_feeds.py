"""Feed admin commands end to end: the real app polls the local Bot API server, and the feeds it
is asked to add are served by a real feed server on 127.0.0.1 (FETCH_ALLOW_PRIVATE is on in the
test settings). Covers /addfeed (title learned, interval, refused and broken URLs), /feeds (in the
chat's time zone), /removefeed with its confirmation buttons, and refusal for non-admins."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.feeds.service import Feeds
from bot.render import feed_card, feeds_page
from bot.runtime.commands import BY_NAME
from bot.sandbox import BotApiServer, MessageEntity
from handlers.common import ADMINS_ONLY
from storage.models import Feed
from tests.conftest import ADMIN_ID, Bot, start_bot, stop_bot
from tests.feedserver import FeedServer

STATE_TITLE = "U.S. Department of State: Press Releases"
WIKINEWS_TITLE = "Wikinews, the free news source"


@pytest.fixture
async def feeds() -> AsyncIterator[FeedServer]:
    async with FeedServer() as server:
        server.feed("/rss", "statedept_rss20.xml")
        server.feed("/atom", "wikinews_atom.xml")
        server.feed("/not-a-feed", "hostile_not_a_feed.html")
        server.fail("/gone", 404)
        yield server


def feeds_of(bot: Bot) -> Feeds:
    return bot.app.bot_data.feeds


async def test_admin_adds_lists_and_removes_a_feed(bot: Bot, feeds: FeedServer) -> None:
    added = await bot.ask(bot.admin_chat, bot.admin, f"/addfeed {feeds.url('/rss')} 15")
    assert added.text.startswith("Feed added")
    assert f"#1 {STATE_TITLE}" in added.text
    assert "Every 15 min · enabled" in added.text
    assert "Next poll: due now" in added.text  # the first real poll stores the entries
    stored = await feeds_of(bot).list()
    assert [(f.url, f.title, f.interval_s) for f in stored] == [
        (feeds.url("/rss"), STATE_TITLE, 900)
    ]

    await bot.ask(bot.admin_chat, bot.admin, f"/addfeed {feeds.url('/atom')}")
    listing = await bot.ask(bot.admin_chat, bot.admin, "/feeds")
    assert listing.text.startswith("Feeds · 2 feeds · times in UTC")
    assert f"#1 {STATE_TITLE}" in listing.text and f"#2 {WIKINEWS_TITLE}" in listing.text
    assert "Every 10 min" in listing.text  # the default interval
    assert listing.text.count("Last success: ") == 2 and "never" not in listing.text

    again = await bot.ask(bot.admin_chat, bot.admin, f"/addfeed {feeds.url('/rss')}")
    assert again.text.startswith("That feed is already polled") and "#1 " in again.text
    assert feeds.hits("/rss") == 1  # a known feed is not fetched again

    ask = await bot.ask(bot.admin_chat, bot.admin, "/removefeed 1")
    assert ask.text.startswith("Remove this feed?") and STATE_TITLE in ask.text
    assert [b.text for b in ask.flat_buttons] == ["Remove", "Keep"]
    # A second prompt for the same feed, still open when the first is confirmed.
    second = await bot.ask(bot.admin_chat, bot.admin, "/removefeed 1")
    await bot.press(ask, ask.button("Remove").callback_data or "", bot.admin)
    done = await bot.server.wait_for_edit(bot.admin_chat.id, ask.message_id)
    assert done.text == f"Removed feed #1 ({STATE_TITLE}). Its stored articles stay."
    assert not done.flat_buttons
    assert [f.id for f in await feeds_of(bot).list()] == [2]

    await bot.press(second, second.button("Remove").callback_data or "", bot.admin)
    stale = await bot.server.wait_for_edit(bot.admin_chat.id, second.message_id)
    assert stale.text == "Feed #1 was already removed."
    assert [f.id for f in await feeds_of(bot).list()] == [2]


async def test_keep_button_keeps_the_feed(bot: Bot, feeds: FeedServer) -> None:
    await bot.ask(bot.admin_chat, bot.admin, f"/addfeed {feeds.url('/atom')}")
    ask = await bot.ask(bot.admin_chat, bot.admin, "/removefeed #1")
    await bot.press(ask, ask.button("Keep").callback_data or "", bot.admin)
    kept = await bot.server.wait_for_edit(bot.admin_chat.id, ask.message_id)
    assert kept.text == "Feed #1 kept."
    assert len(await feeds_of(bot).list()) == 1
    missing = await bot.ask(bot.admin_chat, bot.admin, "/removefeed 42")
    assert "There is no feed #42" in missing.text
    usage = await bot.ask(bot.admin_chat, bot.admin, "/removefeed first")
    assert usage.text.startswith("Usage: /removefeed ID")


async def test_feeds_are_shown_in_the_admin_chat_time_zone(bot: Bot, feeds: FeedServer) -> None:
    await bot.ask(bot.admin_chat, bot.admin, "/timezone Europe/Minsk")
    await bot.ask(bot.admin_chat, bot.admin, f"/addfeed {feeds.url('/rss')}")
    (feed,) = await feeds_of(bot).list()
    assert feed.last_success_at is not None
    listing = await bot.ask(bot.admin_chat, bot.admin, "/feeds")
    assert "times in Europe/Minsk" in listing.text
    minsk = feed.last_success_at.astimezone(ZoneInfo("Europe/Minsk"))
    assert f"Last success: {minsk:%d %b %Y, %H:%M}" in listing.text


async def test_non_admins_are_refused_like_other_admin_commands(
    bot: Bot, feeds: FeedServer
) -> None:
    stats = await bot.ask(bot.alice_chat, bot.alice, "/stats")
    for command in (f"/addfeed {feeds.url('/rss')}", "/feeds", "/removefeed 1"):
        refused = await bot.ask(bot.alice_chat, bot.alice, command)
        assert refused.text == stats.text == ADMINS_ONLY
    assert feeds.hits("/rss") == 0 and await feeds_of(bot).list() == []

    # A removal keyboard shown to an admin cannot be used by anyone else.
    await bot.ask(bot.admin_chat, bot.admin, f"/addfeed {feeds.url('/atom')}")
    ask = await bot.ask(bot.admin_chat, bot.admin, "/removefeed 1")
    query_id = await bot.server.press_button(ask, "fr:y:1", bot.alice)
    answer = await bot.server.wait_for_callback_answer(query_id)
    assert answer.show_alert and answer.text == ADMINS_ONLY
    assert len(await feeds_of(bot).list()) == 1


async def test_a_forwarded_admin_command_does_not_act_for_its_forwarder(
    bot: Bot, feeds: FeedServer
) -> None:
    await bot.ask(bot.admin_chat, bot.admin, f"/addfeed {feeds.url('/atom')}")
    command = "/removefeed 1"
    await bot.server.send_forward(
        bot.alice_chat,
        bot.alice,
        command,
        origin=bot.admin,
        entities=[MessageEntity("bot_command", 0, len("/removefeed"))],
    )
    refused = await bot.server.wait_for_message(bot.alice_chat.id)
    assert refused.text == ADMINS_ONLY and not refused.flat_buttons
    assert len(await feeds_of(bot).list()) == 1


async def test_broken_and_refused_urls_get_clear_messages(bot: Bot, feeds: FeedServer) -> None:
    not_feed = await bot.ask(bot.admin_chat, bot.admin, f"/addfeed {feeds.url('/not-a-feed')}")
    assert not_feed.text.startswith("Not added: ")
    assert "not a readable feed" in not_feed.text and "no entries" in not_feed.text
    assert "RSS, Atom or JSON Feed" in not_feed.text

    gone = await bot.ask(bot.admin_chat, bot.admin, f"/addfeed {feeds.url('/gone')}")
    assert "the server answered 404" in gone.text

    scheme = await bot.ask(bot.admin_chat, bot.admin, "/addfeed ftp://example.org/feed.xml")
    assert "must start with http:// or https://" in scheme.text and "Usage:" in scheme.text

    interval = await bot.ask(bot.admin_chat, bot.admin, f"/addfeed {feeds.url('/rss')} 0")
    assert "from 1 to 10080 minutes" in interval.text
    usage = await bot.ask(bot.admin_chat, bot.admin, "/addfeed")
    assert usage.text.startswith("Give the feed's URL.\nUsage: /addfeed URL [minutes]")
    assert await feeds_of(bot).list() == []


async def test_private_addresses_are_refused_without_fetch_allow_private(
    tmp_path: Path, sandbox: BotApiServer, feeds: FeedServer
) -> None:
    app, _services, _settings, _seed = await start_bot(tmp_path, sandbox, fetch_allow_private=False)
    try:
        admin = sandbox.create_user("Ada", username="ada_admin", user_id=ADMIN_ID)
        chat = sandbox.private_chat(admin)
        await sandbox.send_text(chat, admin, f"/addfeed {feeds.url('/rss')}")
        refused = await sandbox.wait_for_message(chat.id)
        assert "refusing to fetch" in refused.text and "loopback" in refused.text
        assert feeds.hits("/rss") == 0
    finally:
        await stop_bot(app)


def test_feed_card_of_a_disabled_feed_shows_why_and_escapes() -> None:
    failed_at = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
    feed = Feed(
        id=7,
        url="http://127.0.0.1/rss?a=1&b=<2>",
        title="Ministry <Press> & Releases",
        etag=None,
        last_modified=None,
        interval_s=600,
        next_poll_at=failed_at + timedelta(hours=24),
        failures=20,
        last_error="the server answered 500 Internal Server Error for http://127.0.0.1/rss",
        last_success_at=None,
        enabled=False,
    )
    card = feed_card(feed, "Europe/Minsk", now=failed_at)
    assert card.startswith("<b>#7 Ministry &lt;Press&gt; &amp; Releases</b>")
    assert "a=1&amp;b=&lt;2&gt;" in card
    assert "<b>disabled</b>" in card and "Next poll" not in card
    assert "Last success: never" in card and "Failures in a row: 20" in card
    assert "Last error: the server answered 500" in card
    enabled = feeds_page([replace(feed, enabled=True, failures=0, last_error=None)], "Asia/Tokyo")
    assert "times in Asia/Tokyo" in enabled and "Next poll: 02 Mar 2025, 21:00" in enabled


def test_feed_commands_are_registered_as_admin_only() -> None:
    assert all(BY_NAME[name].admin_only for name in ("addfeed", "feeds", "removefeed"))
