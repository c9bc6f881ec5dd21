"""Admin-only commands (``ADMIN_IDS``): ``/ingest URL`` (or as a reply to a message with the
article's text) and ``/stats``."""

from __future__ import annotations

from telegram import Update
from telegram.ext import CommandHandler

from bot.ingest.model import IngestError
from bot.render import escape, ingest_card, stats_card
from bot.runtime.context import AttacheContext
from bot.urls import has_http_scheme
from handlers.common import admin_only, arg_text, reply


@admin_only
async def cmd_ingest(update: Update, context: AttacheContext) -> None:
    services = context.bot_data.services
    url = arg_text(update)
    message = update.effective_message
    replied = message.reply_to_message if message else None
    try:
        if url:
            if not has_http_scheme(url):
                await reply(update, context, "Give an http(s) URL, or reply to a message with it.")
                return
            outcome = await services.ingest.url(url)
        elif replied is not None and (replied.text or replied.caption):
            outcome = await services.ingest.text(replied.text or replied.caption or "")
        else:
            await reply(
                update, context, "Usage: <code>/ingest URL</code>, or reply /ingest to a message."
            )
            return
    except IngestError as exc:
        await reply(update, context, f"Not stored: {escape(exc.message)}")
        return
    await reply(update, context, ingest_card(outcome))


@admin_only
async def cmd_stats(update: Update, context: AttacheContext) -> None:
    stats = await context.bot_data.services.search.stats()
    await reply(update, context, stats_card(stats))


HANDLERS = [
    CommandHandler("ingest", cmd_ingest),
    CommandHandler("stats", cmd_stats),
]
