"""A local Telegram Bot API server: the real python-telegram-bot client talks to it over HTTP.

It serves ``/bot{token}/{method}`` on 127.0.0.1 and keeps a small Telegram world in memory:
users, chats with members, the messages in them and the queue of updates for the bot. Tests and
``attache console`` act as Telegram users through plain Python methods (``send_text``,
``press_button``, ``post_to_channel``, ...) and read what the bot did (``messages``,
``sent_log``, ``wait_for_message``, ``answered_callbacks``).

It behaves like Telegram where a bot can tell the difference: long polling holds ``getUpdates``
open, ``offset`` confirms updates, HTML must parse by Telegram's rules, texts are 1..4096
characters, flood limits answer 429 with ``retry_after``, and errors have Telegram's wording.
Faults (5xx, 429, timeouts, connection resets, blocked users, vanished chats) can be injected
through ``server.faults``.

The parts: :mod:`bot.sandbox.world` holds the state and the user-side API (a
:class:`BotApiServer` is a World), :mod:`bot.sandbox.methods` implements the Bot API methods,
:mod:`bot.sandbox.wire` reads requests and words errors; this module is the HTTP server around
them (routing, fault injection, lifecycle, webhook delivery).

Usage::

    async with BotApiServer(token=TOKEN, bot_username="attache_bot") as server:
        app = ApplicationBuilder().token(TOKEN).base_url(server.base_url).build()
        alice = server.create_user("Alice")
        chat = server.private_chat(alice)
        await server.send_text(chat, alice, "/start")
        reply = await server.wait_for_message(chat.id)
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import replace
from types import TracebackType
from typing import Self

from aiohttp import ClientSession, ClientTimeout, web

from bot.sandbox.faults import DEFAULT_DESCRIPTIONS, Fault, LostAnswer
from bot.sandbox.limits import FloodControl, RateLimits
from bot.sandbox.methods import BotApi
from bot.sandbox.models import SandboxUser
from bot.sandbox.wire import ApiError, read_params
from bot.sandbox.world import World, wait_at_most

logger = logging.getLogger(__name__)


class BotApiServer(World):
    """A Telegram Bot API server on 127.0.0.1 with a user-side API for tests.

    Args:
        token: the only token accepted; others get 401 Unauthorized. The digits before ``:``
            become the bot's user id.
        bot_username: the bot's ``username`` (``/cmd@bot_username`` addresses it).
        bot_name: the bot's ``first_name``.
        rate_limits: flood limits (default: Telegram's); ``RateLimits.disabled()`` for none.
        privacy_mode: as on Telegram, a bot that is not an admin of a group only receives
            commands, replies to its messages and mentions of it there.
        clock: wall clock for message dates (seconds since the epoch).
        port: 0 picks a free port.
    """

    def __init__(
        self,
        token: str,
        *,
        bot_username: str = "attache_bot",
        bot_name: str = "Attaché",
        rate_limits: RateLimits | None = None,
        privacy_mode: bool = True,
        clock: Callable[[], float] = time.time,
        port: int = 0,
    ) -> None:
        bot_id_text = token.split(":", 1)[0]
        bot = SandboxUser(
            id=int(bot_id_text) if bot_id_text.isdigit() else 123456,
            first_name=bot_name,
            username=bot_username,
            is_bot=True,
        )
        super().__init__(bot, privacy_mode=privacy_mode, clock=clock)
        self.token = token
        #: Calls per method (lower-case method name), faults and errors included.
        self.request_counts: Counter[str] = Counter()
        self._api = BotApi(self, rate_limits or RateLimits())
        self._requested_port = port
        self._runner: web.AppRunner | None = None
        self._port: int | None = None

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """Listen on 127.0.0.1 (a free port unless one was given)."""
        if self._runner is not None:
            raise RuntimeError("the sandbox server is already running")
        self.closing.clear()
        app = web.Application(client_max_size=50 * 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._handle)
        app.router.add_route("*", "/file/bot{token}/{path:.*}", self._handle_file)
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=2.0)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", self._requested_port)
        await site.start()
        self._runner = runner
        address = runner.addresses[0]
        self._port = int(address[1])
        logger.info("sandbox Bot API server listening on %s", self.base_url)

    async def stop(self) -> None:
        """Release held requests (long polls answer at once) and close every connection."""
        if self._runner is None:
            return
        self.closing.set()
        self.updates_signal.notify()
        self.log_signal.notify()
        runner, self._runner = self._runner, None
        await runner.cleanup()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.stop()

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("the sandbox server is not started")
        return self._port

    @property
    def base_url(self) -> str:
        """PTB's ``base_url``: ``http://127.0.0.1:PORT/bot`` (PTB appends the token)."""
        return f"http://127.0.0.1:{self.port}/bot"

    @property
    def base_file_url(self) -> str:
        """PTB's ``base_file_url`` (file downloads are not served: 404)."""
        return f"http://127.0.0.1:{self.port}/file/bot"

    @property
    def rate_limits(self) -> RateLimits:
        return self._api.flood.limits

    @rate_limits.setter
    def rate_limits(self, limits: RateLimits) -> None:
        """Replace the limits; the allowance counters start afresh."""
        self._api.flood = FloodControl(limits)

    # ------------------------------------------------------------------ HTTP

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        if request.match_info["token"] != self.token:
            return ApiError(401, "Unauthorized").to_response()
        method = request.match_info["method"].lower()  # Bot API methods ignore case
        self.request_counts[method] += 1
        handler = self._api.handler(method)
        if handler is None:
            return ApiError(404, "Not Found: method not found").to_response()
        await self.faults.wait_if_held(method, self.closing)  # faults.hold_next: a slow answer
        fault = self.faults.take(method)
        if fault is not None and not fault.applied:
            return await self._fault_response(request, fault)
        try:
            params = await read_params(request)
            result = await handler(params)
            response: web.StreamResponse = web.json_response({"ok": True, "result": result})
        except ApiError as error:
            response = error.to_response()
        else:
            if fault is not None and isinstance(result, dict) and "message_id" in result:
                chat = result.get("chat")
                chat_id = chat.get("id") if isinstance(chat, dict) else None
                if isinstance(chat_id, int):
                    self.faults.lost_answers.append(
                        LostAnswer(request.match_info["method"], chat_id, result["message_id"])
                    )
        if fault is not None:
            return await self._fault_response(request, fault)
        return response

    async def _handle_file(self, request: web.Request) -> web.StreamResponse:
        return ApiError(404, "Not Found").to_response()

    async def _fault_response(self, request: web.Request, fault: Fault) -> web.StreamResponse:
        if fault.kind == "timeout":
            # Hold past the client's read timeout, then drop the connection unanswered.
            await wait_at_most(self.closing, self.faults.timeout_hold)
            fault = replace(fault, kind="reset")
        if fault.kind == "reset":
            if request.transport is not None:
                request.transport.abort()
            return web.Response()
        status = int(fault.kind)
        if status == 429:
            return ApiError(
                429,
                fault.description or f"Too Many Requests: retry after {fault.retry_after}",
                retry_after=fault.retry_after,
            ).to_response()
        description = fault.description or DEFAULT_DESCRIPTIONS.get(status, f"Error {status}")
        return ApiError(status, description).to_response()

    async def push_updates(self, url: str, *, secret_token: str | None = None) -> list[int]:
        """Deliver queued updates the way Telegram does once a webhook is set: POST each as
        JSON to ``url`` (the bot's webhook listener; Telegram would reach it through the
        public HTTPS address given to ``setWebhook``), with the secret in
        ``X-Telegram-Bot-Api-Secret-Token``. An update the listener accepts (2xx) leaves the
        queue; the HTTP statuses are returned in order."""
        headers = {"X-Telegram-Bot-Api-Secret-Token": secret_token} if secret_token else {}
        statuses: list[int] = []
        async with ClientSession(timeout=ClientTimeout(total=10)) as session:
            for update in list(self.updates):
                async with session.post(url, json=update, headers=headers) as response:
                    statuses.append(response.status)
                    if 200 <= response.status < 300:
                        self.updates.remove(update)
        self.updates_signal.notify()
        return statuses
