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

Usage::

    async with BotApiServer(token=TOKEN, bot_username="attache_bot") as server:
        app = ApplicationBuilder().token(TOKEN).base_url(server.base_url).build()
        alice = server.create_user("Alice")
        chat = server.private_chat(alice)
        await server.send_text(chat, alice, "/start")
        reply = await server.wait_for_message(chat.id)
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import re
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import replace
from types import TracebackType
from typing import Any, Self

from aiohttp import ClientSession, ClientTimeout, web

from bot.sandbox.faults import DEFAULT_DESCRIPTIONS, Fault, Faults, LostAnswer
from bot.sandbox.html_parse import EntityParseError, MessageEntity, parse_html, utf16_length
from bot.sandbox.limits import FloodControl, RateLimits
from bot.sandbox.models import (
    AnsweredCallback,
    ChatType,
    JSONDict,
    LogEntry,
    MemberStatus,
    SandboxChat,
    SandboxMessage,
    SandboxUser,
)

logger = logging.getLogger(__name__)

MAX_TEXT_LENGTH = 4096
MAX_CALLBACK_DATA_BYTES = 64
MAX_CALLBACK_ANSWER_LENGTH = 200
CHAT_ACTIONS = frozenset(
    {
        "typing",
        "upload_photo",
        "record_video",
        "upload_video",
        "record_voice",
        "upload_voice",
        "upload_document",
        "choose_sticker",
        "find_location",
        "record_video_note",
        "upload_video_note",
    }
)
_INLINE_BUTTON_ACTIONS = (
    "url",
    "callback_data",
    "web_app",
    "login_url",
    "switch_inline_query",
    "switch_inline_query_current_chat",
    "switch_inline_query_chosen_chat",
    "copy_text",
    "callback_game",
    "pay",
)
_COMMAND_PATTERN = re.compile(r"(?<!\S)/[A-Za-z0-9_]{1,64}(?:@[A-Za-z0-9_]{3,32})?(?![\w@])")
_URL_PATTERN = re.compile(r"(?<!\S)https?://[^\s<>\"]+[^\s<>\".,;:!?)\]'»]")
_MENTION_PATTERN = re.compile(r"(?<![\w@])@[A-Za-z0-9_]{5,32}\b")
_BOT_COMMAND_NAME = re.compile(r"^[a-z0-9_]{1,32}$")
_NOT_MODIFIED = (
    "message is not modified: specified new message content and reply markup are "
    "exactly the same as a current content and reply markup of the message"
)


class ApiError(Exception):
    """A Bot API error answer: HTTP ``status`` with Telegram's ``description``."""

    def __init__(self, status: int, description: str, retry_after: int | None = None) -> None:
        super().__init__(description)
        self.status = status
        self.description = description
        self.retry_after = retry_after

    def to_response(self) -> web.Response:
        body: JSONDict = {"ok": False, "error_code": self.status, "description": self.description}
        if self.retry_after is not None:
            body["parameters"] = {"retry_after": self.retry_after}
        return web.json_response(body, status=self.status)


def _bad_request(reason: str) -> ApiError:
    return ApiError(400, f"Bad Request: {reason}")


class _Params:
    """Request parameters from the query string, a form or a JSON body.

    Form values arrive as strings with non-string values JSON-encoded (how PTB sends them);
    JSON bodies carry typed values. The typed getters accept both.
    """

    def __init__(self, values: dict[str, object]) -> None:
        self.values = values

    def has(self, name: str) -> bool:
        return self.values.get(name) not in (None, "")

    def text(self, name: str) -> str | None:
        value = self.values.get(name)
        if value is None:
            return None
        return value if isinstance(value, str) else json.dumps(value)

    def integer(self, name: str, *, required: bool = False) -> int | None:
        value = self.values.get(name)
        if value is None or value == "":
            if required:
                raise _bad_request(f"{name} is empty")
            return None
        if isinstance(value, bool):
            raise _bad_request(f"wrong parameter {name} specified")
        if isinstance(value, int):
            return value
        try:
            return int(str(value))
        except ValueError:
            raise _bad_request(f"wrong parameter {name} specified") from None

    def flag(self, name: str) -> bool:
        value = self.values.get(name)
        if isinstance(value, str):
            return value.lower() in ("true", "1")
        return bool(value)

    def json(self, name: str) -> object:
        """A structured parameter (object or array): decoded when it came as a JSON string."""
        value = self.values.get(name)
        if isinstance(value, str):
            try:
                decoded: object = json.loads(value)
            except ValueError:
                raise _bad_request(f"can't parse {name} JSON object") from None
            return decoded
        return value

    def chat_id(self) -> int | str:
        """``chat_id`` as an int, or an ``@channelusername`` string."""
        value = self.values.get("chat_id")
        if value is None or value == "":
            raise _bad_request("chat_id is empty")
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        text = str(value)
        try:
            return int(text)
        except ValueError:
            if text.startswith("@"):
                return text
            raise _bad_request("chat not found") from None


class _Signal:
    """Wake every waiter when something changes (updates queued, bot acted, server closing)."""

    def __init__(self) -> None:
        self._event = asyncio.Event()

    @property
    def event(self) -> asyncio.Event:
        return self._event

    def notify(self) -> None:
        self._event.set()
        self._event = asyncio.Event()


async def _wait(event: asyncio.Event, seconds: float) -> None:
    """Wait for ``event`` at most ``seconds`` (no error when the time runs out)."""
    if seconds <= 0:
        return
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(event.wait(), seconds)


def _strip_text(text: str, entities: list[MessageEntity]) -> tuple[str, list[MessageEntity]]:
    """Telegram trims surrounding whitespace; shift and clip the entities to match."""
    stripped = text.strip()
    if stripped == text:
        return text, entities
    lead = utf16_length(text[: len(text) - len(text.lstrip())])
    end = lead + utf16_length(stripped)
    kept: list[MessageEntity] = []
    for entity in entities:
        start = max(entity.offset, lead)
        stop = min(entity.offset + entity.length, end)
        if stop > start:
            kept.append(replace(entity, offset=start - lead, length=stop - start))
    return stripped, kept


