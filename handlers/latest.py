"""``/latest [N]``: the newest diplomatic articles."""

from __future__ import annotations

from telegram import Update
from telegram.ext import CommandHandler

from bot.render import results_page
from bot.runtime.context import AttacheContext
from handlers.common import arg_text, parse_int, reply, throttled

DEFAULT_COUNT = 5
MAX_COUNT = 20


async def run_latest(update: Update, context: AttacheContext, count: int) -> None:
    """Reply with the ``count`` newest diplomatic articles."""
    if await throttled(update, context):
        return
    hits = await context.bot_data.services.search.latest(count)
    if not hits:
        await reply(update, context, "No diplomatic articles are stored yet.")
        return
    text = results_page("Latest diplomatic news", hits, total=len(hits), page=1, page_size=count)
    await reply(update, context, text)


async def cmd_latest(update: Update, context: AttacheContext) -> None:
    raw = arg_text(update)
    count = parse_int(raw) if raw else DEFAULT_COUNT
    if not count:
        await reply(update, context, f"Give a number from 1 to {MAX_COUNT}, e.g. /latest 10.")
        return
    await run_latest(update, context, min(count, MAX_COUNT))


HANDLERS = [CommandHandler("latest", cmd_latest)]
