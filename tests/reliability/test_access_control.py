"""Access control through the running bot: who may do what, however they try.

A non-admin cannot run admin commands (typed, forwarded from an admin, or by pasting an
article); a non-administrator of a group cannot change its settings by command or button; nobody
reaches another chat's subscriptions or searches by guessing ids in commands or in forged
callback data (``press_button(..., forged=True)`` sends data no button carries, as a modified
client can); a channel is configured only by its administrators.
"""

from __future__ import annotations

from bot.runtime.context import TTLCache
from bot.sandbox import AnsweredCallback, MessageEntity, SandboxChat, SandboxMessage, SandboxUser
from handlers.common import ADMINS_ONLY, NOT_ADMIN, NOT_CHANNEL_ADMIN
from tests.conftest import FIXTURES, Bot

STATEDEPT = (FIXTURES / "statedept_thailand_dialogue.txt").read_text(encoding="utf-8")
# Loopback addresses on the discard port: if access control ever broke, the fetch these
# commands would start could not leave the machine.
FEED_URL = "http://127.0.0.1:9/wire/feed.xml"
STORY_URL = "http://127.0.0.1:9/story"


async def _forge(
    bot: Bot, message: SandboxMessage, data: str, user: SandboxUser
) -> AnsweredCallback:
    """``user`` sends callback ``data`` for ``message`` from a modified client."""
    query_id = await bot.server.press_button(message, data, user, forged=True)
    return await bot.server.wait_for_callback_answer(query_id)


async def _refused_alert(bot: Bot, message: SandboxMessage, data: str, user: SandboxUser) -> str:
    answer = await _forge(bot, message, data, user)
    assert answer.show_alert, (data, answer)
    return answer.text or ""


async def _subscribe(bot: Bot, chat: SandboxChat, user: SandboxUser, what: str) -> int:
    done = await bot.ask(chat, user, f"/subscribe {what}")
    assert done.text.startswith("Subscribed #"), done.text
    return int(done.text.removeprefix("Subscribed #").split(":")[0])


# --------------------------------------------------------------------------- bot admins


async def test_admin_commands_refuse_everyone_else_however_sent(bot: Bot) -> None:
    feed = await bot.services.storage.add_feed(FEED_URL, "Wire", 900, now=bot.services.clock())
    mallory = bot.server.create_user("Mallory")
    chat = bot.server.private_chat(mallory)
    commands = (
        "/stats",
        f"/ingest {STORY_URL}",
        f"/addfeed {FEED_URL}x 15",
        "/feeds",
        f"/removefeed {feed.id}",
    )
    for command in commands:
        refused = await bot.ask(chat, mallory, command)
        assert refused.text == ADMINS_ONLY, (command, refused.text)
    # Forwarding an admin's command: the forwarder is the sender, whoever wrote it.
    for command in commands:
        name = command.split()[0]
        await bot.server.send_forward(
            chat,
            mallory,
            command,
            origin=bot.admin,
            entities=[MessageEntity("bot_command", 0, len(name))],
        )
        refused = await bot.server.wait_for_message(chat.id)
        assert refused.text == ADMINS_ONLY, (command, refused.text)
    # The same in a group the admin is in.
    group = bot.server.create_group("Lobby", members=[mallory, bot.admin], admins=[mallory])
    refused = await bot.ask(group, mallory, "/stats@attache_bot")
    assert refused.text == ADMINS_ONLY
    # The remove-feed button, forged: checked again, not trusted.
    alert = await _refused_alert(bot, refused, f"fr:y:{feed.id}", mallory)
    assert alert == ADMINS_ONLY
    assert [f.id for f in await bot.services.storage.list_feeds()] == [feed.id]
    assert (await bot.services.search.stats()).articles == 1
    # The admin still can.
    listed = await bot.ask(bot.admin_chat, bot.admin, "/feeds")
    assert "Wire" in listed.text or FEED_URL in listed.text


