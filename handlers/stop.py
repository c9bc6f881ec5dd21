"""``/stop``: after confirmation, forget the chat (subscriptions, inbox, settings).

Callback data ``stop:y`` / ``stop:n``; the presser is re-checked like any other change.
"""

from __future__ import annotations

from telegram import Update
from telegram.ext import CallbackQueryHandler, CommandHandler

from bot.render import escape
from bot.runtime.context import AttacheContext
from handlers.common import answer, edit, keyboard, reply, target_chat


async def cmd_stop(update: Update, context: AttacheContext) -> None:
    target = await target_chat(update, context, change=True)
    if target is None:
        return
    question = (
        f"Forget {escape(target.label)}? Its subscriptions, pending digest items and settings "
        "are deleted. Nothing more is sent until you start again."
    )
    await reply(update, context, question, keyboard([("Yes, forget", "stop:y"), ("No", "stop:n")]))


async def on_confirm(update: Update, context: AttacheContext) -> None:
    callback, user = update.callback_query, update.effective_user
    assert callback is not None and user is not None
    if callback.data == "stop:n":
        await answer(update)
        await edit(callback, "Nothing was changed.", None)
        return
    target = await target_chat(update, context, change=True)
    if target is None:
        return
    await context.bot_data.chats.forget(target.chat_id)
    selected = context.bot_data.channel_targets.get(user.id)
    if selected is not None and selected.chat_id == target.chat_id:
        del context.bot_data.channel_targets[user.id]
    await answer(update)
    await edit(
        callback,
        f"Forgot {escape(target.label)}. Send /start if you want to come back.",
        None,
    )


HANDLERS = [
    CommandHandler("stop", cmd_stop),
    CallbackQueryHandler(on_confirm, pattern=r"^stop:[yn]$"),
]
