"""Articles pasted or forwarded in a private chat (admins and ``ALLOWED_USER_IDS``), and posts
of the channels in ``SOURCE_CHANNEL_IDS`` (stored silently)."""

from __future__ import annotations

import logging

from telegram import Message, Update
from telegram.ext import MessageHandler, filters

from bot.ingest.model import IngestError
from bot.render import escape, ingest_card
from bot.runtime.context import AttacheContext
from bot.urls import is_http_url
from handlers.common import reply

log = logging.getLogger(__name__)
MIN_ARTICLE_CHARS = 400
NOT_ALLOWED = (
    "Only the bot's administrators and allowed users can add articles. "
    "To look for articles, try /search or /help."
)


def _body(message: Message) -> str:
    return (message.text or message.caption or "").strip()


class LooksLikeArticle(filters.MessageFilter):
    """Text over ~400 characters, or a message that is nothing but a URL."""

    def filter(self, message: Message) -> bool:
        body = _body(message)
        return len(body) > MIN_ARTICLE_CHARS or is_http_url(body)


async def on_article(update: Update, context: AttacheContext) -> None:
    message, user = update.effective_message, update.effective_user
    assert message is not None
    settings = context.bot_data.settings
    if not settings.may_ingest(user.id if user else None):
        await reply(update, context, escape(NOT_ALLOWED))
        return
    body = _body(message)
    services = context.bot_data.services
    try:
        if is_http_url(body):
            outcome = await services.ingest.url(body)
        else:
            outcome = await services.ingest.text(body, source="telegram")
    except IngestError as exc:
        await reply(update, context, f"Not stored: {escape(exc.message)}")
        return
    await reply(update, context, ingest_card(outcome))


async def on_channel_post(update: Update, context: AttacheContext) -> None:
    """Store a source channel's post without answering (a channel has no one to answer)."""
    post, chat = update.channel_post, update.effective_chat
    if post is None or chat is None or chat.id not in context.bot_data.settings.source_channel_ids:
        return
    body = _body(post)
    if len(body) < MIN_ARTICLE_CHARS:
        return
    source = f"@{chat.username}" if chat.username else (chat.title or "telegram")
    try:
        outcome = await context.bot_data.services.ingest.text(body, source=source)
    except IngestError as exc:
        log.info("channel %s post %s not stored: %s", chat.id, post.message_id, exc.message)
        return
    log.info(
        "channel %s post %s -> article #%s (%s)",
        chat.id,
        post.message_id,
        outcome.article_id,
        "new" if outcome.created else "duplicate",
    )


HANDLERS = [
    MessageHandler(
        filters.ChatType.PRIVATE
        & (filters.TEXT | filters.CAPTION)
        & ~filters.COMMAND
        & LooksLikeArticle(),
        on_article,
    ),
    MessageHandler(
        filters.UpdateType.CHANNEL_POST & (filters.TEXT | filters.CAPTION), on_channel_post
    ),
]
