"""Helpers every handler shares: reading arguments, replying safely, and deciding which chat a
command acts on and whether the sender may change it."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import Any, TypeVar

from telegram import (
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
    Update,
)
from telegram.constants import ChatMemberStatus, ChatType
from telegram.error import BadRequest, NetworkError, TelegramError

from bot.render import escape, split_html
from bot.runtime.context import AttacheContext
from bot.runtime.throttle import wait_message
from storage.models import ChatType as ChatKind

ADMIN_STATUSES = frozenset({ChatMemberStatus.ADMINISTRATOR, ChatMemberStatus.OWNER})
NOT_ADMIN = "Only this group's administrators can change its subscriptions and digest settings."
NOT_CHANNEL_ADMIN = (
    "You are no longer an administrator of that channel. Use /channel off to manage this chat."
)
STALE_BUTTON = "This button has expired. Run the command again."
ADMINS_ONLY = "This command is for the bot's administrators."
SEND_ATTEMPTS = 3
FIRST_RETRY_DELAY_S = 0.5

T = TypeVar("T")
Handler = Callable[[Update, AttacheContext], Coroutine[Any, Any, None]]


async def with_retries(send: Callable[[], Awaitable[T]]) -> T:
    """Retry a reply on transient failures (timeouts, resets, 5xx): a rare duplicate reply is
    better than a user left without one. Refusals (400/403) are final; 429 is waited out by
    the rate limiter before it gets here."""
    delay = FIRST_RETRY_DELAY_S
    for _ in range(SEND_ATTEMPTS - 1):
        try:
            return await send()
        except BadRequest:
            raise
        except NetworkError:  # TimedOut and server errors; Forbidden is not a NetworkError
            await asyncio.sleep(delay)
            delay *= 2
    return await send()


def arg_text(update: Update) -> str:
    """Everything after the command word (``/cmd@Bot rest`` -> ``rest``), whitespace kept."""
    message = update.effective_message
    text = (message.text or message.caption or "") if message else ""
    if not text.startswith("/"):
        return text.strip()
    return text.partition(" ")[2].strip()


def keyboard(*rows: list[tuple[str, str]]) -> InlineKeyboardMarkup:
    """An inline keyboard from rows of (label, callback data)."""
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(label, callback_data=data) for label, data in row] for row in rows]
    )


def pager(prefix: str, key: str, page: int, pages: int) -> InlineKeyboardMarkup | None:
    """``‹ Prev · 2/7 · Next ›`` buttons; callback data ``prefix:page:key``."""
    if pages <= 1:
        return None
    row: list[tuple[str, str]] = []
    if page > 1:
        row.append(("‹ Prev", f"{prefix}:{page - 1}:{key}"))
    row.append((f"{page}/{pages}", "noop"))
    if page < pages:
        row.append(("Next ›", f"{prefix}:{page + 1}:{key}"))
    return keyboard(row)


async def reply(
    update: Update,
    context: AttacheContext,
    html_text: str,
    markup: InlineKeyboardMarkup | None = None,
) -> Message | None:
    """Send Telegram HTML to the update's chat, split if long; the keyboard goes on the last
    part. Returns the last message sent."""
    chat = update.effective_chat
    if chat is None:
        return None
    parts = split_html(html_text)
    sent: Message | None = None
    for index, part in enumerate(parts):
        last = index == len(parts) - 1
        keys = markup if last else None
        sent = await with_retries(
            functools.partial(context.bot.send_message, chat.id, part, reply_markup=keys)
        )
    return sent


async def edit(query: CallbackQuery, html_text: str, markup: InlineKeyboardMarkup | None) -> None:
    """Edit the message a button belongs to; an unchanged text is not an error."""
    try:
        await with_retries(
            lambda: query.edit_message_text(split_html(html_text)[0], reply_markup=markup)
        )
    except BadRequest as exc:
        if "not modified" not in str(exc).lower():
            raise


async def answer(update: Update, text: str | None = None, *, alert: bool = False) -> None:
    """Answer a callback query (always, so the client stops its spinner)."""
    if update.callback_query is not None:
        await update.callback_query.answer(text, show_alert=alert)


async def refuse(update: Update, context: AttacheContext, text: str) -> None:
    """Say no politely: as an alert for a button, as a message for a command."""
    if update.callback_query is not None:
        await answer(update, text, alert=True)
    else:
        await reply(update, context, escape(text))


def admin_only(handler: Handler) -> Handler:
    """Let only the bot's administrators (``ADMIN_IDS``) through; everyone else is told so."""

    @functools.wraps(handler)
    async def guarded(update: Update, context: AttacheContext) -> None:
        user = update.effective_user
        if not context.bot_data.settings.is_admin(user.id if user else None):
            await refuse(update, context, ADMINS_ONLY)
            return
        await handler(update, context)

    return guarded