def _entities_from_json(raw: object) -> list[MessageEntity]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise _bad_request("can't parse entities JSON object")
    entities = []
    for item in raw:
        if not isinstance(item, dict) or not {"type", "offset", "length"} <= item.keys():
            raise _bad_request("can't parse entities JSON object")
        entities.append(
            MessageEntity(
                type=str(item["type"]),
                offset=int(item["offset"]),
                length=int(item["length"]),
                url=item.get("url"),
                language=item.get("language"),
                custom_emoji_id=item.get("custom_emoji_id"),
            )
        )
    return entities


def format_text(
    text: str | None, parse_mode: str | None, entities_json: object = None
) -> tuple[str, list[MessageEntity]]:
    """Validate a message text as Telegram does; return the plain text and its entities.

    Raises:
        ApiError: 400 with Telegram's description (empty text, too long, unparsable HTML).
    """
    if not text:
        raise _bad_request("message text is empty")
    mode = (parse_mode or "").lower()
    if mode == "html":
        try:
            plain, entities = parse_html(text)
        except EntityParseError as error:
            raise _bad_request(f"can't parse entities: {error}") from None
    elif mode == "":
        plain, entities = text, _entities_from_json(entities_json)
    elif mode in ("markdown", "markdownv2"):
        raise _bad_request(f"the sandbox server supports parse_mode HTML only, not {parse_mode}")
    else:
        raise _bad_request("unsupported parse_mode")
    plain, entities = _strip_text(plain, entities)
    if not plain:
        raise _bad_request("message text is empty")
    if len(plain) > MAX_TEXT_LENGTH:
        raise _bad_request("message is too long")
    return plain, entities


def validate_reply_markup(raw: object) -> JSONDict | None:
    """Check a reply_markup like Telegram (inline buttons need an action; callback_data is
    1-64 bytes); return it as a dict."""
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise _bad_request("can't parse reply keyboard markup JSON object")
    if "inline_keyboard" not in raw:
        if not {"keyboard", "remove_keyboard", "force_reply"} & raw.keys():
            raise _bad_request("can't parse reply keyboard markup JSON object")
        return raw
    rows = raw["inline_keyboard"]
    if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
        raise _bad_request(
            'can\'t parse inline keyboard button: field "inline_keyboard" '
            "must be an Array of Arrays"
        )
    for row in rows:
        for button in row:
            if not isinstance(button, dict) or not isinstance(button.get("text"), str):
                raise _bad_request(
                    'can\'t parse inline keyboard button: Field "text" must be of type String'
                )
            if not button["text"]:
                raise _bad_request("BUTTON_TEXT_INVALID")
            if not any(key in button for key in _INLINE_BUTTON_ACTIONS):
                raise _bad_request(
                    "can't parse inline keyboard button: Text buttons are "
                    "unallowed in the inline keyboard"
                )
            data = button.get("callback_data")
            if data is not None and (
                not isinstance(data, str)
                or not 1 <= len(data.encode("utf-8")) <= MAX_CALLBACK_DATA_BYTES
            ):
                raise _bad_request("BUTTON_DATA_INVALID")
            url = button.get("url")
            if url is not None and (
                not isinstance(url, str) or not url.startswith(("http://", "https://", "tg://"))
            ):
                raise _bad_request(f"inline keyboard button URL '{url}' is invalid: Wrong HTTP URL")
    return raw


def detect_entities(text: str, *, commands: bool = True) -> list[MessageEntity]:
    """The entities a Telegram client adds to typed text: bot commands, URLs, @mentions."""
    found: list[MessageEntity] = []
    patterns = [("url", _URL_PATTERN), ("mention", _MENTION_PATTERN)]
    if commands:
        patterns.insert(0, ("bot_command", _COMMAND_PATTERN))
    for entity_type, pattern in patterns:
        for match in pattern.finditer(text):
            found.append(
                MessageEntity(
                    entity_type,
                    utf16_length(text[: match.start()]),
                    utf16_length(match.group()),
                )
            )
    found.sort(key=lambda entity: (entity.offset, -entity.length))
    return found


Handler = Callable[[_Params], Awaitable[Any]]


