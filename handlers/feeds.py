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

from bot.feeds.admin import (
    DEFAULT_INTERVAL_MIN,
    MIN_INTERVAL_MIN,
    Added,
    AlreadyAdded,
    FeedArgumentError,
    add_feed,
    find_feed,
    list_feeds,
    parse_add_arguments,
    parse_feed_id,
    remove_feed,
)
from bot.render import escape, feed_card, feeds_page
from bot.runtime.context import AttacheContext
from handlers.admin import ADMINS_ONLY
from handlers.common import STALE_BUTTON, answer, arg_text, edit, keyboard, refuse, reply
from storage.errors import NotFound

ADD_USAGE = (
    "Usage: <code>/addfeed URL [minutes]</code> — e.g. "
    "<code>/addfeed https://www.state.gov/rss-feed/press-releases/feed/ 15</code>. "
    f"Polled every {DEFAULT_INTERVAL_MIN} minutes unless you say otherwise "
    f"(at least {MIN_INTERVAL_MIN})."
)
REMOVE_USAGE = "Usage: <code>/removefeed ID</code> — the number shown by /feeds."
FALLBACK_ZONE = "UTC"


async def _admin(update: Update, context: AttacheContext) -> bool:
    """Whether the sender is a bot administrator; if not, say no as the other admin commands do."""
    user = update.effective_user
    if context.bot_data.settings.is_admin(user.id if user else None):
        return True
    await refuse(update, context, ADMINS_ONLY)
    return False


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:]


async def _zone(update: Update, context: AttacheContext) -> str:
    chat = update.effective_chat
    if chat is None:
        return FALLBACK_ZONE
    try:
        return (await context.bot_data.chats.get(chat.id)).tz
    except NotFound:
        return FALLBACK_ZONE


async def cmd_addfeed(update: Update, context: AttacheContext) -> None:
    if not await _admin(update, context):
        return
    try:
        url, minutes = parse_add_arguments(arg_text(update))
    except FeedArgumentError as exc:
        await reply(update, context, f"{escape(_sentence(str(exc)))}.\n{ADD_USAGE}")
        return
    outcome = await add_feed(context.bot_data.feeds, url, minutes)
    zone = await _zone(update, context)
    now = context.bot_data.services.now()
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


async def cmd_feeds(update: Update, context: AttacheContext) -> None:
    if not await _admin(update, context):
        return
    feeds = await list_feeds(context.bot_data.feeds)
    zone = await _zone(update, context)
    now = context.bot_data.services.now()
    await reply(update, context, feeds_page(feeds, zone, now=now))


async def cmd_removefeed(update: Update, context: AttacheContext) -> None:
    if not await _admin(update, context):
        return
    try:
        feed_id = parse_feed_id(arg_text(update))
    except FeedArgumentError:
        await reply(update, context, REMOVE_USAGE)
        return
    feed = await find_feed(context.bot_data.feeds, feed_id)
    if feed is None:
        await reply(update, context, f"There is no feed #{feed_id}. /feeds lists them.")
        return
    zone = await _zone(update, context)
    card = feed_card(feed, zone, now=context.bot_data.services.now())
    await reply(
        update,
        context,
        f"Remove this feed? Its articles stay stored.\n\n{card}",
        keyboard([("Remove", f"fr:y:{feed.id}"), ("Keep", f"fr:n:{feed.id}")]),
    )


async def on_remove_button(update: Update, context: AttacheContext) -> None:
    query = update.callback_query
    if query is None:
        return
    if not await _admin(update, context):
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
    removed = await remove_feed(context.bot_data.feeds, feed_id)
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
