"""``/digest`` (an inline-keyboard menu, or ``/digest daily|time 07:30|weekday fri|...``),
``/digest now`` (the pending digest at once), ``/more`` (the next page of it) and
``/timezone ZONE``.

Callback data: ``d:m`` main menu, ``d:f:<frequency>``, ``d:tm`` / ``d:t:<hour>`` time,
``d:wm`` / ``d:w:<0-6>`` weekday, ``d:dip`` diplomatic-only, ``d:pause`` pause/resume. Every
press re-checks that the presser may change the chat it acts on.
"""

from __future__ import annotations

from telegram import InlineKeyboardMarkup, Update
from telegram.ext import CallbackQueryHandler, CommandHandler

from bot.chats.schedule import WEEKDAYS, ScheduleError, local_text
from bot.chats.service import FREQUENCIES
from bot.chats.timezones import EXAMPLES, TimezoneError, describe_zone
from bot.digests.service import OnDemandResult
from bot.render import digest_card, escape
from bot.runtime.context import AttacheContext
from handlers.common import (
    STALE_BUTTON,
    Target,
    answer,
    arg_text,
    edit,
    keyboard,
    refuse,
    reply,
    target_chat,
)
from storage.models import (
    Chat,
    DigestFrequency,
)

USAGE = (
    "Use the buttons, or type e.g. <code>/digest now</code>, <code>/digest daily</code>, "
    "<code>/digest time 07:30</code>, "
    "<code>/digest weekday fri</code>, <code>/digest pause</code>, <code>/digest resume</code>, "
    "<code>/digest diplomatic off</code>."
)
HOURS = (6, 7, 8, 9, 10, 12, 14, 16, 18, 20, 21, 22)


def _mark(on: bool, label: str) -> str:
    return f"✓ {label}" if on else label


def _card(chat: Chat, target: Target) -> str:
    upcoming = local_text(chat.next_digest_at, chat.tz) if chat.next_digest_at else None
    return digest_card(chat, target.label, describe_zone(chat.tz), upcoming)


def main_menu(chat: Chat) -> InlineKeyboardMarkup:
    freq_row = [(_mark(chat.digest_frequency == f, f), f"d:f:{f}") for f in FREQUENCIES]
    return keyboard(
        freq_row[:3],
        freq_row[3:],
        [("Time…", "d:tm"), ("Weekday…", "d:wm")],
        [
            (_mark(chat.only_diplomatic, "Diplomatic only"), "d:dip"),
            ("Resume" if chat.paused else "Pause", "d:pause"),
        ],
    )


def time_menu(chat: Chat) -> InlineKeyboardMarkup:
    buttons = [(_mark(chat.digest_time == f"{h:02d}:00", f"{h:02d}:00"), f"d:t:{h}") for h in HOURS]
    return keyboard(buttons[:4], buttons[4:8], buttons[8:], [("‹ Back", "d:m")])


def weekday_menu(chat: Chat) -> InlineKeyboardMarkup:
    buttons = [(_mark(chat.digest_weekday == i, d[:3]), f"d:w:{i}") for i, d in enumerate(WEEKDAYS)]
    return keyboard(buttons[:4], buttons[4:], [("‹ Back", "d:m")])


def _weekday(text: str) -> int | None:
    lowered = text.strip().lower()
    for index, name in enumerate(WEEKDAYS):
        if len(lowered) >= 2 and name.lower().startswith(lowered):
            return index
    return None


async def _apply_words(context: AttacheContext, chat_id: int, words: list[str]) -> Chat:
    """``/digest WORDS``; raise ScheduleError with what to type instead."""
    chats = context.bot_data.chats
    head = words[0].lower()
    rest = " ".join(words[1:])
    frequency: DigestFrequency | None = next((f for f in FREQUENCIES if f == head), None)
    if frequency is not None:
        return await chats.update_digest(chat_id, frequency=frequency)
    if head == "time" and rest:
        return await chats.update_digest(chat_id, at=rest)
    if head in ("weekday", "day") and rest:
        day = _weekday(rest)
        if day is None:
            raise ScheduleError("a weekday is e.g. mon, tuesday, fri")
        return await chats.update_digest(chat_id, weekday=day, frequency="weekly")
    if head in ("pause", "resume"):
        return await chats.update_digest(chat_id, paused=head == "pause")
    if head in ("diplomatic", "dip") and rest.lower() in ("on", "off"):
        return await chats.update_digest(chat_id, only_diplomatic=rest.lower() == "on")
    raise ScheduleError("unknown digest setting")


NOTHING_NEW = "Nothing new since the last digest."
NOTHING_MORE = "Nothing more: you are all caught up."
NOT_SENT = "Telegram did not take the digest just now; its items wait for the next one."


