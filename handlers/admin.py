"""Admin-only commands (``ADMIN_IDS``): ``/ingest URL`` (or as a reply to a message with the
article's text) and ``/stats``."""

from __future__ import annotations

from telegram import Update
from telegram.ext import CommandHandler

from bot.ingest.model import IngestError
from bot.render import escape, ingest_card
from bot.runtime.context import AttacheContext
from handlers.common import arg_text, refuse, reply

ADMINS_ONLY = "This command is for the bot's administrators."


def _is_admin(update: Update, context: AttacheContext) -> bool:
    user = update.effective_user
    return context.bot_data.settings.is_admin(user.id if user else None)


async def cmd_ingest(update: Update, context: AttacheContext) -> None:
    if not _is_admin(update, context):
        await refuse(update, context, ADMINS_ONLY)
        return
    services = context.bot_data.services
    url = arg_text(update)
    message = update.effective_message
    replied = message.reply_to_message if message else None
    try:
        if url:
            if not url.startswith(("http://", "https://")):
                await reply(update, context, "Give an http(s) URL, or reply to a message with it.")
                return
            outcome = await services.ingest_url(url)
        elif replied is not None and (replied.text or replied.caption):
            outcome = await services.ingest_text(replied.text or replied.caption or "")
        else:
            await reply(
                update, context, "Usage: <code>/ingest URL</code>, or reply /ingest to a message."
            )
            return
    except IngestError as exc:
        await reply(update, context, f"Not stored: {escape(exc.message)}")
        return
    await reply(update, context, ingest_card(outcome))


async def cmd_stats(update: Update, context: AttacheContext) -> None:
    if not _is_admin(update, context):
        await refuse(update, context, ADMINS_ONLY)
        return
    stats = await context.bot_data.services.stats()
    rows = [
        ("Articles", stats.articles),
        ("Sources", stats.sources),
        ("Entities", stats.entities),
        ("Chats", stats.chats),
        ("Subscriptions", stats.subscriptions),
        ("Feeds", stats.feeds),
    ]
    lines = ["<b>Database</b>", *(f"{name}: {value:,}" for name, value in rows)]
    lines.append(f"Size: {stats.db_bytes / 1_048_576:.1f} MB")
    await reply(update, context, "\n".join(lines))


HANDLERS = [
    CommandHandler("ingest", cmd_ingest),
    CommandHandler("stats", cmd_stats),
]