class BotApiServer:
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
        self.token = token
        self.bot = SandboxUser(
            id=int(bot_id_text) if bot_id_text.isdigit() else 123456,
            first_name=bot_name,
            username=bot_username,
            is_bot=True,
        )
        self.privacy_mode = privacy_mode
        self.faults = Faults()
        #: Calls per method (lower-case method name), faults and errors included.
        self.request_counts: Counter[str] = Counter()
        #: Every accepted sendMessage / edit / deleteMessage, in order.
        self.sent_log: list[LogEntry] = []
        #: Every answerCallbackQuery, in order.
        self.answered_callbacks: list[AnsweredCallback] = []
        #: Every accepted sendChatAction as ``(chat_id, action)``.
        self.chat_actions: list[tuple[int, str]] = []
        self.webhook_url = ""
        self.descriptions: dict[str, str] = {}
        self._clock = clock
        self._requested_port = port
        self._flood = FloodControl(rate_limits or RateLimits())
        self._users: dict[int, SandboxUser] = {self.bot.id: self.bot}
        self._chats: dict[int, SandboxChat] = {}
        self._messages: dict[tuple[int, int], SandboxMessage] = {}
        self._next_message_id: Counter[int] = Counter()
        self._user_ids = itertools.count(1_000_001)
        self._group_ids = itertools.count(4_000_001)
        self._supergroup_ids = itertools.count(1_000_000_000_001)
        self._callback_ids = itertools.count(7_000_000_000_000_000_001)
        self._updates: list[JSONDict] = []
        self._next_update_id = 100_000_001
        self._allowed_updates: frozenset[str] | None = None
        self._pending_callbacks: dict[str, tuple[int, int]] = {}
        self._commands: dict[tuple[str, str], list[JSONDict]] = {}
        self._message_cursor: dict[int, int] = {}
        self._edit_cursor: dict[int, int] = {}
        self._poll_generation = 0
        self._updates_signal = _Signal()
        self._log_signal = _Signal()
        self._closing = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self._port: int | None = None
        self._methods: dict[str, Handler] = {
            "getme": self._get_me,
            "getupdates": self._get_updates,
            "setwebhook": self._set_webhook,
            "deletewebhook": self._delete_webhook,
            "getwebhookinfo": self._get_webhook_info,
            "logout": self._ok,
            "close": self._ok,
            "setmycommands": self._set_my_commands,
            "getmycommands": self._get_my_commands,
            "deletemycommands": self._delete_my_commands,
            "setmydescription": self._set_description("description"),
            "setmyshortdescription": self._set_description("short_description"),
            "setmyname": self._set_description("name"),
            "getmydescription": self._get_description("description"),
            "getmyshortdescription": self._get_description("short_description"),
            "getmyname": self._get_description("name"),
            "sendmessage": self._send_message,
            "editmessagetext": self._edit_message_text,
            "editmessagereplymarkup": self._edit_message_reply_markup,
            "deletemessage": self._delete_message,
            "answercallbackquery": self._answer_callback_query,
            "getchat": self._get_chat,
            "getchatmember": self._get_chat_member,
            "getchatadministrators": self._get_chat_administrators,
            "sendchataction": self._send_chat_action,
        }

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """Listen on 127.0.0.1 (a free port unless one was given)."""
        if self._runner is not None:
            raise RuntimeError("the sandbox server is already running")
        self._closing.clear()
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
        self._closing.set()
        self._updates_signal.notify()
        self._log_signal.notify()
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
        return self._flood.limits

    @rate_limits.setter
    def rate_limits(self, limits: RateLimits) -> None:
        """Replace the limits; the allowance counters start afresh."""
        self._flood = FloodControl(limits)

    # ------------------------------------------------------------------ HTTP

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        if request.match_info["token"] != self.token:
            return ApiError(401, "Unauthorized").to_response()
        method = request.match_info["method"].lower()  # Bot API methods ignore case
        self.request_counts[method] += 1
        handler = self._methods.get(method)
        if handler is None:
            return ApiError(404, "Not Found: method not found").to_response()
        fault = self.faults.take(method)
        if fault is not None and not fault.applied:
            return await self._fault_response(request, fault)
        try:
            params = await self._read_params(request)
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

    @staticmethod
    async def _read_params(request: web.Request) -> _Params:
        values: dict[str, object] = dict(request.query)
        if request.can_read_body:
            if request.content_type == "application/json":
                try:
                    body = await request.json()
                except ValueError:
                    raise _bad_request("can't parse JSON request body") from None
                if not isinstance(body, dict):
                    raise _bad_request("JSON request body must be an object")
                values.update(body)
            elif request.content_type in (
                "application/x-www-form-urlencoded",
                "multipart/form-data",
            ):
                form = await request.post()
                for name, value in form.items():
                    if isinstance(value, web.FileField):
                        # An uploaded file: keep its name only and close the temporary file.
                        values[name] = value.filename
                        value.file.close()
                    elif isinstance(value, str):
                        values[name] = value
                    else:
                        values[name] = bytes(value).decode("utf-8", "replace")
        return _Params(values)

    async def _fault_response(self, request: web.Request, fault: Fault) -> web.StreamResponse:
        if fault.kind == "timeout":
            # Hold past the client's read timeout, then drop the connection unanswered.
            await _wait(self._closing, self.faults.timeout_hold)
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

    # ------------------------------------------------------------------ world (sync)

    def create_user(
        self,
        first_name: str = "Alice",
        *,
        username: str | None = None,
        last_name: str | None = None,
        user_id: int | None = None,
        language_code: str | None = "en",
    ) -> SandboxUser:
        """A new Telegram user (its private chat with the bot: :meth:`private_chat`)."""
        user = SandboxUser(
            id=user_id if user_id is not None else next(self._user_ids),
            first_name=first_name,
            username=username,
            last_name=last_name,
            language_code=language_code,
        )
        self._users[user.id] = user
        return user

    def private_chat(self, user: SandboxUser) -> SandboxChat:
        """The user's private chat with the bot (chat id = user id), created on first use."""
        chat = self._chats.get(user.id)
        if chat is None:
            chat = SandboxChat(
                id=user.id,
                type="private",
                username=user.username,
                first_name=user.first_name,
                last_name=user.last_name,
                members={user.id: "member", self.bot.id: "member"},
            )
            self._chats[chat.id] = chat
        return chat

    def create_group(
        self,
        title: str,
        *,
        members: Iterable[SandboxUser] = (),
        admins: Iterable[SandboxUser] = (),
        creator: SandboxUser | None = None,
        supergroup: bool = True,
        username: str | None = None,
        bot_status: MemberStatus = "member",
    ) -> SandboxChat:
        """A group (``supergroup=False``) or supergroup with these members.

        The bot starts with ``bot_status`` (use ``"left"`` and :meth:`add_bot_to_group` to test
        the bot being added).
        """
        chat_type: ChatType = "supergroup" if supergroup else "group"
        chat_id = -next(self._supergroup_ids if supergroup else self._group_ids)
        chat = SandboxChat(id=chat_id, type=chat_type, title=title, username=username)
        self._fill_members(chat, members, admins, creator, bot_status)
        return chat

    def create_channel(
        self,
        title: str,
        *,
        username: str | None = None,
        admins: Iterable[SandboxUser] = (),
        creator: SandboxUser | None = None,
        subscribers: Iterable[SandboxUser] = (),
        bot_status: MemberStatus = "administrator",
    ) -> SandboxChat:
        """A channel; the bot is an administrator by default (needed to post and to receive
        channel posts)."""
        chat = SandboxChat(
            id=-next(self._supergroup_ids), type="channel", title=title, username=username
        )
        self._fill_members(chat, subscribers, admins, creator, bot_status)
        return chat

    def _fill_members(
        self,
        chat: SandboxChat,
        members: Iterable[SandboxUser],
        admins: Iterable[SandboxUser],
        creator: SandboxUser | None,
        bot_status: MemberStatus,
    ) -> None:
        for user in members:
            self._users.setdefault(user.id, user)
            chat.members[user.id] = "member"
        for user in admins:
            self._users.setdefault(user.id, user)
            chat.members[user.id] = "administrator"
        if creator is not None:
            self._users.setdefault(creator.id, creator)
            chat.members[creator.id] = "creator"
        chat.members[self.bot.id] = bot_status
        self._chats[chat.id] = chat

    def set_member(self, chat: SandboxChat, user: SandboxUser, status: MemberStatus) -> None:
        """Change a member's status without an update (use :meth:`add_bot_to_group` for the bot
        when the bot should hear about it)."""
        self._users.setdefault(user.id, user)
        chat.members[user.id] = status

    def chat(self, chat_id: int) -> SandboxChat:
        """A chat by id (KeyError when unknown)."""
        return self._chats[chat_id]

    def user(self, user_id: int) -> SandboxUser:
        return self._users[user_id]

    # ------------------------------------------------------------------ user actions (async)

    async def send_text(
        self,
        chat: SandboxChat,
        user: SandboxUser,
        text: str,
        *,
        entities: Iterable[MessageEntity] | None = None,
        reply_to: SandboxMessage | None = None,
    ) -> SandboxMessage:
        """``user`` types ``text`` in ``chat``; the bot gets a ``message`` update.

        Bot commands (``/cmd``, ``/cmd@bot``), URLs and @mentions get their entities as a
        Telegram client would add them, unless ``entities`` is given. In groups, privacy mode
        applies (see the class docs); the message is stored either way.
        """
        if chat.type == "channel":
            raise ValueError("users do not write in channels: use post_to_channel")
        if user.id not in chat.members or chat.members[user.id] in ("left", "kicked"):
            chat.members[user.id] = "member"
        self._users.setdefault(user.id, user)
        entity_list = list(entities) if entities is not None else detect_entities(text)
        extra: JSONDict = {}
        if reply_to is not None:
            extra["reply_to_message"] = self._reply_snapshot(reply_to)
        message = self._store_user_message(chat, user, text, entity_list, extra)
        if reply_to is not None:
            message = replace(message, reply_to_message_id=reply_to.message_id)
            self._messages[(chat.id, message.message_id)] = message
        if self._bot_hears(chat, text, reply_to):
            self._queue_update("message", message.api)
        return message

    async def send_forward(
        self,
        chat: SandboxChat,
        user: SandboxUser,
        text: str,
        *,
        origin: SandboxUser | SandboxChat | str | None = None,
        origin_message_id: int = 1,
        origin_date: int | None = None,
        entities: Iterable[MessageEntity] | None = None,
    ) -> SandboxMessage:
        """``user`` forwards a message with ``text`` into ``chat``.

        ``origin`` is who wrote it: a user (``forward_origin.type == "user"``), a channel
        (``"channel"``, with ``origin_message_id``), another chat (``"chat"``) or a name of a
        user who hides their account (``"hidden_user"``, also the default).
        """
        date = origin_date if origin_date is not None else self._now() - 3600
        forward_origin: JSONDict
        if isinstance(origin, SandboxUser):
            forward_origin = {"type": "user", "date": date, "sender_user": origin.to_api()}
        elif isinstance(origin, SandboxChat) and origin.type == "channel":
            forward_origin = {
                "type": "channel",
                "date": date,
                "chat": origin.to_api(),
                "message_id": origin_message_id,
            }
        elif isinstance(origin, SandboxChat):
            forward_origin = {"type": "chat", "date": date, "sender_chat": origin.to_api()}
        else:
            forward_origin = {
                "type": "hidden_user",
                "date": date,
                "sender_user_name": origin or "Anonymous",
            }
        entity_list = (
            list(entities) if entities is not None else detect_entities(text, commands=False)
        )
        chat.members.setdefault(user.id, "member")
        self._users.setdefault(user.id, user)
        message = self._store_user_message(
            chat, user, text, entity_list, {"forward_origin": forward_origin}
        )
        if self._bot_hears(chat, text, None, forwarded=True):
            self._queue_update("message", message.api)
        return message

    async def press_button(
        self,
        message: SandboxMessage,
        callback_data: str,
        user: SandboxUser | None = None,
        *,
        forged: bool = False,
    ) -> str:
        """``user`` presses the inline button with ``callback_data`` under ``message``.

        The button must be on the message now (as in a Telegram client). ``user`` defaults to
        the owner of a private chat. Returns the callback query id (see
        :meth:`wait_for_callback_answer`).

        ``forged=True`` skips the button check: a modified client can send any callback data
        for a message it can see, and a bot must not trust it (access-control tests).
        """
        current = self.message(message.chat_id, message.message_id)
        if current.deleted:
            raise ValueError(f"message {message.message_id} was deleted")
        if not forged and not any(
            button.callback_data == callback_data for button in current.flat_buttons
        ):
            raise ValueError(
                f"message {message.message_id} has no button with callback_data "
                f"{callback_data!r}; buttons: {current.flat_buttons}"
            )
        chat = self._chats[message.chat_id]
        if user is None:
            if chat.type != "private":
                raise ValueError("say which user presses the button in a group or channel")
            user = self._users[chat.id]
        query_id = str(next(self._callback_ids))
        self._pending_callbacks[query_id] = (chat.id, message.message_id)
        self._queue_update(
            "callback_query",
            {
                "id": query_id,
                "from": user.to_api(),
                "message": current.api,
                "chat_instance": str(abs(chat.id) * 31 + 7),
                "data": callback_data,
            },
        )
        return query_id

    async def post_to_channel(
        self,
        channel: SandboxChat,
        text: str,
        *,
        entities: Iterable[MessageEntity] | None = None,
        author_signature: str | None = None,
    ) -> SandboxMessage:
        """A post appears in ``channel``; the bot gets ``channel_post`` if it is an admin."""
        if channel.type != "channel":
            raise ValueError("post_to_channel needs a channel")
        entity_list = (
            list(entities) if entities is not None else detect_entities(text, commands=False)
        )
        message_id = self._new_message_id(channel.id)
        api: JSONDict = {
            "message_id": message_id,
            "sender_chat": channel.to_api(),
            "chat": channel.to_api(),
            "date": self._now(),
            "text": text,
        }
        if entity_list:
            api["entities"] = [entity.to_api() for entity in entity_list]
        if author_signature:
            api["author_signature"] = author_signature
        message = SandboxMessage(
            chat_id=channel.id,
            message_id=message_id,
            date=api["date"],
            text=text,
            entities=tuple(entity_list),
            from_bot=False,
            sender_id=None,
            api=api,
            source_text=text,
        )
        self._messages[(channel.id, message_id)] = message
        if channel.members.get(self.bot.id) in ("administrator", "creator"):
            self._queue_update("channel_post", api)
        return message

    async def add_bot_to_group(
        self, chat: SandboxChat, by: SandboxUser, *, status: MemberStatus = "member"
    ) -> None:
        """``by`` adds the bot to ``chat`` (or changes its status there, e.g. promotes it to
        ``"administrator"`` or removes it with ``"left"``): a ``my_chat_member`` update."""
        self._change_bot_status(chat, by, status)

    async def block_bot(self, user: SandboxUser) -> None:
        """``user`` blocks the bot: sends to them answer 403 and the bot gets
        ``my_chat_member`` with status ``kicked``."""
        chat = self.private_chat(user)
        self.faults.block(chat.id)
        self._change_bot_status(chat, user, "kicked")

    async def unblock_bot(self, user: SandboxUser) -> None:
        chat = self.private_chat(user)
        self.faults.unblock(chat.id)
        self._change_bot_status(chat, user, "member")

    def _change_bot_status(self, chat: SandboxChat, by: SandboxUser, status: MemberStatus) -> None:
        old = chat.members.get(self.bot.id, "left")
        chat.members[self.bot.id] = status
        self._users.setdefault(by.id, by)
        self._queue_update(
            "my_chat_member",
            {
                "chat": chat.to_api(),
                "from": by.to_api(),
                "date": self._now(),
                "old_chat_member": self._member_json(chat, self.bot, old),
                "new_chat_member": self._member_json(chat, self.bot, status),
            },
        )

    # ------------------------------------------------------------------ reading (for tests)

    def messages(self, chat_id: int, *, include_users: bool = False) -> list[SandboxMessage]:
        """Current state of the chat's messages, oldest first: the bot's only unless
        ``include_users``; edits applied, deleted ones kept with ``deleted=True``."""
        found = [
            message
            for (message_chat, _), message in self._messages.items()
            if message_chat == chat_id and (include_users or message.from_bot)
        ]
        return sorted(found, key=lambda message: message.message_id)

    def message(self, chat_id: int, message_id: int) -> SandboxMessage:
        """Current state of one message (KeyError when unknown)."""
        return self._messages[(chat_id, message_id)]

    @property
    def pending_updates(self) -> int:
        """Updates queued and not yet confirmed by the bot's ``getUpdates`` offset."""
        return len(self._updates)

    async def push_updates(self, url: str, *, secret_token: str | None = None) -> list[int]:
        """Deliver queued updates the way Telegram does once a webhook is set: POST each as
        JSON to ``url`` (the bot's webhook listener; Telegram would reach it through the
        public HTTPS address given to ``setWebhook``), with the secret in
        ``X-Telegram-Bot-Api-Secret-Token``. An update the listener accepts (2xx) leaves the
        queue; the HTTP statuses are returned in order."""
        headers = {"X-Telegram-Bot-Api-Secret-Token": secret_token} if secret_token else {}
        statuses: list[int] = []
        async with ClientSession(timeout=ClientTimeout(total=10)) as session:
            for update in list(self._updates):
                async with session.post(url, json=update, headers=headers) as response:
                    statuses.append(response.status)
                    if 200 <= response.status < 300:
                        self._updates.remove(update)
        self._updates_signal.notify()
        return statuses

    def commands(self, scope: JSONDict | None = None, language_code: str = "") -> list[JSONDict]:
        """The commands set with setMyCommands for that scope (default scope when None)."""
        return list(self._commands.get(self._commands_key(scope, language_code), []))

    def callback_answer(self, callback_query_id: str) -> AnsweredCallback | None:
        for answer in self.answered_callbacks:
            if answer.callback_query_id == callback_query_id:
                return answer
        return None

    async def wait_for_message(
        self,
        chat_id: int,
        predicate: Callable[[SandboxMessage], bool] | None = None,
        timeout: float = 5.0,  # noqa: ASYNC109 - a deadline for the whole wait, read by tests
    ) -> SandboxMessage:
        """The next new bot message in ``chat_id`` (matching ``predicate``), as sent.

        Each call continues after the message the previous call returned, so consecutive calls
        read the bot's messages in order; messages that do not match ``predicate`` are passed
        over. Raises TimeoutError after ``timeout`` seconds.
        """
        return await self._wait_in_log(
            chat_id, self._message_cursor, ("sendmessage",), predicate, timeout
        )

    async def wait_for_edit(
        self,
        chat_id: int,
        message_id: int | None = None,
        timeout: float = 5.0,  # noqa: ASYNC109 - a deadline for the whole wait, read by tests
    ) -> SandboxMessage:
        """The next edit of a bot message in ``chat_id`` (of ``message_id`` when given): the
        message as it stood right after the edit. Same cursor rules as
        :meth:`wait_for_message`."""
        return await self._wait_in_log(
            chat_id,
            self._edit_cursor,
            ("editmessagetext", "editmessagereplymarkup"),
            None if message_id is None else (lambda message: message.message_id == message_id),
            timeout,
        )

    async def wait_for_callback_answer(
        self,
        callback_query_id: str,
        timeout: float = 5.0,  # noqa: ASYNC109 - a deadline for the whole wait, read by tests
    ) -> AnsweredCallback:
        """Wait until the bot answers that callback query."""
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            event = self._log_signal.event
            answer = self.callback_answer(callback_query_id)
            if answer is not None:
                return answer
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0:
                raise TimeoutError(f"callback query {callback_query_id} was not answered")
            await _wait(event, remaining)

    async def wait_until_delivered(
        self,
        timeout: float = 5.0,  # noqa: ASYNC109 - a deadline for the whole wait, read by tests
    ) -> None:
        """Wait until the bot has fetched and confirmed every queued update."""
        deadline = asyncio.get_running_loop().time() + timeout
        while self._updates:
            event = self._updates_signal.event
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0:
                raise TimeoutError(f"{len(self._updates)} updates still unconfirmed")
            await _wait(event, remaining)

    async def _wait_in_log(
        self,
        chat_id: int,
        cursors: dict[int, int],
        methods: tuple[str, ...],
        predicate: Callable[[SandboxMessage], bool] | None,
        seconds: float,
    ) -> SandboxMessage:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        while True:
            event = self._log_signal.event
            for index in range(cursors.get(chat_id, 0), len(self.sent_log)):
                entry = self.sent_log[index]
                if entry.chat_id != chat_id or entry.method.lower() not in methods:
                    continue
                cursors[chat_id] = index + 1
                if predicate is None or predicate(entry.message):
                    return entry.message
            cursors[chat_id] = len(self.sent_log)
            remaining = deadline - loop.time()
            if remaining <= 0 or self._closing.is_set():
                raise TimeoutError(f"no matching bot action in chat {chat_id} within {seconds}s")
            await _wait(event, remaining)

    # ------------------------------------------------------------------ internals

    def _now(self) -> int:
        return int(self._clock())

    def _new_message_id(self, chat_id: int) -> int:
        self._next_message_id[chat_id] += 1
        return self._next_message_id[chat_id]

    def _queue_update(self, kind: str, payload: JSONDict) -> None:
        self._updates.append({"update_id": self._next_update_id, kind: payload})
        self._next_update_id += 1
        self._updates_signal.notify()

    def _log(self, method: str, message: SandboxMessage) -> None:
        self.sent_log.append(
            LogEntry(
                seq=len(self.sent_log) + 1,
                at=time.time(),
                method=method,
                chat_id=message.chat_id,
                message_id=message.message_id,
                message=message,
            )
        )
        self._log_signal.notify()

    def _bot_hears(
        self,
        chat: SandboxChat,
        text: str,
        reply_to: SandboxMessage | None,
        *,
        forwarded: bool = False,
    ) -> bool:
        """Whether Telegram would deliver this user message to the bot (privacy mode)."""
        if chat.type == "private":
            return True
        bot_status = chat.members.get(self.bot.id, "left")
        if bot_status not in ("member", "administrator", "creator"):
            return False
        if not self.privacy_mode or bot_status != "member":
            return True
        if reply_to is not None and reply_to.from_bot:
            return True
        username = (self.bot.username or "").lower()
        if not forwarded:
            match = _COMMAND_PATTERN.match(text)
            if match:
                _, _, target = match.group().partition("@")
                return not target or target.lower() == username
        return f"@{username}" in text.lower()

    def _store_user_message(
        self,
        chat: SandboxChat,
        user: SandboxUser,
        text: str,
        entities: list[MessageEntity],
        extra: JSONDict,
    ) -> SandboxMessage:
        message_id = self._new_message_id(chat.id)
        api: JSONDict = {
            "message_id": message_id,
            "from": user.to_api(),
            "chat": chat.to_api(),
            "date": self._now(),
            **extra,
            "text": text,
        }
        if entities:
            api["entities"] = [entity.to_api() for entity in entities]
        message = SandboxMessage(
            chat_id=chat.id,
            message_id=message_id,
            date=api["date"],
            text=text,
            entities=tuple(entities),
            from_bot=False,
            sender_id=user.id,
            api=api,
            source_text=text,
        )
        self._messages[(chat.id, message_id)] = message
        return message

    @staticmethod
    def _reply_snapshot(message: SandboxMessage) -> JSONDict:
        return {key: value for key, value in message.api.items() if key != "reply_to_message"}

    def _find_chat(self, chat_ref: int | str) -> SandboxChat:
        if isinstance(chat_ref, str):
            wanted = chat_ref.removeprefix("@").lower()
            for chat in self._chats.values():
                if chat.username and chat.username.lower() == wanted and chat.type != "private":
                    chat_ref = chat.id
                    break
            else:
                raise _bad_request("chat not found")
        if chat_ref in self.faults.missing_chats or chat_ref not in self._chats:
            raise _bad_request("chat not found")
        return self._chats[chat_ref]

    def _writable_chat(self, params: _Params) -> SandboxChat:
        """The target chat of a send/edit, with Telegram's refusals."""
        chat = self._find_chat(params.chat_id())
        if chat.id in self.faults.blocked_chats:
            raise ApiError(403, "Forbidden: bot was blocked by the user")
        status = chat.members.get(self.bot.id, "left")
        if chat.type == "private":
            if chat.members.get(chat.id) == "kicked":
                raise ApiError(403, "Forbidden: user is deactivated")
        elif chat.type == "channel":
            if status not in ("administrator", "creator"):
                raise ApiError(403, "Forbidden: bot is not a member of the channel chat")
        elif status == "kicked":
            raise ApiError(403, f"Forbidden: bot was kicked from the {chat.type} chat")
        elif status not in ("member", "administrator", "creator"):
            raise ApiError(403, f"Forbidden: bot is not a member of the {chat.type} chat")
        return chat

    def _check_flood(self, method: str, chat: SandboxChat) -> None:
        retry_after = self._flood.check(method, chat.id, chat.is_group)
        if retry_after is not None:
            raise ApiError(
                429, f"Too Many Requests: retry after {retry_after}", retry_after=retry_after
            )

    def _bot_message_api(
        self,
        chat: SandboxChat,
        message_id: int,
        date: int,
        text: str,
        entities: list[MessageEntity],
        reply_markup: JSONDict | None,
        extra: JSONDict,
    ) -> JSONDict:
        api: JSONDict = {"message_id": message_id}
        if chat.type == "channel":
            api["sender_chat"] = chat.to_api()
        else:
            api["from"] = self.bot.to_api()
        api.update({"chat": chat.to_api(), "date": date, **extra, "text": text})
        if entities:
            api["entities"] = [entity.to_api() for entity in entities]
        if reply_markup and "inline_keyboard" in reply_markup:
            api["reply_markup"] = reply_markup  # Telegram echoes only inline keyboards
        return api

    def _member_json(self, chat: SandboxChat, user: SandboxUser, status: MemberStatus) -> JSONDict:
        data: JSONDict = {"status": status, "user": user.to_api()}
        if status == "creator":
            data["is_anonymous"] = False
        elif status == "administrator":
            data.update(
                can_be_edited=False,
                is_anonymous=False,
                can_manage_chat=True,
                can_delete_messages=True,
                can_manage_video_chats=True,
                can_restrict_members=True,
                can_promote_members=False,
                can_change_info=True,
                can_invite_users=True,
                can_post_stories=False,
                can_edit_stories=False,
                can_delete_stories=False,
            )
            if chat.type == "channel":
                data.update(can_post_messages=True, can_edit_messages=True)
            else:
                data["can_pin_messages"] = True
        elif status == "kicked":
            data["until_date"] = 0
        return data

    @staticmethod
    def _commands_key(scope: object, language_code: str) -> tuple[str, str]:
        scope = scope or {"type": "default"}
        return json.dumps(scope, sort_keys=True), language_code

    # ------------------------------------------------------------------ Bot API methods

    async def _ok(self, params: _Params) -> bool:
        return True

    async def _get_me(self, params: _Params) -> JSONDict:
        return {
            **self.bot.to_api(),
            "can_join_groups": True,
            "can_read_all_group_messages": not self.privacy_mode,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    async def _get_updates(self, params: _Params) -> list[JSONDict]:
        if self.webhook_url:
            raise ApiError(
                409,
                "Conflict: can't use getUpdates method while webhook is active; "
                "use deleteWebhook to delete the webhook first",
            )
        offset = params.integer("offset")
        limit = min(max(params.integer("limit") or 100, 1), 100)
        timeout = min(max(params.integer("timeout") or 0, 0), 50)
        allowed = params.json("allowed_updates")
        if isinstance(allowed, list):
            self._allowed_updates = frozenset(str(kind) for kind in allowed) or None
        if offset is not None and offset > 0:
            self._updates = [u for u in self._updates if u["update_id"] >= offset]
        elif offset is not None and offset < 0:
            self._updates = self._updates[offset:]
        self._updates_signal.notify()  # confirmation may end wait_until_delivered
        # Telegram answers an older concurrent getUpdates with 409; this also frees requests
        # the client gave up on.
        self._poll_generation += 1
        generation = self._poll_generation
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            event = self._updates_signal.event
            if generation != self._poll_generation:
                raise ApiError(
                    409,
                    "Conflict: terminated by other getUpdates request; make sure that only one "
                    "bot instance is running",
                )
            # Telegram never delivers update types the bot did not ask for: drop them.
            self._updates = [update for update in self._updates if self._is_allowed(update)]
            ready = self._updates[:limit]
            remaining = deadline - loop.time()
            if ready or remaining <= 0 or self._closing.is_set():
                return ready
            await _wait(event, remaining)

    def _is_allowed(self, update: JSONDict) -> bool:
        if self._allowed_updates is None:
            return True
        return any(key in self._allowed_updates for key in update if key != "update_id")

    async def _set_webhook(self, params: _Params) -> bool:
        url = params.text("url") or ""
        if url and not url.startswith("https://"):
            raise _bad_request("bad webhook: An HTTPS URL must be provided for webhook")
        self.webhook_url = url
        if params.flag("drop_pending_updates"):
            self._updates.clear()
        return True

    async def _delete_webhook(self, params: _Params) -> bool:
        self.webhook_url = ""
        if params.flag("drop_pending_updates"):
            self._updates.clear()
            self._updates_signal.notify()
        return True

    async def _get_webhook_info(self, params: _Params) -> JSONDict:
        return {
            "url": self.webhook_url,
            "has_custom_certificate": False,
            "pending_update_count": len(self._updates),
        }

    async def _set_my_commands(self, params: _Params) -> bool:
        commands = params.json("commands")
        if not isinstance(commands, list) or len(commands) > 100:
            raise _bad_request("can't parse commands JSON object")
        cleaned = []
        for item in commands:
            if not isinstance(item, dict):
                raise _bad_request("can't parse commands JSON object")
            command = str(item.get("command", "")).removeprefix("/")
            description = str(item.get("description", ""))
            if not _BOT_COMMAND_NAME.match(command):
                raise _bad_request("BOT_COMMAND_INVALID")
            if not 1 <= len(description) <= 256:
                raise _bad_request("BOT_COMMAND_DESCRIPTION_INVALID")
            cleaned.append({"command": command, "description": description})
        key = self._commands_key(params.json("scope"), params.text("language_code") or "")
        self._commands[key] = cleaned
        return True

    async def _get_my_commands(self, params: _Params) -> list[JSONDict]:
        key = self._commands_key(params.json("scope"), params.text("language_code") or "")
        return self._commands.get(key, [])

    async def _delete_my_commands(self, params: _Params) -> bool:
        key = self._commands_key(params.json("scope"), params.text("language_code") or "")
        self._commands.pop(key, None)
        return True

    def _set_description(self, field_name: str) -> Handler:
        async def handler(params: _Params) -> bool:
            self.descriptions[field_name] = params.text(field_name) or ""
            return True

        return handler

    def _get_description(self, field_name: str) -> Handler:
        async def handler(params: _Params) -> JSONDict:
            return {field_name: self.descriptions.get(field_name, "")}

        return handler

    async def _send_message(self, params: _Params) -> JSONDict:
        chat = self._writable_chat(params)
        text, entities = format_text(
            params.text("text"), params.text("parse_mode"), params.json("entities")
        )
        reply_markup = validate_reply_markup(params.json("reply_markup"))
        extra: JSONDict = {}
        reply_to_id = params.integer("reply_to_message_id")
        allow_without_reply = params.flag("allow_sending_without_reply")
        reply_parameters = params.json("reply_parameters")
        if isinstance(reply_parameters, dict):
            reply_to_id = int(reply_parameters.get("message_id", 0)) or None
            allow_without_reply = bool(reply_parameters.get("allow_sending_without_reply"))
        if reply_to_id is not None:
            replied = self._messages.get((chat.id, reply_to_id))
            if replied is not None and not replied.deleted:
                extra["reply_to_message"] = self._reply_snapshot(replied)
            elif not allow_without_reply:
                raise _bad_request("message to be replied not found")
        self._check_flood("sendmessage", chat)
        message_id = self._new_message_id(chat.id)
        date = self._now()
        api = self._bot_message_api(chat, message_id, date, text, entities, reply_markup, extra)
        message = SandboxMessage(
            chat_id=chat.id,
            message_id=message_id,
            date=date,
            text=text,
            entities=tuple(entities),
            from_bot=True,
            sender_id=self.bot.id,
            api=api,
            source_text=params.text("text") or "",
            parse_mode=params.text("parse_mode"),
            reply_markup=reply_markup,
            reply_to_message_id=reply_to_id if "reply_to_message" in extra else None,
        )
        self._messages[(chat.id, message_id)] = message
        self._log("sendMessage", message)
        return api

    def _editable_message(self, params: _Params) -> tuple[SandboxChat, SandboxMessage]:
        if params.has("inline_message_id"):
            raise _bad_request("message to edit not found")
        chat = self._writable_chat(params)
        message_id = params.integer("message_id", required=True)
        assert message_id is not None  # required=True raised otherwise
        message = self._messages.get((chat.id, message_id))
        if message is None or message.deleted:
            raise _bad_request("message to edit not found")
        if not message.from_bot:
            raise _bad_request("message can't be edited")
        return chat, message

    def _apply_edit(
        self,
        method: str,
        chat: SandboxChat,
        old: SandboxMessage,
        text: str,
        entities: list[MessageEntity],
        source_text: str,
        parse_mode: str | None,
        reply_markup: JSONDict | None,
    ) -> JSONDict:
        if (
            text == old.text
            and tuple(entities) == old.entities
            and (reply_markup or None) == (old.reply_markup or None)
        ):
            raise _bad_request(_NOT_MODIFIED)
        self._check_flood(method.lower(), chat)
        edit_date = self._now()
        extra: JSONDict = {"edit_date": edit_date}
        if "reply_to_message" in old.api:
            extra["reply_to_message"] = old.api["reply_to_message"]
        api = self._bot_message_api(
            chat, old.message_id, old.date, text, entities, reply_markup, extra
        )
        message = replace(
            old,
            text=text,
            entities=tuple(entities),
            source_text=source_text,
            parse_mode=parse_mode,
            reply_markup=reply_markup,
            edit_date=edit_date,
            api=api,
        )
        self._messages[(chat.id, old.message_id)] = message
        self._log(method, message)
        return api

    async def _edit_message_text(self, params: _Params) -> JSONDict:
        chat, old = self._editable_message(params)
        text, entities = format_text(
            params.text("text"), params.text("parse_mode"), params.json("entities")
        )
        # As on Telegram, an edit without reply_markup removes the inline keyboard.
        reply_markup = validate_reply_markup(params.json("reply_markup"))
        return self._apply_edit(
            "editMessageText",
            chat,
            old,
            text,
            entities,
            params.text("text") or "",
            params.text("parse_mode"),
            reply_markup,
        )

    async def _edit_message_reply_markup(self, params: _Params) -> JSONDict:
        chat, old = self._editable_message(params)
        reply_markup = validate_reply_markup(params.json("reply_markup"))
        return self._apply_edit(
            "editMessageReplyMarkup",
            chat,
            old,
            old.text,
            list(old.entities),
            old.source_text,
            old.parse_mode,
            reply_markup,
        )

    async def _delete_message(self, params: _Params) -> bool:
        chat = self._find_chat(params.chat_id())
        message_id = params.integer("message_id", required=True)
        assert message_id is not None  # required=True raised otherwise
        message = self._messages.get((chat.id, message_id))
        if message is None or message.deleted:
            raise _bad_request("message to delete not found")
        bot_is_admin = chat.members.get(self.bot.id) in ("administrator", "creator")
        if not (message.from_bot or chat.type == "private" or bot_is_admin):
            raise _bad_request("message can't be deleted")
        deleted = replace(message, deleted=True)
        self._messages[(chat.id, message_id)] = deleted
        self._log("deleteMessage", deleted)
        return True

    async def _answer_callback_query(self, params: _Params) -> bool:
        query_id = params.text("callback_query_id") or ""
        if query_id not in self._pending_callbacks:
            raise _bad_request(
                "query is too old and response timeout expired or query ID is invalid"
            )
        text = params.text("text")
        if text is not None and len(text) > MAX_CALLBACK_ANSWER_LENGTH:
            raise _bad_request("MESSAGE_TOO_LONG")
        del self._pending_callbacks[query_id]
        self.answered_callbacks.append(
            AnsweredCallback(
                callback_query_id=query_id,
                text=text,
                show_alert=params.flag("show_alert"),
                url=params.text("url"),
                at=time.time(),
            )
        )
        self._log_signal.notify()
        return True

    async def _get_chat(self, params: _Params) -> JSONDict:
        chat = self._find_chat(params.chat_id())
        return {
            **chat.to_api(),
            "accent_color_id": 0,
            "max_reaction_count": 11,
            "accepted_gift_types": {
                "unlimited_gifts": False,
                "limited_gifts": False,
                "unique_gifts": False,
                "premium_subscription": False,
                "gifts_from_channels": False,
            },
        }

    async def _get_chat_member(self, params: _Params) -> JSONDict:
        chat = self._find_chat(params.chat_id())
        user_id = params.integer("user_id", required=True)
        assert user_id is not None  # required=True raised otherwise
        user = self._users.get(user_id)
        if user is None:
            raise _bad_request("user not found")
        return self._member_json(chat, user, chat.members.get(user_id, "left"))

    async def _get_chat_administrators(self, params: _Params) -> list[JSONDict]:
        chat = self._find_chat(params.chat_id())
        if chat.type == "private":
            raise _bad_request("there are no administrators in the private chat")
        return [
            self._member_json(chat, self._users[user_id], status)
            for user_id, status in chat.members.items()
            if status in ("creator", "administrator")
        ]

    async def _send_chat_action(self, params: _Params) -> bool:
        chat = self._writable_chat(params)
        action = params.text("action") or ""
        if action not in CHAT_ACTIONS:
            raise _bad_request("wrong parameter action in request")
        self.chat_actions.append((chat.id, action))
        return True