async def _report(
    update: Update, context: AttacheContext, target: Target, result: OnDemandResult, empty: str
) -> None:
    """Say what an on-demand digest did, unless the digest itself was the answer."""
    chat = update.effective_chat
    elsewhere = chat is None or chat.id != target.chat_id
    if result.status == "nothing":
        await reply(update, context, escape(empty))
    elif result.status == "failed":
        await reply(update, context, escape(NOT_SENT))
    elif result.status == "blocked" and elsewhere:
        await refuse(update, context, f"I cannot post to {escape(target.label)}.")
    elif result.status == "sent" and elsewhere:
        count = f"{result.messages} message{'s' if result.messages != 1 else ''}"
        await reply(update, context, f"Sent {count} to {escape(target.label)}.")


async def cmd_digest_now(update: Update, context: AttacheContext) -> None:
    target = await target_chat(update, context, change=True)
    if target is None:
        return
    result = await context.bot_data.digests.send_now(target.chat_id)
    await _report(update, context, target, result, NOTHING_NEW)


async def cmd_more(update: Update, context: AttacheContext) -> None:
    target = await target_chat(update, context, change=False)
    if target is None:
        return
    result = await context.bot_data.digests.more(target.chat_id)
    await _report(update, context, target, result, NOTHING_MORE)


async def cmd_digest(update: Update, context: AttacheContext) -> None:
    words = arg_text(update).split()
    if [w.lower() for w in words] == ["now"]:
        await cmd_digest_now(update, context)
        return
    target = await target_chat(update, context, change=bool(words))
    if target is None:
        return
    chats = context.bot_data.chats
    if words:
        try:
            chat = await _apply_words(context, target.chat_id, words)
        except ScheduleError as exc:
            await reply(update, context, f"{escape(str(exc)).capitalize()}.\n{USAGE}")
            return
    else:
        chat = await chats.get(target.chat_id)
    await reply(update, context, _card(chat, target), main_menu(chat))


async def on_menu(update: Update, context: AttacheContext) -> None:
    callback = update.callback_query
    assert callback is not None and callback.data is not None
    parts = callback.data.split(":")
    target = await target_chat(update, context, change=True)
    if target is None:
        return
    chats = context.bot_data.chats
    chat = await chats.get(target.chat_id)
    action, value = parts[1], parts[2] if len(parts) > 2 else ""
    markup = main_menu
    if action == "f" and value in FREQUENCIES:
        frequency = next(f for f in FREQUENCIES if f == value)
        chat = await chats.update_digest(chat.id, frequency=frequency)
    elif action == "t" and value.isdigit() and 0 <= int(value) <= 23:
        chat = await chats.update_digest(chat.id, at=f"{int(value):02d}:00")
    elif action == "w" and value.isdigit() and 0 <= int(value) <= 6:
        chat = await chats.update_digest(chat.id, weekday=int(value), frequency="weekly")
    elif action == "dip":
        chat = await chats.update_digest(chat.id, only_diplomatic=not chat.only_diplomatic)
    elif action == "pause":
        chat = await chats.update_digest(chat.id, paused=not chat.paused)
    elif action == "tm":
        markup = time_menu
    elif action == "wm":
        markup = weekday_menu
    elif action != "m":
        await answer(update, STALE_BUTTON, alert=True)
        return
    await answer(update)
    await edit(callback, _card(chat, target), markup(chat))


async def cmd_timezone(update: Update, context: AttacheContext) -> None:
    text = arg_text(update)
    target = await target_chat(update, context, change=bool(text))
    if target is None:
        return
    chats = context.bot_data.chats
    if not text:
        chat = await chats.get(target.chat_id)
        await reply(
            update,
            context,
            f"Time zone of {escape(target.label)}: <b>{escape(describe_zone(chat.tz))}</b>.\n"
            f"Change it with e.g. <code>/timezone Europe/Minsk</code> ({escape(EXAMPLES)}).",
        )
        return
    try:
        chat = await chats.set_timezone(target.chat_id, text)
    except TimezoneError as exc:
        await refuse(update, context, f"I do not know that time zone: {exc}")
        return
    await reply(
        update,
        context,
        f"Time zone of {escape(target.label)} set to <b>{escape(describe_zone(chat.tz))}</b>.\n"
        + _card(chat, target),
    )


HANDLERS = [
    CommandHandler("digest", cmd_digest),
    CommandHandler("more", cmd_more),
    CommandHandler("timezone", cmd_timezone),
    CallbackQueryHandler(on_menu, pattern=r"^d:(m|tm|wm|dip|pause|f:[a-z]{2,8}|t:\d{1,2}|w:\d)$"),
]
