"""The composition root: builds the PTB ``Application`` with every handler, and runs it.

This is the only module that imports ``handlers``. Long polling by default; a webhook when
``WEBHOOK_URL`` is set (Telegram's ``secret_token`` header checked against ``WEBHOOK_SECRET``).

``attache run`` stops cleanly (exit status 0) on SIGINT or SIGTERM in every phase: while it
waits for ``getMe``, opens storage, sets its commands, deletes or sets the webhook, polls, sends
a digest, or is already stopping. A signal never interrupts the code it lands in (PTB's own
``run_polling`` raises ``SystemExit`` from its handler, which abandons a Bot API request
half-way through start-up; that request's clean-up then runs with no event loop and fails).
It only *requests* the stop: :func:`serve` cancels an unfinished start-up inside the loop, then
stops the parts that were started, in order, and closes storage and the HTTP clients.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import signal
import socket
from collections.abc import Awaitable, Callable, Iterable, Sequence
from types import FrameType
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
from bot.runtime.updates import SenderLanes
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
        .concurrent_updates(SenderLanes())  # one slow command must not hold up other users
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
    application uses (no polling). ``services`` must be open. Raises BotStartError, as
    ``run_bot`` does, when the Bot API refuses the token or cannot be reached."""
    base_url = redact(services.settings.telegram_api_base_url, services.settings)
    try:
        async with build_bot(services.settings) as bot:
            digests = Digests(services.storage, Deliverer(bot), clock=services.clock)
            return await digests.send_due()
    except InvalidToken:
        # Its message quotes the token; say what to check instead.
        raise BotStartError(
            f"the Bot API at {base_url} rejected TELEGRAM_BOT_TOKEN. "
            "Check the token (from @BotFather) and TELEGRAM_API_BASE_URL."
        ) from None
    except TelegramError as exc:
        raise BotStartError(
            f"cannot reach the Bot API at {base_url}: {redact(str(exc), services.settings)}"
        ) from None


#: The signals that stop ``attache run``.
STOP_SIGNALS: tuple[signal.Signals, ...] = (signal.SIGINT, signal.SIGTERM)


class StopRequest:
    """SIGINT/SIGTERM as a request to stop, noted in whatever phase it arrives.

    :meth:`install` replaces the default actions (killing the process, or ``KeyboardInterrupt``
    raised wherever the main thread happens to be) with a handler that only notes the request
    and wakes the event loop :func:`serve` attached, if any. A request that came before the
    loop ran is seen as soon as it does; later signals change nothing. The handlers stay for
    the life of the process (asyncio's own ``add_signal_handler`` would put the default action
    back when its loop closes).

    While a loop is attached, the signal's arrival also writes to a socket the loop watches
    (``signal.set_wakeup_fd``, as asyncio does), so the loop wakes even when the kernel hands
    the signal to another thread (aiosqlite's, the executor's) and Python runs the handler only
    once the main thread is back.
    """

    def __init__(self) -> None:
        self.reason: str | None = None
        self._event: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wakeup: tuple[socket.socket, socket.socket] | None = None
        self._previous_wakeup_fd = -1

    @classmethod
    def install(cls, signals: Sequence[int] = STOP_SIGNALS) -> StopRequest:
        """A request object, handling ``signals`` from now on (call from the main thread)."""
        request = cls()
        for number in signals:
            signal.signal(number, request._on_signal)
        return request

    @property
    def requested(self) -> bool:
        return self.reason is not None

    def request(self, reason: str) -> None:
        """Ask for the stop (the signal handler does; safe in a signal handler)."""
        first = self.reason is None
        if first:
            self.reason = reason
        loop, event = self._loop, self._event
        if loop is None or event is None:
            return
        with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
            if first:
                loop.call_soon_threadsafe(event.set)
            else:
                loop.call_soon_threadsafe(log.info, "%s: already stopping", reason)

    def _on_signal(self, number: int, frame: FrameType | None) -> None:
        self.request(signal.Signals(number).name)

    def attach(self) -> asyncio.Event:
        """An event of the running loop, set on a request (at once if one came already)."""
        loop = asyncio.get_running_loop()
        reader, writer = socket.socketpair()
        reader.setblocking(False)
        writer.setblocking(False)
        loop.add_reader(reader.fileno(), _drain, reader)
        self._wakeup = (reader, writer)
        self._previous_wakeup_fd = signal.set_wakeup_fd(writer.fileno(), warn_on_full_buffer=False)
        event = asyncio.Event()
        self._event = event
        self._loop = loop
        if self.requested:
            event.set()
        return event

    def detach(self) -> None:
        loop, self._loop, self._event = self._loop, None, None
        if self._wakeup is None:
            return
        signal.set_wakeup_fd(self._previous_wakeup_fd)
        reader, writer = self._wakeup
        self._wakeup = None
        if loop is not None:
            loop.remove_reader(reader.fileno())
        reader.close()
        writer.close()


