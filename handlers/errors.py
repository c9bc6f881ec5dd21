"""The one error handler: log the failure with its traceback first, then tell the user that
something went wrong, without details. A chat that blocked the bot is marked, not retried."""

from __future__ import annotations

import logging

from telegram import Update
from telegram.error import Forbidden, TelegramError

from bot.render import escape
from bot.runtime.context import AttacheContext

log = logging.getLogger(__name__)
SORRY = "Sorry, something went wrong. Please try again in a moment."


async def on_error(update: object, context: AttacheContext) -> None:
    error = context.error
    chat = update.effective_chat if isinstance(update, Update) else None
    chat_id = chat.id if chat else None
    blocked = isinstance(error, Forbidden)
    # A chat that blocked or removed the bot is routine, not a fault: log it quietly.
    log.log(
        logging.INFO if blocked else logging.ERROR,
        "error while handling update (chat %s)",
        chat_id,
        exc_info=error,
    )
    if blocked:
        # Nobody to tell; stop digests to that chat.
        if chat_id is not None:
            try:
                await context.bot_data.chats.mark_blocked(chat_id)
            except Exception:
                log.exception("could not mark chat %s blocked", chat_id)
        return
    if not isinstance(update, Update) or chat_id is None:
        return
    try:
        if update.callback_query is not None:
            await update.callback_query.answer(SORRY, show_alert=True)
        else:
            await context.bot.send_message(chat_id, escape(SORRY))
    except TelegramError:
        log.warning("could not tell chat %s about the error", chat_id)
