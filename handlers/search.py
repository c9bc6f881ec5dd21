"""``/search QUERY`` with paging buttons, and ``/article ID`` (also ``/article_123``).

An article is shown one page at a time in a single message, however long it is: "More ›" and
"‹ Back" edit that message to the next or previous page (``ap:<page>:<article id>``). A long
transcript once came back as dozens of messages in a row and tripped Telegram's flood limits
for every chat. Article pages are public data, so the buttons are not bound to a chat; a button
for a page or an article that does not exist is answered as stale.
"""

from __future__ import annotations

import re

from telegram import InlineKeyboardMarkup, Update
from telegram.ext import CallbackQueryHandler, CommandHandler, MessageHandler, filters

from bot.render import (
    MAX_ECHO_CHARS,
    MESSAGE_LIMIT,
    ArticlePage,
    article_page,
    escape,
    search_results,
    truncate,
)
from bot.runtime.context import AttacheContext
from bot.search.model import TOO_BROAD_NOTE, SearchResult
from handlers.common import (
    STALE_BUTTON,
    answer,
    arg_text,
    edit,
    keyboard,
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
    result: SearchResult,
    key: str,
    prefix: str = "s",
    heading: str | None = None,
    *,
    limit: int = MESSAGE_LIMIT,
) -> tuple[str, InlineKeyboardMarkup | None]:
    """The page text (within ``limit`` visible characters) and its pager (callback data
    ``prefix:page:key``)."""
    if result.too_broad:
        return too_broad(result), None
    text = search_results(result, PAGE_SIZE, heading, limit=limit)
    return text, pager(prefix, key, result.page, result.pages) if result.total else None


def too_broad(result: SearchResult) -> str:
    """The answer to a search stopped for costing too much: how to narrow it."""
    notes = "".join(f"\n<i>Note: {escape(w)}</i>" for w in result.warnings if w != TOO_BROAD_NOTE)
    return (
        f"<b>{escape(truncate(result.query, MAX_ECHO_CHARS))}</b> is too broad a search to "
        "answer quickly. Narrow it: more words, fewer or longer prefixes "
        "(<code>diplomat*</code> rather than <code>dip*</code>), fewer OR alternatives, "
        "or a date such as <code>since:2024-01</code>." + notes
    )


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


def article_buttons(article_id: int, page: ArticlePage) -> InlineKeyboardMarkup | None:
    """``‹ Back`` and ``More ›`` (``ap:<page>:<article id>``); none for a one-page article."""
    row: list[tuple[str, str]] = []
    if page.number > 1:
        row.append(("‹ Back", f"ap:{page.number - 1}:{article_id}"))
    if page.number < page.count:
        row.append(("More ›", f"ap:{page.number + 1}:{article_id}"))
    return keyboard(row) if row else None


async def _article_page(context: AttacheContext, article_id: int, page: int) -> ArticlePage | None:
    view = await context.bot_data.services.search.article(article_id)
    return None if view is None else article_page(view.article, view.entities, page)


async def show_article(update: Update, context: AttacheContext, id_text: str) -> None:
    """Page 1 of the article, as one message with More when there is more."""
    article_id = parse_int(id_text)
    if article_id is None:
        await reply(update, context, "Which article? e.g. <code>/article 1</code>")
        return
    page = await _article_page(context, article_id, 1)
    if page is None:
        await refuse(update, context, f"There is no article #{article_id}.")
        return
    await reply(update, context, page.html, article_buttons(article_id, page))


async def on_article_page(update: Update, context: AttacheContext) -> None:
    """``ap:<page>:<article id>``: edit the message to that page of the article."""
    callback = update.callback_query
    assert callback is not None and callback.data is not None
    _, page_text, id_text = callback.data.split(":", 2)
    number, article_id = parse_int(page_text), parse_int(id_text)
    page = None
    if number and article_id is not None:
        page = await _article_page(context, article_id, number)
    if article_id is None or page is None:
        await answer(update, STALE_BUTTON, alert=True)
        return
    await answer(update)
    await edit(callback, page.html, article_buttons(article_id, page))


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
    CallbackQueryHandler(on_article_page, pattern=r"^ap:\d{1,6}:\d{1,12}$"),
]
