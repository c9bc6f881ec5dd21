"""``/search QUERY`` with paging buttons, and ``/article ID`` (also ``/article_123``)."""

from __future__ import annotations

import re

from telegram import InlineKeyboardMarkup, Update
from telegram.ext import CallbackQueryHandler, CommandHandler, MessageHandler, filters

from bot.render import article_html, search_results
from bot.runtime.context import AttacheContext
from bot.search.model import SearchResult
from handlers.common import (
    STALE_BUTTON,
    answer,
    arg_text,
    edit,
    pager,
    parse_int,
    refuse,
    reply,
    throttled,
)

PAGE_SIZE = 5
USAGE = (
    "Type what to look for, e.g. <code>/search eurasian integration</code>.\n"
    'Also: <code>"foreign minister"</code>, <code>nato OR osce</code>, <code>-sport</code>, '
    "<code>secur*</code>, <code>person:Lavrov</code>, <code>since:2024-01</code>."
)
_ARTICLE_LINK = re.compile(r"^/article_(\d{1,12})(?:@\w+)?$")


def render_results(
    result: SearchResult, key: str, prefix: str = "s", heading: str | None = None
) -> tuple[str, InlineKeyboardMarkup | None]:
    """The page text and its pager (callback data ``prefix:page:key``)."""
    text = search_results(result, PAGE_SIZE, heading)
    return text, pager(prefix, key, result.page, result.pages) if result.total else None


async def run_search(update: Update, context: AttacheContext, query: str) -> None:
    """Search and send page 1 as a new message (also used by /start's example button)."""
    chat = update.effective_chat
    if chat is None or await throttled(update, context):
        return
    result = await context.bot_data.services.search.query(query, page=1, page_size=PAGE_SIZE)
    token = context.bot_data.queries.put(chat.id, query)
    text, markup = render_results(result, token)
    await reply(update, context, text, markup)


async def cmd_search(update: Update, context: AttacheContext) -> None:
    query = arg_text(update)
    if not query:
        await reply(update, context, USAGE)
        return
    await run_search(update, context, query)


async def on_page(update: Update, context: AttacheContext) -> None:
    """``s:<page>:<token>``: the token must belong to the chat the button was pressed in."""
    callback, chat = update.callback_query, update.effective_chat
    assert callback is not None and callback.data is not None and chat is not None
    _, page_text, token = callback.data.split(":", 2)
    query = context.bot_data.queries.get(chat.id, token)
    page = parse_int(page_text)
    if query is None or not page:
        await answer(update, STALE_BUTTON, alert=True)
        return
    if await throttled(update, context):
        return
    result = await context.bot_data.services.search.query(query, page=page, page_size=PAGE_SIZE)
    text, markup = render_results(result, token)
    await answer(update)
    await edit(callback, text, markup)


async def show_article(update: Update, context: AttacheContext, id_text: str) -> None:
    article_id = parse_int(id_text)
    if article_id is None:
        await reply(update, context, "Which article? e.g. <code>/article 1</code>")
        return
    view = await context.bot_data.services.search.article(article_id)
    if view is None:
        await refuse(update, context, f"There is no article #{article_id}.")
        return
    await reply(update, context, article_html(view.article, list(view.entities)))


async def cmd_article(update: Update, context: AttacheContext) -> None:
    await show_article(update, context, arg_text(update))


async def on_article_link(update: Update, context: AttacheContext) -> None:
    """``/article_123`` as printed under each search result."""
    message = update.effective_message
    match = _ARTICLE_LINK.match(message.text or "") if message else None
    if match:
        await show_article(update, context, match[1])


HANDLERS = [
    CommandHandler("search", cmd_search),
    CommandHandler("article", cmd_article),
    MessageHandler(filters.Regex(_ARTICLE_LINK) & filters.COMMAND, on_article_link),
    CallbackQueryHandler(on_page, pattern=r"^s:\d{1,6}:[\w-]{1,16}$"),
]