async def test_pasting_or_forwarding_an_article_is_not_a_way_in(bot: Bot) -> None:
    mallory = bot.server.create_user("Mallory")
    chat = bot.server.private_chat(mallory)
    await bot.server.send_text(chat, mallory, STATEDEPT)
    pasted = await bot.server.wait_for_message(chat.id)
    assert "Only the bot's administrators" in pasted.text
    await bot.server.send_forward(chat, mallory, STATEDEPT, origin=bot.admin)
    forwarded = await bot.server.wait_for_message(chat.id)
    assert "Only the bot's administrators" in forwarded.text
    await bot.server.send_text(chat, mallory, STORY_URL)
    linked = await bot.server.wait_for_message(chat.id)
    assert "Only the bot's administrators" in linked.text
    # Replying /ingest to the admin's own message does not lend the admin's rights either.
    await bot.server.send_text(chat, mallory, "/ingest", reply_to=pasted)
    refused = await bot.server.wait_for_message(chat.id)
    assert refused.text == ADMINS_ONLY
    assert (await bot.services.search.stats()).articles == 1


# --------------------------------------------------------------------------- groups


async def test_group_members_cannot_change_its_settings_by_command(bot: Bot) -> None:
    boss = bot.server.create_user("Boss")
    group = bot.server.create_group("Diplomats", members=[bot.alice], admins=[boss])
    sub_id = await _subscribe(bot, group, boss, "person Lavrov")
    before = await bot.services.storage.get_chat(group.id)
    for command in (
        "/subscribe eurasian integration",
        f"/unsubscribe {sub_id}",
        "/unsubscribe all",
        "/digest weekly",
        "/digest time 07:30",
        "/digest pause",
        "/digest now",
        "/timezone Europe/Minsk",
        "/stop",
    ):
        refused = await bot.ask(group, bot.alice, command.replace(" ", "@attache_bot ", 1))
        assert refused.text == NOT_ADMIN, (command, refused.text)
    after = await bot.services.storage.get_chat(group.id)
    assert after == before
    assert [s.id for s in await bot.services.storage.list_subscriptions(group.id)] == [sub_id]


async def test_group_members_cannot_change_its_settings_by_button(bot: Bot) -> None:
    boss = bot.server.create_user("Boss")
    group = bot.server.create_group("Diplomats", members=[bot.alice], admins=[boss])
    sub_id = await _subscribe(bot, group, boss, "person Lavrov")
    menu = await bot.ask(group, boss, "/digest@attache_bot")
    listing = await bot.ask(group, boss, "/subscriptions@attache_bot")
    before = await bot.services.storage.get_chat(group.id)
    # Buttons that are on the messages, pressed by a member who is not an administrator.
    for message in (menu, listing):
        for button in message.flat_buttons:
            assert button.callback_data is not None
            query_id = await bot.server.press_button(message, button.callback_data, bot.alice)
            answer = await bot.server.wait_for_callback_answer(query_id)
            if button.callback_data not in ("d:tm", "d:wm", "d:m"):
                assert answer.show_alert and answer.text == NOT_ADMIN, button
    # Forged data for every other action.
    for data in ("d:f:off", "d:t:6", "d:w:3", "d:dip", "ua:y", "stop:y", f"u:{sub_id}"):
        assert await _refused_alert(bot, menu, data, bot.alice) == NOT_ADMIN, data
    assert await bot.services.storage.get_chat(group.id) == before
    assert [s.id for s in await bot.services.storage.list_subscriptions(group.id)] == [sub_id]
    # The administrator's press works (the check is not simply refusing everything).
    await bot.press(menu, "d:f:weekly", boss)
    assert (await bot.services.storage.get_chat(group.id)).digest_frequency == "weekly"


# --------------------------------------------------------------------------- other chats' data


async def test_subscription_ids_of_another_chat_cannot_be_read_or_removed(bot: Bot) -> None:
    alice_sub = await _subscribe(bot, bot.alice_chat, bot.alice, "person Lavrov")
    mallory = bot.server.create_user("Mallory")
    chat = bot.server.private_chat(mallory)
    own_sub = await _subscribe(bot, chat, mallory, "eurasian integration")
    # Guessing ids in commands.
    for guess in (alice_sub, f"#{alice_sub}", alice_sub + 1000):
        missing = await bot.ask(chat, mallory, f"/unsubscribe {guess}")
        assert "This chat has no subscription" in missing.text, missing.text
    listing = await bot.ask(chat, mallory, "/subscriptions")
    assert "eurasian integration" in listing.text and "Lavrov" not in listing.text
    # Guessing ids in callback data on a message of his own chat.
    for data in (f"u:{alice_sub}", f"ul:{alice_sub}"):
        alert = await _refused_alert(bot, listing, data, mallory)
        assert "not there any more" in alert
    assert [s.id for s in await bot.services.storage.list_subscriptions(bot.alice_chat.id)] == [
        alice_sub
    ]
    assert [s.id for s in await bot.services.storage.list_subscriptions(chat.id)] == [own_sub]
    # "Remove all" acts on the presser's chat only.
    confirm = await bot.ask(chat, mallory, "/unsubscribe all")
    await bot.press(confirm, "ua:y", mallory)
    assert await bot.services.storage.list_subscriptions(chat.id) == []
    assert len(await bot.services.storage.list_subscriptions(bot.alice_chat.id)) == 1


