"""``/help``: exactly the registered commands, one line each (from ``bot.runtime.commands``)."""

from __future__ import annotations

from telegram import Update
from telegram.constants import ChatType
from telegram.ext import CommandHandler

from bot.runtime.commands import Scope, help_text
from bot.runtime.context import AttacheContext
from handlers.common import reply


async def cmd_help(update: Update, context: AttacheContext) -> None:
    chat, user = update.effective_chat, update.effective_user
    scope: Scope = "private" if chat is not None and chat.type == ChatType.PRIVATE else "group"
    is_admin = context.bot_data.settings.is_admin(user.id if user else None)
    await reply(update, context, help_text(is_admin=is_admin, scope=scope))


HANDLERS = [CommandHandler("help", cmd_help)]
