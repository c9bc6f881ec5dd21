"""The local Bot API server against the real python-telegram-bot client.

Each test runs a PTB ``Application`` that long-polls the sandbox server over HTTP on 127.0.0.1,
with a tiny handler set: ``/echo`` repeats its argument, ``/menu`` shows an inline keyboard
whose buttons edit the message, ``/html`` and ``/long`` send what a test asks for, and channel
posts are collected. Message texts come from the seed wire (tests/fixtures/seed_article.txt
would hold more; these short lines are quoted inline).
"""

from __future__ import annotations

import asyncio
import datetime as dtm
import os
import re
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from telegram import (
    BotCommand,
    BotCommandScopeAllGroupChats,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
    Update,
)
from telegram.constants import ParseMode
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TimedOut
from telegram.ext import (
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    Defaults,
    MessageHandler,
    TypeHandler,
    filters,
)

from bot.sandbox import BotApiServer, RateLimits, SandboxChat, SandboxUser, parse_message_html

# PTB 22 warns when RetryAfter.retry_after is read as an int; opt in to timedelta (the future
# default) so that the warning, an error under pytest's settings, does not fire inside PTB.
os.environ.setdefault("PTB_TIMEDELTA", "true")

TOKEN = "123456:SANDBOX-TEST"
HEADLINE = "Lavrov and Makei discuss Eurasian integration in Minsk"
CHANNEL_POST = "MINSK, 12 March (BelTA) - Belarus and Russia will continue to coordinate steps"


@dataclass
class Harness:
    server: BotApiServer
    app: Application[Any, Any, Any, Any, Any, Any]
    alice: SandboxUser
    chat: SandboxChat
    channel_posts: list[str] = field(default_factory=list)
    errors: list[BaseException] = field(default_factory=list)
    updates: list[Update] = field(default_factory=list)

    async def next_update(self, seconds: float = 30.0) -> Update:
        """The next update PTB processed (in the order it processed them)."""
        deadline = time.monotonic() + seconds
        while not self.updates:
            if time.monotonic() > deadline:
                raise TimeoutError("PTB processed no update")
            await asyncio.sleep(0.01)
        return self.updates.pop(0)


def retry_seconds(error: RetryAfter) -> float:
    value = error.retry_after
    return value.total_seconds() if isinstance(value, dtm.timedelta) else float(value)


async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    assert update.effective_message is not None
    await update.effective_message.reply_text(" ".join(context.args or []) or "(nothing)")


async def menu(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    assert update.effective_message is not None
    keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("Next", callback_data="page:2")]])
    await update.effective_message.reply_text("<b>Page 1</b> of 2", reply_markup=keyboard)


