"""The Telegram world the bot lives in, and what its users do there.

:class:`World` holds the state one sandbox server keeps in memory (users, chats with members,
the messages in them, the queue of updates for the bot and the record of what the bot did) and
is the user-side API: test code creates users and chats, acts as Telegram users (``send_text``,
``press_button``, ``post_to_channel``, ...) and reads or waits for the bot's answers
(``messages``, ``wait_for_message``, ...). The bot's side changes the same state through the
Bot API methods (:mod:`bot.sandbox.methods`); :class:`bot.sandbox.server.BotApiServer` is a
World served over HTTP.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import replace

from bot.sandbox.content import COMMAND_PATTERN, detect_entities
from bot.sandbox.faults import Faults
from bot.sandbox.html_parse import MessageEntity
from bot.sandbox.models import (
    AnsweredCallback,
    JSONDict,
    LogEntry,
    MemberStatus,
    SandboxChat,
    SandboxMessage,
    SandboxUser,
    chat_member_json,
    reply_snapshot,
)
from storage.models import ChatType


class Signal:
    """Wake every waiter when something changes (updates queued, bot acted, server closing)."""

    def __init__(self) -> None:
        self._event = asyncio.Event()

    @property
    def event(self) -> asyncio.Event:
        return self._event

    def notify(self) -> None:
        self._event.set()
        self._event = asyncio.Event()


async def wait_at_most(event: asyncio.Event, seconds: float) -> None:
    """Wait for ``event`` at most ``seconds`` (no error when the time runs out)."""
    if seconds <= 0:
        return
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(event.wait(), seconds)


def commands_key(scope: object, language_code: str) -> tuple[str, str]:
    """The key of one command list: setMyCommands keeps a list per scope and language."""
    scope = scope or {"type": "default"}
    return json.dumps(scope, sort_keys=True), language_code


class World:
    """Users, chats, messages and updates of one sandbox, with a user-side API for tests.

    Args:
        bot: the bot's own user.
        privacy_mode: as on Telegram, a bot that is not an admin of a group only receives
            commands, replies to its messages and mentions of it there.
        clock: wall clock for message dates (seconds since the epoch).
    """

    def __init__(self, bot: SandboxUser, *, privacy_mode: bool, clock: Callable[[], float]) -> None:
        self.bot = bot
        self.privacy_mode = privacy_mode
        self.faults = Faults()
        #: Every accepted sendMessage / edit / deleteMessage, in order.
        self.sent_log: list[LogEntry] = []
        #: Every answerCallbackQuery, in order.
        self.answered_callbacks: list[AnsweredCallback] = []
        #: Every accepted sendChatAction as ``(chat_id, action)``.
        self.chat_actions: list[tuple[int, str]] = []
        self.webhook_url = ""
        #: The secret_token the bot registered with setWebhook ("" for none).
        self.webhook_secret = ""
        self.descriptions: dict[str, str] = {}
        #: Everyone by user id, the bot included.
        self.users: dict[int, SandboxUser] = {bot.id: bot}
        self.chats: dict[int, SandboxChat] = {}
        #: The current state of every message by ``(chat_id, message_id)``.
        self.messages_by_id: dict[tuple[int, int], SandboxMessage] = {}
        #: Updates queued for the bot and not yet confirmed by a ``getUpdates`` offset.
        self.updates: list[JSONDict] = []
        #: Callback queries the bot has yet to answer: query id -> ``(chat_id, message_id)``.
        self.pending_callbacks: dict[str, tuple[int, int]] = {}
        #: setMyCommands lists by :func:`commands_key`.
        self.command_lists: dict[tuple[str, str], list[JSONDict]] = {}
        #: Notified when updates are queued or confirmed.
        self.updates_signal = Signal()
        #: Notified when the bot sends, edits, deletes or answers a callback query.
        self.log_signal = Signal()
        #: Set while the server shuts down: held requests and waits end at once.
        self.closing = asyncio.Event()
        self._clock = clock
        self._next_message_id: Counter[int] = Counter()
        self._user_ids = itertools.count(1_000_001)
        self._group_ids = itertools.count(4_000_001)
        self._supergroup_ids = itertools.count(1_000_000_000_001)
        self._callback_ids = itertools.count(7_000_000_000_000_000_001)
        self._next_update_id = 100_000_001
        self._message_cursor: dict[int, int] = {}
        self._edit_cursor: dict[int, int] = {}

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
        self.users[user.id] = user
        return user

    def private_chat(self, user: SandboxUser) -> SandboxChat:
        """The user's private chat with the bot (chat id = user id), created on first use."""
        chat = self.chats.get(user.id)
        if chat is None:
            chat = SandboxChat(
                id=user.id,
                type="private",
                username=user.username,
                first_name=user.first_name,
                last_name=user.last_name,
                members={user.id: "member", self.bot.id: "member"},
            )
            self.chats[chat.id] = chat
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
            self.users.setdefault(user.id, user)
            chat.members[user.id] = "member"
        for user in admins:
            self.users.setdefault(user.id, user)
            chat.members[user.id] = "administrator"
        if creator is not None:
            self.users.setdefault(creator.id, creator)
            chat.members[creator.id] = "creator"
        chat.members[self.bot.id] = bot_status
        self.chats[chat.id] = chat

    def set_member(self, chat: SandboxChat, user: SandboxUser, status: MemberStatus) -> None:
        """Change a member's status without an update (use :meth:`add_bot_to_group` for the bot
        when the bot should hear about it)."""
        self.users.setdefault(user.id, user)
        chat.members[user.id] = status

    def chat(self, chat_id: int) -> SandboxChat:
        """A chat by id (KeyError when unknown)."""
        return self.chats[chat_id]

    def user(self, user_id: int) -> SandboxUser:
        return self.users[user_id]

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
        self.users.setdefault(user.id, user)
        entity_list = list(entities) if entities is not None else detect_entities(text)
        extra: JSONDict = {}
        if reply_to is not None:
            extra["reply_to_message"] = reply_snapshot(reply_to)
        message = self._store_user_message(chat, user, text, entity_list, extra)
        if reply_to is not None:
            message = replace(message, reply_to_message_id=reply_to.message_id)
            self.messages_by_id[(chat.id, message.message_id)] = message
        if self._bot_hears(chat, text, reply_to):
            self.queue_update("message", message.api)
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
        date = origin_date if origin_date is not None else self.now() - 3600
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
        self.users.setdefault(user.id, user)
        message = self._store_user_message(
            chat, user, text, entity_list, {"forward_origin": forward_origin}
        )
        if self._bot_hears(chat, text, None, forwarded=True):
            self.queue_update("message", message.api)
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
        chat = self.chats[message.chat_id]
        if user is None:
            if chat.type != "private":
                raise ValueError("say which user presses the button in a group or channel")
            user = self.users[chat.id]
        query_id = str(next(self._callback_ids))
        self.pending_callbacks[query_id] = (chat.id, message.message_id)
        self.queue_update(
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
        message_id = self.new_message_id(channel.id)
        api: JSONDict = {
            "message_id": message_id,
            "sender_chat": channel.to_api(),
            "chat": channel.to_api(),
            "date": self.now(),
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
        self.messages_by_id[(channel.id, message_id)] = message
        if channel.members.get(self.bot.id) in ("administrator", "creator"):
            self.queue_update("channel_post", api)
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
        self.users.setdefault(by.id, by)
        self.queue_update(
            "my_chat_member",
            {
                "chat": chat.to_api(),
                "from": by.to_api(),
                "date": self.now(),
                "old_chat_member": chat_member_json(chat, self.bot, old),
                "new_chat_member": chat_member_json(chat, self.bot, status),
            },
        )

    # ------------------------------------------------------------------ reading (for tests)

    def messages(self, chat_id: int, *, include_users: bool = False) -> list[SandboxMessage]:
        """Current state of the chat's messages, oldest first: the bot's only unless
        ``include_users``; edits applied, deleted ones kept with ``deleted=True``."""
        found = [
            message
            for (message_chat, _), message in self.messages_by_id.items()
            if message_chat == chat_id and (include_users or message.from_bot)
        ]
        return sorted(found, key=lambda message: message.message_id)

    def message(self, chat_id: int, message_id: int) -> SandboxMessage:
        """Current state of one message (KeyError when unknown)."""
        return self.messages_by_id[(chat_id, message_id)]

    @property
    def pending_updates(self) -> int:
        """Updates queued and not yet confirmed by the bot's ``getUpdates`` offset."""
        return len(self.updates)

    def commands(self, scope: JSONDict | None = None, language_code: str = "") -> list[JSONDict]:
        """The commands set with setMyCommands for that scope (default scope when None)."""
        return list(self.command_lists.get(commands_key(scope, language_code), []))

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
            event = self.log_signal.event
            answer = self.callback_answer(callback_query_id)
            if answer is not None:
                return answer
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0:
                raise TimeoutError(f"callback query {callback_query_id} was not answered")
            await wait_at_most(event, remaining)

    async def wait_until_delivered(
        self,
        timeout: float = 5.0,  # noqa: ASYNC109 - a deadline for the whole wait, read by tests
    ) -> None:
        """Wait until the bot has fetched and confirmed every queued update."""
        deadline = asyncio.get_running_loop().time() + timeout
        while self.updates:
            event = self.updates_signal.event
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0:
                raise TimeoutError(f"{len(self.updates)} updates still unconfirmed")
            await wait_at_most(event, remaining)

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
            event = self.log_signal.event
            for index in range(cursors.get(chat_id, 0), len(self.sent_log)):
                entry = self.sent_log[index]
                if entry.chat_id != chat_id or entry.method.lower() not in methods:
                    continue
                cursors[chat_id] = index + 1
                if predicate is None or predicate(entry.message):
                    return entry.message
            cursors[chat_id] = len(self.sent_log)
            remaining = deadline - loop.time()
            if remaining <= 0 or self.closing.is_set():
                raise TimeoutError(f"no matching bot action in chat {chat_id} within {seconds}s")
            await wait_at_most(event, remaining)

    # ------------------------------------------------------------------ shared with the Bot API

    def now(self) -> int:
        """A message date: the clock in whole seconds."""
        return int(self._clock())

    def new_message_id(self, chat_id: int) -> int:
        """The next message id in that chat (ids count up from 1 in each chat)."""
        self._next_message_id[chat_id] += 1
        return self._next_message_id[chat_id]

    def queue_update(self, kind: str, payload: JSONDict) -> None:
        """Queue an update of ``kind`` (``message``, ``callback_query``, ...) for the bot."""
        self.updates.append({"update_id": self._next_update_id, kind: payload})
        self._next_update_id += 1
        self.updates_signal.notify()

    def log_action(self, method: str, message: SandboxMessage) -> None:
        """Record an accepted bot action in :attr:`sent_log` and wake its waiters."""
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
        self.log_signal.notify()

    # ------------------------------------------------------------------ internals

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
            match = COMMAND_PATTERN.match(text)
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
        message_id = self.new_message_id(chat.id)
        api: JSONDict = {
            "message_id": message_id,
            "from": user.to_api(),
            "chat": chat.to_api(),
            "date": self.now(),
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
        self.messages_by_id[(chat.id, message_id)] = message
        return message