async def test_search_tokens_of_another_chat_are_refused(bot: Bot) -> None:
    for n in range(7):
        await bot.services.ingest.text(
            f"Integration talks round {n}\nASTANA. March {n + 1}. KAZINFORM Delegation {n} "
            f"discussed integration with partner number {n * 7919} about topic {n * 104729} "
            "in the capital.",
            source="Kazinform",
        )
    mine = await bot.ask(bot.alice_chat, bot.alice, "/search integration")
    assert "Next ›" in [b.text for b in mine.flat_buttons]
    token = next(iter(bot.app.bot_data.queries._chats[bot.alice_chat.id]))
    mallory = bot.server.create_user("Mallory")
    chat = bot.server.private_chat(mallory)
    own = await bot.ask(chat, mallory, "/search lavrov")
    for data in (f"s:2:{token}", f"s:1:{token}", "s:2:guessed", f"s:0:{token}"):
        alert = await _refused_alert(bot, own, data, mallory)
        assert "expired" in alert, data
    # Data that matches no handler is still answered (the client's spinner stops), and
    # changes nothing; data that matches one is checked and refused.
    for data in ("x" * 64, "d:f:" + "z" * 8, "ul:99999999999999", "sp:abc", "fr:y:1:2"):
        answer = await _forge(bot, own, data, mallory)
        assert answer.callback_query_id, data
    assert await _refused_alert(bot, own, "fr:y:1", mallory) == ADMINS_ONLY
    assert await _refused_alert(bot, own, "ul:999999999999", mallory) != ""
    edits = [e for e in bot.server.sent_log if e.chat_id == chat.id and e.method != "sendMessage"]
    assert edits == [], "a forged press changed a message"


# --------------------------------------------------------------------------- channels


async def test_a_channel_is_configured_only_by_its_administrators(bot: Bot) -> None:
    channel = bot.server.create_channel(
        "Diplomacy Daily", username="diplo_daily", admins=[bot.alice]
    )
    mallory = bot.server.create_user("Mallory")
    chat = bot.server.private_chat(mallory)
    for name in ("@diplo_daily", str(channel.id)):
        refused = await bot.ask(chat, mallory, f"/channel {name}")
        assert "Only administrators of" in refused.text, refused.text
    # Without a selection, Mallory's commands act on his own chat, never the channel.
    await _subscribe(bot, chat, mallory, "person Lavrov")
    assert await bot.services.storage.list_subscriptions(channel.id) == []
    # Commands posted in the channel itself are not commands from anyone.
    for text in ("/subscribe person Lavrov", "/digest off", "/stop"):
        await bot.server.post_to_channel(channel, text)
    await bot.server.wait_until_delivered()
    assert await bot.services.storage.list_subscriptions(channel.id) == []
    assert bot.server.messages(channel.id) == []
    # Its administrator selects it; once demoted, the next change is refused.
    chosen = await bot.ask(bot.alice_chat, bot.alice, "/channel @diplo_daily")
    assert "Now managing Diplomacy Daily" in chosen.text
    await _subscribe(bot, bot.alice_chat, bot.alice, "person Lavrov")
    assert len(await bot.services.storage.list_subscriptions(channel.id)) == 1
    clock = [0.0]
    bot.app.bot_data.admins = TTLCache(ttl=60.0, clock=lambda: clock[0])
    await _subscribe(bot, bot.alice_chat, bot.alice, "country Belarus")
    bot.server.set_member(channel, bot.alice, "member")
    clock[0] += 61.0  # the administrator cache holds a verdict for 60 s
    for command in ("/subscribe org OSCE", "/digest weekly", "/unsubscribe all", "/stop"):
        refused = await bot.ask(bot.alice_chat, bot.alice, command)
        assert refused.text == NOT_CHANNEL_ADMIN, (command, refused.text)
    assert len(await bot.services.storage.list_subscriptions(channel.id)) == 2
    stored = await bot.services.storage.get_chat(channel.id)
    assert stored.digest_frequency != "weekly"
