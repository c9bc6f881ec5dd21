"""``/person NAME``: canonical name, variants and latest articles; a button per candidate when
the name is ambiguous (``p:<entity id>``); paging with ``pp:<page>:<entity id>``."""

from __future__ import annotations

from telegram import InlineKeyboardMarkup, Update
from telegram.ext import CallbackQueryHandler, CommandHandler

from bot.render import (
    MAX_ECHO_CHARS,
    MESSAGE_LIMIT,
    entity_label,
    escape,
    person_card,
    truncate,
    visible_length,
)
from bot.runtime.context import AttacheContext
from bot.search.model import SearchResult
from handlers.common import (
    STALE_BUTTON,
    answer,
    arg_text,
    edit,
    keyboard,
    parse_int,
    reply,
    throttled,
)
from handlers.search import PAGE_SIZE, render_results
from storage.models import Entity

MAX_CANDIDATES = 8
USAGE = "Whom? e.g. <code>/person Lavrov</code> or <code>/person Sergei Lavrov</code>."


def render_person(entity: Entity, result: SearchResult) -> tuple[str, InlineKeyboardMarkup | None]:
    """The person card followed by a page of their latest articles."""
    if result.too_broad:
        name = escape(truncate(entity.canonical, MAX_ECHO_CHARS))
        return person_card(entity) + (
            "\n\nListing their articles took too long. Narrow it with a search and a date: "
            f'<code>/search person:"{name}" since:2024-01</code>'
        ), None
    if result.total == 0:
        return person_card(entity) + "\n\nNo stored articles mention this person yet.", None
    card = person_card(entity)
    room = MESSAGE_LIMIT - visible_length(card) - 2  # the page is one message with the card
    text, markup = render_results(
        result, str(entity.id), prefix="pp", heading="Latest articles", limit=room
    )
    return card + "\n\n" + text, markup


async def run_person(update: Update, context: AttacheContext, name: str) -> None:
    """Look a name up and reply (also used by /start's example button)."""
    if await throttled(update, context):
        return
    found = await context.bot_data.services.search.person(name, page_size=PAGE_SIZE)
    shown = escape(truncate(name, MAX_ECHO_CHARS))
    if not found.candidates:
        await reply(
            update,
            context,
            f"No person known as <b>{shown}</b>. Try the surname alone, "
            f"or search the words: <code>/search {shown}</code>",
        )
        return
    if found.results is None:
        rows = [
            [(truncate(entity_label(c), 60), f"p:{c.id}")]
            for c in found.candidates[:MAX_CANDIDATES]
        ]
        question = f"<b>{shown}</b> may mean several people. Which one?"
        await reply(update, context, question, keyboard(*rows))
        return
    text, markup = render_person(found.candidates[0], found.results)
    await reply(update, context, text, markup)


async def cmd_person(update: Update, context: AttacheContext) -> None:
    name = arg_text(update)
    if not name:
        await reply(update, context, USAGE)
        return
    await run_person(update, context, name)


async def _show(update: Update, context: AttacheContext, entity_text: str, page: int) -> None:
    callback = update.callback_query
    assert callback is not None
    entity_id = parse_int(entity_text)
    services = context.bot_data.services
    entity = None if entity_id is None else await services.search.entity(entity_id)
    if entity is None or entity.kind != "person" or page < 1:
        await answer(update, STALE_BUTTON, alert=True)
        return
    if await throttled(update, context):
        return
    result = await services.search.person_articles(
        entity.id, page=page, page_size=PAGE_SIZE, query=entity.canonical
    )
    text, markup = render_person(entity, result)
    await answer(update)
    await edit(callback, text, markup)


async def on_pick(update: Update, context: AttacheContext) -> None:
    """``p:<entity id>``: a candidate chosen from the "which one?" buttons."""
    assert update.callback_query is not None and update.callback_query.data is not None
    await _show(update, context, update.callback_query.data.removeprefix("p:"), 1)


async def on_page(update: Update, context: AttacheContext) -> None:
    """``pp:<page>:<entity id>``: entity pages are public data, so nothing chat-bound."""
    assert update.callback_query is not None and update.callback_query.data is not None
    _, page_text, entity_text = update.callback_query.data.split(":", 2)
    await _show(update, context, entity_text, parse_int(page_text) or 0)


HANDLERS = [
    CommandHandler("person", cmd_person),
    CallbackQueryHandler(on_pick, pattern=r"^p:\d{1,12}$"),
    CallbackQueryHandler(on_page, pattern=r"^pp:\d{1,6}:\d{1,12}$"),
]
