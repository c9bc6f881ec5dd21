"""The composition root: builds the PTB ``Application`` with every handler, and runs it.

This is the only module that imports ``handlers``. Long polling by default; a webhook when
``WEBHOOK_URL`` is set (Telegram's ``secret_token`` header checked against ``WEBHOOK_SECRET``).
PTB's ``run_polling``/``run_webhook`` stop gracefully on SIGINT and SIGTERM, running
``post_shutdown`` (which closes storage) on the way out.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

from telegram import (
    BotCommand,
    BotCommandScope,
    BotCommandScopeAllGroupChats,
    BotCommandScopeAllPrivateChats,
    LinkPreviewOptions,
    Update,
)
from telegram.constants import ParseMode
from telegram.error import InvalidToken, TelegramError
from telegram.ext import (
    AIORateLimiter,
    Application,
    ApplicationBuilder,
    BaseHandler,
    CommandHandler,
    Defaults,
    ExtBot,
)

from bot.config import Settings
from bot.digests.service import Digests, RunReport
from bot.factory import make_storage
from bot.logs import redact
from bot.runtime.commands import Scope, menu
from bot.runtime.context import CONTEXT_TYPES, AttacheContext, BotData, ChatData, UserData
from bot.runtime.jobs import schedule_jobs
from bot.runtime.sender import Deliverer
from bot.services import Services
from handlers import (
    access,
    admin,
    channel,
    digest,
    errors,
    fallback,
    feeds,
    help,
    ingest_forward,
    latest,
    person,
    search,
    start,
    stop,
    subscribe,
)

log = logging.getLogger(__name__)

AttacheApp = Application[Any, AttacheContext, UserData, ChatData, BotData, Any]
# Only what some handler uses; anything else would be fetched and thrown away.
ALLOWED_UPDATES = [Update.MESSAGE, Update.CALLBACK_QUERY, Update.CHANNEL_POST]
# Feature modules in matching order; fallback must stay last (it catches everything left).
FEATURES = (
    start,
    help,
    search,
    person,
    latest,
    subscribe,
    digest,
    stop,
    admin,
    feeds,
    channel,
    ingest_forward,
    fallback,
)


def file_base_url(base_url: str) -> str:
    """``http://host/bot`` -> ``http://host/file/bot`` (the Bot API's file download root)."""
    head, sep, tail = base_url.rstrip("/").rpartition("/")
    if sep and tail.startswith("bot"):
        return f"{head}/file/{tail}"
    return base_url.rstrip("/") + "/file/bot"


def registered_commands(handlers: Iterable[BaseHandler[Any, Any, Any]]) -> set[str]:
    """Every command name a list of handlers answers (to compare with ``bot.runtime.commands``)."""
    names: set[str] = set()
    for handler in handlers:
        if isinstance(handler, CommandHandler):
            names.update(handler.commands)
    return names


class BotStartError(Exception):
    """The bot could not start talking to Telegram; the message says what to check (and never
    contains the token)."""


def build_bot(settings: Settings) -> ExtBot[int]:
    """The one Bot the process talks to Telegram with: HTML replies without link previews, and
    PTB's rate limiter waiting out any 429. The application and ``send_due_once`` both use it."""
    if settings.telegram_bot_token is None:
        raise BotStartError("TELEGRAM_BOT_TOKEN is not set")
    return ExtBot(
        settings.telegram_bot_token.get_secret_value(),
        base_url=settings.telegram_api_base_url,
        base_file_url=file_base_url(settings.telegram_api_base_url),
        defaults=Defaults(
            parse_mode=ParseMode.HTML,
            link_preview_options=LinkPreviewOptions(is_disabled=True),
        ),
        rate_limiter=AIORateLimiter(max_retries=3),
    )


def build_application(
    settings: Settings, services: Services | None = None, *, scheduled_jobs: bool = True
) -> AttacheApp:
    """The bot, wired: storage opened in post_init, closed in post_shutdown.

    ``scheduled_jobs=False`` leaves the JobQueue empty (no digests, matching catch-up or feed
    polling on a timer): ``attache console`` runs the real bot on a person's own database
    against a local server, where digests to their real chats must not be attempted."""
    services = services if services is not None else Services(make_storage(settings), settings)

    async def post_init(app: AttacheApp) -> None:
        await services.open()
        scopes: tuple[tuple[Scope, BotCommandScope], ...] = (
            ("private", BotCommandScopeAllPrivateChats()),
            ("group", BotCommandScopeAllGroupChats()),
        )
        for scope, scope_object in scopes:
            commands = [BotCommand(name, text) for name, text in menu(scope)]
            await app.bot.set_my_commands(commands, scope=scope_object)
        if scheduled_jobs:
            schedule_jobs(app)  # digests, instant alerts, matching catch-up, feed polling
        log.info("bot @%s ready", app.bot.username)

    async def post_shutdown(app: AttacheApp) -> None:
        await services.close()

    app = (
        ApplicationBuilder()
        .bot(build_bot(settings))
        .context_types(CONTEXT_TYPES)
        .post_init(post_init)
        .post_shutdown(post_shutdown)
        .build()
    )
    digests = Digests(services.storage, Deliverer(app.bot), clock=services.clock)
    app.bot_data.bind(services, digests)
    app.add_handlers(access.HANDLERS, group=-1)
    for feature in FEATURES:
        app.add_handlers(feature.HANDLERS)
    app.add_error_handler(errors.on_error)
    return app


async def send_due_once(services: Services) -> RunReport:
    """``attache digest send-due``: every due digest once, through the same Bot the running
    application uses (no polling). ``services`` must be open."""
    async with build_bot(services.settings) as bot:
        digests = Digests(services.storage, Deliverer(bot), clock=services.clock)
        return await digests.send_due()


def run_bot(settings: Settings) -> None:
    """Run until SIGINT/SIGTERM: long polling, or a webhook when WEBHOOK_URL is set.

    Raises BotStartError when the Bot API refuses the token or cannot be reached."""
    base_url = redact(settings.telegram_api_base_url, settings)
    try:
        _run(build_application(settings), settings)
    except InvalidToken:
        # Its message quotes the token; say what to check instead.
        raise BotStartError(
            f"the Bot API at {base_url} rejected TELEGRAM_BOT_TOKEN. "
            "Check the token (from @BotFather) and TELEGRAM_API_BASE_URL."
        ) from None
    except TelegramError as exc:
        raise BotStartError(
            f"cannot reach the Bot API at {base_url}: {redact(str(exc), settings)}"
        ) from None


def webhook_secret(settings: Settings) -> str:
    """The secret Telegram must send with every webhook call: WEBHOOK_SECRET, or a random one
    for this run (registered with setWebhook, so Telegram sends it; never logged). Without one,
    anyone who finds the URL could post forged updates, an admin's user id included."""
    configured = settings.webhook_secret.get_secret_value() if settings.webhook_secret else ""
    if configured:
        return configured
    log.warning("WEBHOOK_SECRET is not set: using a random secret for this run")
    return secrets.token_urlsafe(32)


def _run(app: AttacheApp, settings: Settings) -> None:
    if settings.webhook_url:
        secret = webhook_secret(settings)
        app.run_webhook(
            listen=settings.webhook_listen,
            port=settings.webhook_port,
            url_path=urlsplit(settings.webhook_url).path.lstrip("/"),
            webhook_url=settings.webhook_url,
            secret_token=secret,
            allowed_updates=ALLOWED_UPDATES,
            drop_pending_updates=False,
        )
        return
    app.run_polling(allowed_updates=ALLOWED_UPDATES, drop_pending_updates=False)
