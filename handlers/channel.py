"""``/channel @name``: from a private chat, one of a channel's administrators makes the channel
the target of the following subscription and digest commands; ``/channel off`` stops.

Both the user and the bot must be administrators of the channel (checked with getChatMember).
The selection lives in memory per user; a restart simply returns users to their own chat.
"""

from __future__ import annotations

import re

from telegram import Update
from telegram.constants import ChatType
from telegram.error import TelegramError
from telegram.ext import CommandHandler

from bot.render import escape
from bot.runtime.context import AttacheContext, ChannelTarget
from handlers.common import arg_text, is_chat_admin, reply

_CHANNEL = re.compile(r"^(@[A-Za-z][A-Za-z0-9_]{3,31}|-100\d{6,15})$")
USAGE = (
    "Manage a channel you administer: <code>/channel @yourchannel</code> "
    "(the bot must be an administrator there). <code>/channel off</code> returns to this chat."
)


async def cmd_channel(update: Update, context: AttacheContext) -> None:
    user, chat = update.effective_user, update.effective_chat
    assert user is not None and chat is not None
    if chat.type != ChatType.PRIVATE:
        await reply(update, context, "Send /channel to me in a private chat.")
        return
    data = context.bot_data
    arg = arg_text(update)
    if not arg:
        selected = data.channel_targets.get(user.id)
        now = f"Now managing: <b>{escape(selected.title)}</b>.\n" if selected else ""
        await reply(update, context, now + USAGE)
        return
    if arg.lower() == "off":
        data.channel_targets.pop(user.id, None)
        await reply(update, context, "Back to this chat: commands act on your own chat again.")
        return
    if not _CHANNEL.match(arg):
        await reply(update, context, "That is not a channel name. " + USAGE)
        return
    lookup: int | str = int(arg) if arg.startswith("-") else arg
    try:
        channel = await context.bot.get_chat(lookup)
    except TelegramError:
        await reply(
            update,
            context,
            f"I cannot see {escape(arg)}. Add me to the channel as an administrator first.",
        )
        return
    if channel.type != ChatType.CHANNEL:
        await reply(update, context, f"{escape(arg)} is not a channel.")
        return
    if not await is_chat_admin(context, channel.id, context.bot.id):
        await reply(update, context, f"Make me an administrator of {escape(arg)} first.")
        return
    if not await is_chat_admin(context, channel.id, user.id):
        await reply(update, context, f"Only administrators of {escape(arg)} can manage it.")
        return
    title = channel.title or arg
    data.channel_targets[user.id] = ChannelTarget(channel.id, title)
    await data.chats.ensure(channel.id, "channel", title)
    await reply(
        update,
        context,
        f"Now managing <b>{escape(title)}</b>: /subscribe, /subscriptions, /unsubscribe, "
        "/digest, /timezone and /stop act on the channel. /channel off to stop.",
    )


HANDLERS = [CommandHandler("channel", cmd_channel)]
