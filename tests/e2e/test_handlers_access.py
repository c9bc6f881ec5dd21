"""End to end: admin commands, ingestion through Telegram, groups, channels, access control."""

from __future__ import annotations

from pathlib import Path

from bot.sandbox import BotApiServer
from tests.conftest import ALLOWED_ID, FIXTURES, SEED_TEXT, Bot, start_bot, stop_bot

STATEDEPT = (FIXTURES / "statedept_thailand_dialogue.txt").read_text(encoding="utf-8")


async def test_stats_is_for_admins_only(bot: Bot) -> None:
    refused = await bot.ask(bot.alice_chat, bot.alice, "/stats")
    assert "for the bot's administrators" in refused.text
    stats = await bot.ask(bot.admin_chat, bot.admin, "/stats")
    assert "Articles: 1" in stats.text


async def test_ingest_command_is_admin_only_and_stores_a_replied_message(bot: Bot) -> None:
    refused = await bot.ask(bot.alice_chat, bot.alice, "/ingest http://127.0.0.1:9/x")
    assert "for the bot's administrators" in refused.text
    usage = await bot.ask(bot.admin_chat, bot.admin, "/ingest")
    assert "Usage" in usage.text
    not_url = await bot.ask(bot.admin_chat, bot.admin, "/ingest ftp://example.org/x")
    assert "http(s) URL" in not_url.text
    # pasting stores it; replying /ingest to the pasted message finds the same story
    pasted = await bot.server.send_text(bot.admin_chat, bot.admin, STATEDEPT)
    stored = await bot.server.wait_for_message(bot.admin_chat.id)
    assert stored.text.startswith("Stored #") and "Diplomatic score" in stored.text
    article_id = int(stored.text.removeprefix("Stored #").split(":")[0])
    await bot.server.send_text(bot.admin_chat, bot.admin, "/ingest", reply_to=pasted)
    again = await bot.server.wait_for_message(bot.admin_chat.id)
    assert f"Already stored (same story as #{article_id})" in again.text


async def test_forwarded_article_is_ingested_for_admins_only(bot: Bot) -> None:
    await bot.server.send_forward(bot.alice_chat, bot.alice, STATEDEPT, origin="Wire desk")
    refused = await bot.server.wait_for_message(bot.alice_chat.id)
    assert "Only the bot's administrators" in refused.text
    assert (await bot.services.search.stats()).articles == 1
    await bot.server.send_forward(bot.admin_chat, bot.admin, STATEDEPT, origin="Wire desk")
    stored = await bot.server.wait_for_message(bot.admin_chat.id)
    assert stored.text.startswith("Stored #") and "Diplomatic score" in stored.text
    assert (await bot.services.search.stats()).articles == 2
    await bot.server.send_forward(bot.admin_chat, bot.admin, SEED_TEXT)
    duplicate = await bot.server.wait_for_message(bot.admin_chat.id)
    assert f"Already stored (same story as #{bot.seed_id})" in duplicate.text


async def test_group_settings_need_a_group_admin(bot: Bot) -> None:
    boss = bot.server.create_user("Boss")
    group = bot.server.create_group("Diplomats", members=[bot.alice], admins=[boss])
    refused = await bot.ask(group, bot.alice, "/subscribe@attache_bot person Lavrov")
    assert "Only this group's administrators" in refused.text
    done = await bot.ask(group, boss, "/subscribe@attache_bot person Lavrov")
    assert "Subscribed #" in done.text
    # the Undo button refuses a non-admin too, with an alert
    query_id = await bot.server.press_button(
        done, done.button("Undo").callback_data or "", bot.alice
    )
    answer = await bot.server.wait_for_callback_answer(query_id)
    assert answer.show_alert and "administrators" in (answer.text or "")
    assert len(await bot.services.storage.list_subscriptions(group.id)) == 1
    # anyone may read the list and search
    listing = await bot.ask(group, bot.alice, "/subscriptions@attache_bot")
    assert "Lavrov" in listing.text
    found = await bot.ask(group, bot.alice, "/search@attache_bot eurasian integration")
    assert found.text.startswith("Search: eurasian integration")
    digest = await bot.ask(group, bot.alice, "/digest@attache_bot weekly")
    assert "Only this group's administrators" in digest.text


async def test_channel_selected_by_its_admin_from_a_private_chat(bot: Bot) -> None:
    channel = bot.server.create_channel(
        "Diplomacy Daily", username="diplo_daily", admins=[bot.admin]
    )
    refused = await bot.ask(bot.alice_chat, bot.alice, "/channel @diplo_daily")
    assert "Only administrators of @diplo_daily" in refused.text
    chosen = await bot.ask(bot.admin_chat, bot.admin, "/channel @diplo_daily")
    assert "Now managing Diplomacy Daily" in chosen.text
    done = await bot.ask(bot.admin_chat, bot.admin, "/subscribe person Lavrov")
    assert "channel Diplomacy Daily" in done.text
    assert len(await bot.services.storage.list_subscriptions(channel.id)) == 1
    assert await bot.services.storage.list_subscriptions(bot.admin_chat.id) == []
    await bot.ask(bot.admin_chat, bot.admin, "/channel off")
    mine = await bot.ask(bot.admin_chat, bot.admin, "/subscriptions")
    assert "follows nothing yet" in mine.text


async def test_channel_needs_the_bot_as_admin(bot: Bot) -> None:
    bot.server.create_channel(
        "Quiet", username="quiet_news", admins=[bot.admin], bot_status="member"
    )
    reply = await bot.ask(bot.admin_chat, bot.admin, "/channel @quiet_news")
    assert "Make me an administrator" in reply.text


async def test_source_channel_posts_are_ingested_silently(
    tmp_path: Path, sandbox: BotApiServer
) -> None:
    wire = sandbox.create_channel("Wire", username="wire")
    other = sandbox.create_channel("Other", username="other")
    app, services, _, _ = await start_bot(
        tmp_path, sandbox, source_channel_ids=frozenset({wire.id})
    )
    try:
        await sandbox.post_to_channel(other, STATEDEPT)
        await sandbox.post_to_channel(wire, STATEDEPT)
        await sandbox.wait_until_delivered()
        for _ in range(50):
            if (await services.search.stats()).articles == 2:
                break
            await __import__("asyncio").sleep(0.05)
        assert (
            await services.search.stats()
        ).articles == 2  # the seed and the wire post, not other's
        assert sandbox.messages(wire.id) == [] and sandbox.messages(other.id) == []
    finally:
        await stop_bot(app)


async def test_allowed_user_ids_close_the_bot_to_others(
    tmp_path: Path, sandbox: BotApiServer
) -> None:
    app, services, _, _ = await start_bot(
        tmp_path, sandbox, allowed_user_ids=frozenset({ALLOWED_ID})
    )
    try:
        stranger = sandbox.create_user("Mallory")
        friend = sandbox.create_user("Friend", user_id=ALLOWED_ID)
        await sandbox.send_text(sandbox.private_chat(stranger), stranger, "/search lavrov")
        closed = await sandbox.wait_for_message(stranger.id)
        assert "This bot is private" in closed.text
        await sandbox.send_text(sandbox.private_chat(friend), friend, STATEDEPT)
        stored = await sandbox.wait_for_message(friend.id)
        assert stored.text.startswith("Stored #")
        assert (await services.search.stats()).articles == 2
    finally:
        await stop_bot(app)