async def is_chat_admin(context: AttacheContext, chat_id: int, user_id: int) -> bool:
    """Whether the user administers the chat; cached briefly to spare getChatMember calls."""
    cache = context.bot_data.admins
    known = cache.get((chat_id, user_id))
    if known is not None:
        return known
    try:
        member = await context.bot.get_chat_member(chat_id, user_id)
    except TelegramError:
        return False  # not cached: a transient failure must not lock an admin out for long
    verdict = member.status in ADMIN_STATUSES
    cache.put((chat_id, user_id), verdict)
    return verdict


@dataclass(frozen=True, slots=True)
class Target:
    """The chat a subscription or digest command acts on."""

    chat_id: int
    label: str  # "this chat", or "channel <title>" (plain text)


_KINDS: dict[str, ChatKind] = {
    ChatType.PRIVATE: "private",
    ChatType.GROUP: "group",
    ChatType.SUPERGROUP: "supergroup",
}


async def register_chat(update: Update, context: AttacheContext) -> None:
    """Register the private chat or group an update came from, so it has the default digest
    schedule from the first contact (a private chat is titled with the user's name)."""
    chat, user = update.effective_chat, update.effective_user
    kind = _KINDS.get(chat.type) if chat is not None else None
    if chat is None or kind is None:
        return
    title = user.full_name if kind == "private" and user is not None else chat.title
    await context.bot_data.chats.ensure(chat.id, kind, title)


async def target_chat(update: Update, context: AttacheContext, *, change: bool) -> Target | None:
    """Resolve the chat a command acts on; when ``change`` is set, check the sender may change
    it. On refusal the sender is told why (a button press is answered) and None is returned."""
    chat, user = update.effective_chat, update.effective_user
    if chat is None or user is None:
        await answer(update)
        return None
    data = context.bot_data
    if chat.type == ChatType.PRIVATE:
        selected = data.channel_targets.get(user.id)
        if selected is not None:
            if change and not await is_chat_admin(context, selected.chat_id, user.id):
                await refuse(update, context, NOT_CHANNEL_ADMIN)
                return None
            await data.chats.ensure(selected.chat_id, "channel", selected.title)
            return Target(selected.chat_id, f"channel {selected.title}")
        await register_chat(update, context)
        return Target(chat.id, "this chat")
    if chat.type in (ChatType.GROUP, ChatType.SUPERGROUP):
        if change and not await _may_change_group(update, context):
            await refuse(update, context, NOT_ADMIN)
            return None
        await register_chat(update, context)
        return Target(chat.id, "this group")
    await answer(update)
    return None


async def _may_change_group(update: Update, context: AttacheContext) -> bool:
    chat, user = update.effective_chat, update.effective_user
    assert chat is not None and user is not None
    message = update.effective_message
    # An anonymous administrator posts as the group itself.
    if message is not None and message.sender_chat is not None:
        return message.sender_chat.id == chat.id
    return await is_chat_admin(context, chat.id, user.id)


def parse_int(text: str) -> int | None:
    """A small non-negative integer, or None (no exceptions from user input)."""
    text = text.strip().lstrip("#")
    if not (text.isascii() and text.isdigit()) or len(text) > 12:
        return None
    return int(text)


async def throttled(update: Update, context: AttacheContext) -> bool:
    """Count an expensive request; if the sender is over the limit, tell them and return True."""
    user = update.effective_user
    if user is None:
        return False
    wait = context.bot_data.search_throttle.hit(user.id)
    if wait <= 0:
        return False
    await refuse(update, context, wait_message(wait))
    return True
