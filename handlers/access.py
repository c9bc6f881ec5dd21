"""The gate in front of every handler: when ``ALLOWED_USER_IDS`` is set, only those users (and
admins) use the bot. Channel posts pass; their handler checks ``SOURCE_CHANNEL_IDS`` itself."""

from __future__ import annotations

from telegram import Update
from telegram.ext import ApplicationHandlerStop, TypeHandler

from bot.runtime.context import AttacheContext
from handlers.common import answer, reply

PRIVATE_BOT = "This bot is private. Ask its administrator for access."


async def gate(update: Update, context: AttacheContext) -> None:
    if update.channel_post is not None or update.edited_channel_post is not None:
        return
    user = update.effective_user
    if context.bot_data.settings.may_use(user.id if user else None):
        return
    if update.callback_query is not None:
        await answer(update, PRIVATE_BOT, alert=True)
    elif (
        update.message is not None
        and update.effective_chat is not None
        and update.effective_chat.type == "private"
    ):
        await reply(update, context, PRIVATE_BOT)
    raise ApplicationHandlerStop


HANDLERS = [TypeHandler(Update, gate)]