async def turn_page(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    query = update.callback_query
    assert query is not None and query.data is not None
    page = query.data.split(":")[1]
    await query.answer(f"Page {page}")
    await query.edit_message_text(f"<b>Page {page}</b> of 2")


async def send_html(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Send the argument as HTML as-is; failures reach the error handler."""
    assert update.effective_message is not None and update.effective_message.text is not None
    await update.effective_message.reply_text(update.effective_message.text.partition(" ")[2])


def build_app(
    server: BotApiServer, harness_errors: list[BaseException]
) -> Application[Any, Any, Any, Any, Any, Any]:
    app = (
        ApplicationBuilder()
        .token(TOKEN)
        .base_url(server.base_url)
        .base_file_url(server.base_file_url)
        .defaults(Defaults(parse_mode=ParseMode.HTML))
        .build()
    )

    async def on_error(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert context.error is not None
        harness_errors.append(context.error)

    app.add_handler(CommandHandler("echo", echo))
    app.add_handler(CommandHandler("menu", menu))
    app.add_handler(CommandHandler("html", send_html))
    app.add_handler(CallbackQueryHandler(turn_page, pattern=r"^page:"))
    app.add_error_handler(on_error)
    return app


@pytest.fixture
async def harness() -> AsyncIterator[Harness]:
    async with BotApiServer(token=TOKEN, bot_username="attache_bot") as server:
        errors: list[BaseException] = []
        app = build_app(server, errors)
        alice = server.create_user("Alice", username="alice")
        harness = Harness(server, app, alice, server.private_chat(alice), errors=errors)

        async def collect_post(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
            assert update.channel_post is not None and update.channel_post.text is not None
            harness.channel_posts.append(update.channel_post.text)

        async def record(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
            harness.updates.append(update)

        app.add_handler(MessageHandler(filters.UpdateType.CHANNEL_POST, collect_post))
        app.add_handler(TypeHandler(Update, record), group=-1)
        await app.initialize()
        await app.start()
        assert app.updater is not None
        await app.updater.start_polling(poll_interval=0, timeout=5)
        try:
            yield harness
        finally:
            await app.updater.stop()
            await app.stop()
            await app.shutdown()


async def test_get_me_describes_the_bot(harness: Harness) -> None:
    me = await harness.app.bot.get_me()
    assert me.is_bot
    assert me.username == "attache_bot"
    assert me.id == 123456


async def test_command_round_trip(harness: Harness) -> None:
    server = harness.server
    sent = await server.send_text(harness.chat, harness.alice, f"/echo {HEADLINE}")
    assert sent.entities[0].type == "bot_command" and sent.entities[0].length == len("/echo")
    reply = await server.wait_for_message(harness.chat.id)
    assert reply.text == HEADLINE
    assert reply.from_bot and reply.api["from"]["is_bot"] is True
    assert isinstance(reply.api["date"], int) and reply.api["date"] > 1_600_000_000
    assert [entry.method for entry in server.sent_log] == ["sendMessage"]
    assert harness.errors == []


async def test_command_addressed_to_the_bot_in_a_group(harness: Harness) -> None:
    server = harness.server
    bob = server.create_user("Bob")
    group = server.create_group("Diplomatic desk", members=[harness.alice, bob])
    await server.send_text(group, bob, "/echo@attache_bot Minsk")
    await server.send_text(group, bob, "/echo@other_bot ignored")
    await server.send_text(group, bob, "plain chatter is not delivered in privacy mode")
    reply = await server.wait_for_message(group.id)
    assert reply.text == "Minsk"
    await server.wait_until_delivered()
    await asyncio.sleep(0.05)
    assert len(server.messages(group.id)) == 1


async def test_inline_keyboard_callback_edits_the_message(harness: Harness) -> None:
    server = harness.server
    await server.send_text(harness.chat, harness.alice, "/menu")
    shown = await server.wait_for_message(harness.chat.id)
    assert shown.text == "Page 1 of 2"
    assert shown.entities[0].type == "bold" and shown.entities[0].length == len("Page 1")
    query_id = await server.press_button(shown, shown.button("Next").callback_data or "")
    answer = await server.wait_for_callback_answer(query_id)
    assert answer.text == "Page 2"
    edited = await server.wait_for_edit(harness.chat.id, shown.message_id)
    assert edited.text == "Page 2 of 2"
    assert edited.edit_date is not None
    # editMessageText without reply_markup drops the keyboard, as on Telegram.
    assert edited.buttons == []
    assert server.message(harness.chat.id, shown.message_id).text == "Page 2 of 2"
    with pytest.raises(ValueError, match="no button"):
        await server.press_button(edited, "page:2")


async def test_invalid_html_reaches_ptb_as_bad_request(harness: Harness) -> None:
    bot = harness.app.bot
    with pytest.raises(
        BadRequest, match=r"(?i)can't parse entities: unsupported start tag \"div\""
    ):
        await bot.send_message(harness.chat.id, "<div>Minsk</div>")
    with pytest.raises(BadRequest, match=r"(?i)can't find end tag corresponding to start tag"):
        await bot.send_message(harness.chat.id, "<b>Minsk")
    with pytest.raises(BadRequest, match=r"(?i)unmatched end tag"):
        await bot.send_message(harness.chat.id, "<b><i>Minsk</b></i>")
    with pytest.raises(BadRequest, match=r"(?i)message text is empty"):
        await bot.send_message(harness.chat.id, "<b> </b>")
    with pytest.raises(BadRequest, match=r"(?i)message is too long"):
        await bot.send_message(harness.chat.id, "x" * 4097)
    with pytest.raises(BadRequest, match=r"(?i)button_data_invalid"):
        await bot.send_message(
            harness.chat.id,
            "Choose",
            reply_markup=InlineKeyboardMarkup(
                [[InlineKeyboardButton("A", callback_data="a" * 65)]]
            ),
        )
    # 4096 characters after entity parsing is fine even though the HTML is longer.
    message = await bot.send_message(harness.chat.id, "&lt;" * 4096)
    assert message.text == "<" * 4096
    assert harness.server.sent_log[-1].message.text == "<" * 4096


async def test_unknown_method_and_wrong_token(harness: Harness) -> None:
    async with httpx.AsyncClient() as client:
        wrong = await client.post(f"{harness.server.base_url}999:nope/getMe")
        missing = await client.post(f"{harness.server.base_url}{TOKEN}/sendPigeon")
        lowercase = await client.get(f"{harness.server.base_url}{TOKEN}/getme")
        as_json = await client.post(
            f"{harness.server.base_url}{TOKEN}/sendMessage",
            json={"chat_id": harness.chat.id, "text": "<i>Minsk</i>", "parse_mode": "HTML"},
        )
    assert wrong.status_code == 401 and wrong.json()["description"] == "Unauthorized"
    assert missing.status_code == 404
    assert missing.json() == {
        "ok": False,
        "error_code": 404,
        "description": "Not Found: method not found",
    }
    assert lowercase.json()["result"]["username"] == "attache_bot"
    assert as_json.json()["result"]["entities"] == [{"type": "italic", "offset": 0, "length": 5}]


async def test_injected_faults_reach_ptb_as_its_errors(harness: Harness) -> None:
    server, bot, chat_id = harness.server, harness.app.bot, harness.chat.id
    server.faults.fail_next("sendMessage", 429, retry_after=7)
    with pytest.raises(RetryAfter) as retry:
        await bot.send_message(chat_id, "Minsk")
    assert retry_seconds(retry.value) == 7
    server.faults.fail_next("sendMessage", 502)
    with pytest.raises(NetworkError, match=r"(?i)Bad Gateway"):
        await bot.send_message(chat_id, "Minsk")
    server.faults.fail_next("sendMessage", "reset")
    with pytest.raises(NetworkError):
        await bot.send_message(chat_id, "Minsk")
    server.faults.timeout_hold = 1.0
    server.faults.fail_next("sendMessage", "timeout")
    with pytest.raises(TimedOut):
        await bot.send_message(chat_id, "Minsk", read_timeout=0.2)
    assert [fault.fault.kind for fault in server.faults.injected] == [429, 502, "reset", "timeout"]
    assert server.sent_log == []  # none of them was carried out
    server.faults.fail_next("sendMessage", 500, applied=True)
    with pytest.raises(NetworkError):
        await bot.send_message(chat_id, "Minsk")
    assert [entry.message.text for entry in server.sent_log] == ["Minsk"]


async def test_blocked_user_and_missing_chat(harness: Harness) -> None:
    server, bot = harness.server, harness.app.bot
    await server.block_bot(harness.alice)
    with pytest.raises(Forbidden, match=r"(?i)bot was blocked by the user"):
        await bot.send_message(harness.chat.id, "Minsk")
    await server.unblock_bot(harness.alice)
    assert (await bot.send_message(harness.chat.id, "Minsk")).text == "Minsk"
    server.faults.remove_chat(harness.chat.id)
    with pytest.raises(BadRequest, match=r"(?i)chat not found"):
        await bot.send_message(harness.chat.id, "Minsk")
    with pytest.raises(BadRequest, match=r"(?i)chat not found"):
        await bot.send_message(424242, "Minsk")


async def test_idle_long_poll_holds_the_request(harness: Harness) -> None:
    before = harness.server.request_counts["getupdates"]
    await asyncio.sleep(1.0)
    polls = harness.server.request_counts["getupdates"] - before
    assert polls <= 3, f"{polls} getUpdates calls in one idle second"


async def test_offset_confirms_updates_so_none_repeats(harness: Harness) -> None:
    server = harness.server
    server.rate_limits = RateLimits.disabled()  # five replies in a row exceed the chat burst
    for number in range(5):
        await server.send_text(harness.chat, harness.alice, f"/echo {number}")
    replies = [(await server.wait_for_message(harness.chat.id)).text for _ in range(5)]
    assert replies == ["0", "1", "2", "3", "4"]
    await server.wait_until_delivered()
    await asyncio.sleep(0.1)
    assert len(server.messages(harness.chat.id)) == 5
    assert harness.errors == []


async def test_rate_limit_answers_429_with_retry_after(harness: Harness) -> None:
    server, bot = harness.server, harness.app.bot
    server.rate_limits = RateLimits(per_chat_per_second=1.0, per_chat_burst=2)
    await bot.send_message(harness.chat.id, "one")
    await bot.send_message(harness.chat.id, "two")
    with pytest.raises(RetryAfter) as retry:
        await bot.send_message(harness.chat.id, "three")
    assert retry_seconds(retry.value) == 1
    group = server.create_group("Desk", members=[harness.alice])
    server.rate_limits = RateLimits(per_chat_per_second=100.0, per_chat_burst=100)
    for number in range(20):
        await bot.send_message(group.id, f"item {number}")
    with pytest.raises(RetryAfter) as group_retry:
        await bot.send_message(group.id, "item 21")
    assert retry_seconds(group_retry.value) == 3
    server.rate_limits = RateLimits.disabled()
    for number in range(40):
        await bot.send_message(group.id, f"unlimited {number}")


async def test_channel_posts_and_membership_updates(harness: Harness) -> None:
    server = harness.server
    channel = server.create_channel("BelTA wire", username="belta_wire", admins=[harness.alice])
    post = await server.post_to_channel(channel, CHANNEL_POST)
    assert post.api["sender_chat"]["type"] == "channel"
    await server.wait_until_delivered()
    for _ in range(50):
        if harness.channel_posts:
            break
        await asyncio.sleep(0.02)
    assert harness.channel_posts == [CHANNEL_POST]
    admins = await harness.app.bot.get_chat_administrators("@belta_wire")
    assert {admin.user.id for admin in admins} == {harness.alice.id, server.bot.id}
    member = await harness.app.bot.get_chat_member(channel.id, harness.alice.id)
    assert member.status == "administrator"
    chat = await harness.app.bot.get_chat(channel.id)
    assert chat.title == "BelTA wire" and chat.type == "channel"


async def test_callback_answers_are_recorded_once(harness: Harness) -> None:
    server = harness.server
    await server.send_text(harness.chat, harness.alice, "/menu")
    shown = await server.wait_for_message(harness.chat.id)
    query_id = await server.press_button(shown, "page:2")
    await server.wait_for_callback_answer(query_id)
    with pytest.raises(BadRequest, match=r"(?i)query ID is invalid"):
        await harness.app.bot.answer_callback_query(query_id)
    assert [answer.callback_query_id for answer in server.answered_callbacks] == [query_id]


async def test_commands_are_kept_per_scope_and_language(harness: Harness) -> None:
    bot = harness.app.bot
    await bot.set_my_commands([BotCommand("search", "Search stored articles")])
    await bot.set_my_commands(
        [BotCommand("digest", "Group digest settings")], scope=BotCommandScopeAllGroupChats()
    )
    assert [c.command for c in await bot.get_my_commands()] == ["search"]
    group_commands = await bot.get_my_commands(scope=BotCommandScopeAllGroupChats())
    assert [c.command for c in group_commands] == ["digest"]
    assert harness.server.commands({"type": "all_group_chats"})[0]["command"] == "digest"
    with pytest.raises(BadRequest, match=r"(?i)bot_command_invalid"):
        await bot.set_my_commands([BotCommand("Bad-Name", "x")])


async def test_delete_and_chat_action(harness: Harness) -> None:
    bot, server = harness.app.bot, harness.server
    message: Message = await bot.send_message(harness.chat.id, "Minsk")
    assert await bot.send_chat_action(harness.chat.id, "typing")
    assert await bot.delete_message(harness.chat.id, message.message_id)
    assert server.messages(harness.chat.id)[0].deleted
    with pytest.raises(BadRequest, match=r"(?i)message to delete not found"):
        await bot.delete_message(harness.chat.id, message.message_id)
    with pytest.raises(BadRequest, match=r"(?i)message to edit not found"):
        await bot.edit_message_text("Brest", harness.chat.id, message.message_id)
    assert server.chat_actions == [(harness.chat.id, "typing")]


async def test_random_faults_are_reproducible() -> None:
    async with BotApiServer(token=TOKEN) as first, BotApiServer(token=TOKEN) as second:
        kinds = []
        for server in (first, second):
            server.faults.set_random(0.5, kinds=(429, 500), seed=42)
            kinds.append(
                [
                    fault.kind if (fault := server.faults.take("sendmessage")) else None
                    for _ in range(20)
                ]
            )
    assert kinds[0] == kinds[1]
    assert {None, 429, 500} == set(kinds[0])


async def test_forwards_and_membership_updates_reach_ptb(harness: Harness) -> None:
    server = harness.server
    channel = server.create_channel("BelTA wire", username="belta_wire")
    await server.send_forward(
        harness.chat, harness.alice, CHANNEL_POST, origin=channel, origin_message_id=812
    )
    forwarded = (await harness.next_update()).effective_message
    assert forwarded is not None and forwarded.text == CHANNEL_POST
    assert forwarded.forward_origin is not None
    assert forwarded.forward_origin.type == "channel"
    group = server.create_group("Desk", creator=harness.alice, bot_status="left")
    await server.add_bot_to_group(group, harness.alice, status="administrator")
    joined = await harness.next_update()
    assert joined.my_chat_member is not None
    assert joined.my_chat_member.new_chat_member.status == "administrator"
    assert joined.my_chat_member.old_chat_member.status == "left"


async def test_get_updates_waits_for_its_timeout_and_stop_releases_it() -> None:
    async with BotApiServer(token=TOKEN) as server, httpx.AsyncClient(timeout=60) as client:
        url = f"{server.base_url}{TOKEN}/getUpdates"
        started = time.monotonic()
        idle = await client.post(url, data={"timeout": "1"})
        waited = time.monotonic() - started
        assert idle.json() == {"ok": True, "result": []}
        # A lower bound only (the server's own deadline on the same monotonic clock guarantees
        # it; a busy machine can only add to it): the poll was held, not answered at once. How
        # long past its timeout it took is not checked; the client's 60 s catches a hang.
        assert waited >= 0.9
        held = asyncio.create_task(client.post(url, data={"timeout": "30"}))
        await asyncio.sleep(0.1)
        user = server.create_user("Bob")
        await server.send_text(server.private_chat(user), user, "/start")
        woken = await held
        assert [update["message"]["text"] for update in woken.json()["result"]] == ["/start"]
        # Update types outside allowed_updates are never delivered (and not left pending).
        await server.post_to_channel(server.create_channel("Wire"), CHANNEL_POST)
        filtered = await client.post(
            url, data={"offset": "-2", "allowed_updates": '["message"]', "timeout": "0"}
        )
        assert [update["message"]["text"] for update in filtered.json()["result"]] == ["/start"]
        assert server.pending_updates == 1
        # A poll with nothing to return (the /start confirmed by its offset) is held ...
        (start,) = filtered.json()["result"]
        polls = server.request_counts["getupdates"]
        held = asyncio.create_task(
            client.post(url, data={"offset": str(start["update_id"] + 1), "timeout": "30"})
        )
        for _ in range(6000):  # until the server has the poll (a minute at most: a hang)
            if server.request_counts["getupdates"] > polls:
                break
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.1)
        assert not held.done()
        # ... until stop releases it with an empty answer. Not by its 30 s timeout: a request
        # stop did not answer is cut off when the server closes its connections (an httpx
        # error, not this answer), so the 60 s here only turns a hang into a failure.
        await server.stop()
        released = await asyncio.wait_for(held, 60)
        assert released.json() == {"ok": True, "result": []}
        assert server.pending_updates == 0


@pytest.mark.parametrize(
    ("html", "plain", "entities"),
    [
        ("<b>Lavrov</b> in Minsk", "Lavrov in Minsk", [("bold", 0, 6)]),
        ("&lt;EAEU&gt; &amp; &quot;CSTO&quot;", '<EAEU> & "CSTO"', []),
        ("&nbsp;&#1052;&#x438;", "&nbsp;Ми", []),
        ("😀 <i>Минск</i>", "😀 Минск", [("italic", 3, 5)]),
        ('<a href="https://belta.by/?a=1&amp;b=2">BelTA</a>', "BelTA", [("text_link", 0, 5)]),
        ('<pre><code class="language-python">x = 1</code></pre>', "x = 1", [("pre", 0, 5)]),
        (
            '<span class="tg-spoiler">s</span><tg-spoiler>t</tg-spoiler>',
            "st",
            [("spoiler", 0, 1), ("spoiler", 1, 1)],
        ),
        ("<b><u>both</u></b>", "both", [("bold", 0, 4), ("underline", 0, 4)]),
    ],
)
def test_html_parsing_follows_telegram(
    html: str, plain: str, entities: list[tuple[str, int, int]]
) -> None:
    text, parsed = parse_message_html(html)
    assert text == plain
    assert [(entity.type, entity.offset, entity.length) for entity in parsed] == entities


@pytest.mark.parametrize(
    ("html", "error"),
    [
        ("1 < 2", 'Unsupported start tag "" at byte offset 2'),
        ("<br>", 'Unsupported start tag "br" at byte offset 0'),
        ("Минск <p>", 'Unsupported start tag "p" at byte offset 11'),
        ("<span>x</span>", 'Tag "span" must have class "tg-spoiler"'),
        ("<b>x</i>", 'Unmatched end tag at byte offset 4, expected "</b>", found "</i>"'),
        ("x</b>", "Unexpected end tag at byte offset 1"),
        ('<a href="x>y</a>', "Unclosed start tag at byte offset 0"),
    ],
)
def test_html_errors_name_the_problem(html: str, error: str) -> None:
    with pytest.raises(ValueError, match=re.escape(error)):
        parse_message_html(html)
