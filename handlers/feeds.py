"""Admin-only feed commands: ``/addfeed URL [minutes]``, ``/feeds`` and ``/removefeed ID``.

Only ``ADMIN_IDS`` may use them; everyone else gets the same refusal as the other admin
commands. ``/removefeed`` asks first, with buttons (callback data ``fr:y:<id>`` / ``fr:n:<id>``);
a press is checked again against ``ADMIN_IDS``, so a forwarded or copied keyboard does not let
anyone else remove a feed. Times are shown in the chat's time zone when the chat is known, else
in UTC.
"""

from __future__ import annotations

from telegram import Update
from telegram.ext import CallbackQueryHandler, CommandHandler

from bot.feeds.service import (
    DEFAULT_INTERVAL_MIN,
    MIN_INTERVAL_MIN,
    Added,
    AlreadyAdded,
    FeedArgumentError,
    parse_add_arguments,
    parse_feed_id,
)
from bot.render import escape, feed_card, feeds_page
from bot.runtime.context import AttacheContext
from handlers.common import STALE_BUTTON, admin_only, answer, arg_text, edit, keyboard, reply

ADD_USAGE = (
    "Usage: <code>/addfeed URL [minutes]</code> — e.g. "
    "<code>/addfeed https://www.state.gov/rss-feed/press-releases/feed/ 15</code>. "
    f"Polled every {DEFAULT_INTERVAL_MIN} minutes unless you say otherwise "
    f"(at least {MIN_INTERVAL_MIN})."
)
REMOVE_USAGE = "Usage: <code>/removefeed ID</code> — the number shown by /feeds."
FALLBACK_ZONE = "UTC"


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:]


async def _zone(update: Update, context: AttacheContext) -> str:
    chat = update.effective_chat
    if chat is None:
        return FALLBACK_ZONE
    known = await context.bot_data.chats.find(chat.id)
    return known.tz if known is not None else FALLBACK_ZONE


@admin_only
async def cmd_addfeed(update: Update, context: AttacheContext) -> None:
    try:
        url, minutes = parse_add_arguments(arg_text(update))
    except FeedArgumentError as exc:
        await reply(update, context, f"{escape(_sentence(str(exc)))}.\n{ADD_USAGE}")
        return
    outcome = await context.bot_data.feeds.add(url, minutes)
    zone = await _zone(update, context)
    now = context.bot_data.services.clock()
    if isinstance(outcome, Added):
        text = "Feed added; its entries are fetched within a minute.\n\n"
        await reply(update, context, text + feed_card(outcome.feed, zone, now=now))
    elif isinstance(outcome, AlreadyAdded):
        text = "That feed is already polled.\n\n"
        await reply(update, context, text + feed_card(outcome.feed, zone, now=now))
    else:
        await reply(
            update,
            context,
            f"Not added: {escape(outcome.reason)}.\n"
            "Check that the address is the feed itself (RSS, Atom or JSON Feed), not a web page.",
        )


@admin_only
async def cmd_feeds(update: Update, context: AttacheContext) -> None:
    feeds = await context.bot_data.feeds.list()
    zone = await _zone(update, context)
    now = context.bot_data.services.clock()
    await reply(update, context, feeds_page(feeds, zone, now=now))


@admin_only
async def cmd_removefeed(update: Update, context: AttacheContext) -> None:
    try:
        feed_id = parse_feed_id(arg_text(update))
    except FeedArgumentError:
        await reply(update, context, REMOVE_USAGE)
        return
    feed = await context.bot_data.feeds.find(feed_id)
    if feed is None:
        await reply(update, context, f"There is no feed #{feed_id}. /feeds lists them.")
        return
    zone = await _zone(update, context)
    card = feed_card(feed, zone, now=context.bot_data.services.clock())
    await reply(
        update,
        context,
        f"Remove this feed? Its articles stay stored.\n\n{card}",
        keyboard([("Remove", f"fr:y:{feed.id}"), ("Keep", f"fr:n:{feed.id}")]),
    )


@admin_only
async def on_remove_button(update: Update, context: AttacheContext) -> None:
    query = update.callback_query
    if query is None:
        return
    parts = (query.data or "").split(":")
    if len(parts) != 3:
        await answer(update, STALE_BUTTON, alert=True)
        return
    _, choice, raw_id = parts
    try:
        feed_id = parse_feed_id(raw_id)
    except FeedArgumentError:
        await answer(update, STALE_BUTTON, alert=True)
        return
    if choice == "n":
        await answer(update, "Kept.")
        await edit(query, f"Feed #{feed_id} kept.", None)
        return
    removed = await context.bot_data.feeds.remove(feed_id)
    if removed is None:
        await answer(update, "Already removed.")
        await edit(query, f"Feed #{feed_id} was already removed.", None)
        return
    await answer(update, "Removed.")
    name = escape(removed.title or removed.url)
    await edit(query, f"Removed feed #{removed.id} ({name}). Its stored articles stay.", None)


HANDLERS = [
    CommandHandler("addfeed", cmd_addfeed),
    CommandHandler("feeds", cmd_feeds),
    CommandHandler("removefeed", cmd_removefeed),
    CallbackQueryHandler(on_remove_button, pattern=r"^fr:[yn]:"),
]
