"""Unknown commands and plain chatter get a short hint instead of silence.

In groups the bot answers only what is addressed to it (``/cmd@ThisBot``), not every message.
"""

from __future__ import annotations

from telegram import Update
from telegram.constants import ChatType
from telegram.ext import CallbackQueryHandler, MessageHandler, filters

from bot.render import escape
from bot.runtime.context import AttacheContext
from handlers.common import answer, reply

HINT = (
    "I did not understand that. Try <code>/search eurasian integration</code>, "
    "<code>/person Lavrov</code>, or /help for every command."
)


async def on_unknown_command(update: Update, context: AttacheContext) -> None:
    message, chat = update.effective_message, update.effective_chat
    if message is None or chat is None or not message.text:
        return
    word = message.text.split()[0]
    command, _, addressee = word.partition("@")
    if chat.type != ChatType.PRIVATE and addressee.lower() != (context.bot.username or "").lower():
        return
    await reply(update, context, f"There is no {escape(command)} command. " + HINT)


async def on_chatter(update: Update, context: AttacheContext) -> None:
    await reply(update, context, HINT)


async def on_stale_button(update: Update, context: AttacheContext) -> None:
    """Any button nobody else handled (old keyboards, the page counter): answer it."""
    await answer(update)


HANDLERS = [
    MessageHandler(filters.COMMAND, on_unknown_command),
    MessageHandler(
        filters.ChatType.PRIVATE & ~filters.COMMAND & ~filters.UpdateType.CHANNEL_POSTS, on_chatter
    ),
    CallbackQueryHandler(on_stale_button),
]