def _drain(reader: socket.socket) -> None:
    """Empty the wake-up socket (the Python signal handler does the work)."""
    with contextlib.suppress(OSError):  # BlockingIOError: empty
        while reader.recv(4096):
            pass


async def start_app(app: AttacheApp, settings: Settings) -> None:
    """What PTB's ``run_polling``/``run_webhook`` do before they wait: initialise (``getMe``),
    ``post_init`` (storage, commands, jobs), fetch updates (``deleteWebhook`` and long polling,
    or the webhook listener and ``setWebhook``), start the application (JobQueue, updates)."""
    await app.initialize()
    if app.post_init is not None:
        await app.post_init(app)
    updater = app.updater
    if updater is None:
        raise RuntimeError("the application has no Updater")
    if settings.webhook_url:
        await updater.start_webhook(
            listen=settings.webhook_listen,
            port=settings.webhook_port,
            url_path=urlsplit(settings.webhook_url).path.lstrip("/"),
            webhook_url=settings.webhook_url,
            secret_token=webhook_secret(settings),
            allowed_updates=ALLOWED_UPDATES,
            drop_pending_updates=False,
        )
    else:

        def on_polling_error(error: TelegramError) -> None:
            app.create_task(app.process_error(error=error, update=None))

        await updater.start_polling(
            allowed_updates=ALLOWED_UPDATES,
            drop_pending_updates=False,
            error_callback=on_polling_error,
        )
    await app.start()


async def shut_down(app: AttacheApp) -> None:
    """Stop whatever was started, in order, whichever phase start-up reached.

    Digests stop first: no new chat, message or retry is started, and what was not sent stays
    due (the message in flight gets its answer). Then the updater stops fetching, pending
    updates and running jobs finish, and the Bot API clients and storage are closed (also when
    start-up was cut short before PTB counted the application as initialised). Every step runs
    even when an earlier one failed; the first failure is raised at the end."""
    digests = app.bot_data.digests
    digests.stop()
    if isinstance(digests.sender, Deliverer):
        digests.sender.stop()
    failures: list[Exception] = []

    async def step(what: str, action: Callable[[], Awaitable[object]]) -> None:
        try:
            await action()
        except Exception as exc:
            log.error("stopping %s failed: %s", what, exc, exc_info=log.isEnabledFor(logging.DEBUG))
            failures.append(exc)

    updater = app.updater
    if updater is not None and updater.running:
        await step("the updater", updater.stop)
    if app.running:
        await step("the application", app.stop)
    await step("the application", app.shutdown)  # nothing to do unless initialised
    await step("the Bot API client", app.bot.shutdown)  # nothing to do when closed already
    post_shutdown = app.post_shutdown
    if post_shutdown is not None:
        await step("storage", lambda: post_shutdown(app))
    if failures:
        raise failures[0]


async def serve(app: AttacheApp, settings: Settings, stop: StopRequest) -> None:
    """Start ``app``, run it until ``stop`` is requested, then stop it: in any phase.

    A request during start-up cancels the rest of start-up here, inside the running loop, where
    the HTTP stack can clean up the request it was waiting for (httpcore's clean-up needs the
    loop: done outside it, it fails with anyio's NoEventLoopError). Start-up errors that come
    before a request are raised (``run_bot`` explains them) after the same clean-up; after a
    request, they only end start-up.
    """
    stopped = stop.attach()
    starting = asyncio.ensure_future(start_app(app, settings))
    waiting = asyncio.ensure_future(stopped.wait())
    try:
        try:
            await asyncio.wait({starting, waiting}, return_when=asyncio.FIRST_COMPLETED)
            if not stop.requested:
                starting.result()
                await waiting
            log.info("%s: stopping", stop.reason)
            starting.cancel()
            try:
                await starting
            except asyncio.CancelledError:
                log.info("start-up was cut short")
            except Exception as exc:  # it failed while the stop was asked for: stop anyway
                log.info("start-up ended: %s", exc)
        except BaseException:
            starting.cancel()
            waiting.cancel()
            with contextlib.suppress(Exception):  # logged; the first error is the one to see
                await shut_down(app)
            raise
        waiting.cancel()
        await shut_down(app)
        log.info("stopped")
    finally:
        stop.detach()


def run_bot(settings: Settings, stop: StopRequest | None = None) -> None:
    """Run until SIGINT/SIGTERM: long polling, or a webhook when WEBHOOK_URL is set.

    ``stop`` is a :class:`StopRequest` installed earlier (the sooner, the fewer moments a
    signal finds no handler); by default one is installed now. Returns after a clean stop.
    Raises BotStartError when the Bot API refuses the token or cannot be reached."""
    stop = stop if stop is not None else StopRequest.install()
    base_url = redact(settings.telegram_api_base_url, settings)
    log.info("starting: Bot API at %s (SIGTERM or SIGINT stops the bot)", base_url)
    try:
        asyncio.run(serve(build_application(settings), settings, stop))
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
