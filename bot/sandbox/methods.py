"""The Bot API methods the sandbox implements: what the bot can do to the world.

Each method takes the request's :class:`~bot.sandbox.wire.Params`, acts on the
:class:`~bot.sandbox.world.World` from the bot's side (sends, edits, deletes, answers, reads
chats and members, fetches updates) and returns the ``result`` JSON, or raises
:class:`~bot.sandbox.wire.ApiError` with Telegram's status and wording, flood limits included.
How requests arrive over HTTP is :mod:`bot.sandbox.server`'s business.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any

from bot.sandbox.content import MAX_CALLBACK_ANSWER_LENGTH, format_text, validate_reply_markup
from bot.sandbox.html_parse import MessageEntity
from bot.sandbox.limits import FloodControl, RateLimits
from bot.sandbox.models import (
    AnsweredCallback,
    JSONDict,
    SandboxChat,
    SandboxMessage,
    chat_member_json,
    reply_snapshot,
)
from bot.sandbox.wire import ApiError, Params, bad_request
from bot.sandbox.world import World, commands_key, wait_at_most

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
_BOT_COMMAND_NAME = re.compile(r"^[a-z0-9_]{1,32}$")
_NOT_MODIFIED = (
    "message is not modified: specified new message content and reply markup are "
    "exactly the same as a current content and reply markup of the message"
)

#: One Bot API method: request parameters in, the answer's ``result`` out.
Handler = Callable[[Params], Awaitable[Any]]


class BotApi:
    """The bot's side of one :class:`World`: every supported method by lower-case name.

    Args:
        world: the users, chats and messages the methods act on.
        rate_limits: flood limits for sends and edits (``flood`` may be replaced later).
    """

    def __init__(self, world: World, rate_limits: RateLimits) -> None:
        self.world = world
        self.flood = FloodControl(rate_limits)
        self._allowed_updates: frozenset[str] | None = None
        self._poll_generation = 0
        self._handlers: dict[str, Handler] = {
            "getme": self.get_me,
            "getupdates": self.get_updates,
            "setwebhook": self.set_webhook,
            "deletewebhook": self.delete_webhook,
            "getwebhookinfo": self.get_webhook_info,
            "logout": self._ok,
            "close": self._ok,
            "setmycommands": self.set_my_commands,
            "getmycommands": self.get_my_commands,
            "deletemycommands": self.delete_my_commands,
            "setmydescription": self._set_description("description"),
            "setmyshortdescription": self._set_description("short_description"),
            "setmyname": self._set_description("name"),
            "getmydescription": self._get_description("description"),
            "getmyshortdescription": self._get_description("short_description"),
            "getmyname": self._get_description("name"),
            "sendmessage": self.send_message,
            "editmessagetext": self.edit_message_text,
            "editmessagereplymarkup": self.edit_message_reply_markup,
            "deletemessage": self.delete_message,
            "answercallbackquery": self.answer_callback_query,
            "getchat": self.get_chat,
            "getchatmember": self.get_chat_member,
            "getchatadministrators": self.get_chat_administrators,
            "sendchataction": self.send_chat_action,
        }

    def handler(self, method: str) -> Handler | None:
        """The implementation of ``method`` (lower-case name); None when there is none."""
        return self._handlers.get(method)

    # ------------------------------------------------------------------ the bot and updates

    async def _ok(self, params: Params) -> bool:
        return True

    async def get_me(self, params: Params) -> JSONDict:
        return {
            **self.world.bot.to_api(),
            "can_join_groups": True,
            "can_read_all_group_messages": not self.world.privacy_mode,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    async def get_updates(self, params: Params) -> list[JSONDict]:
        world = self.world
        if world.webhook_url:
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
            world.updates = [u for u in world.updates if u["update_id"] >= offset]
        elif offset is not None and offset < 0:
            world.updates = world.updates[offset:]
        world.updates_signal.notify()  # confirmation may end wait_until_delivered
        # Telegram answers an older concurrent getUpdates with 409; this also frees requests
        # the client gave up on.
        self._poll_generation += 1
        generation = self._poll_generation
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            event = world.updates_signal.event
            if generation != self._poll_generation:
                raise ApiError(
                    409,
                    "Conflict: terminated by other getUpdates request; make sure that only one "
                    "bot instance is running",
                )
            # Telegram never delivers update types the bot did not ask for: drop them.
            world.updates = [update for update in world.updates if self._is_allowed(update)]
            ready = world.updates[:limit]
            remaining = deadline - loop.time()
            if ready or remaining <= 0 or world.closing.is_set():
                return ready
            await wait_at_most(event, remaining)

    def _is_allowed(self, update: JSONDict) -> bool:
        if self._allowed_updates is None:
            return True
        return any(key in self._allowed_updates for key in update if key != "update_id")

    async def set_webhook(self, params: Params) -> bool:
        url = params.text("url") or ""
        if url and not url.startswith("https://"):
            raise bad_request("bad webhook: An HTTPS URL must be provided for webhook")
        self.world.webhook_url = url
        self.world.webhook_secret = params.text("secret_token") or ""
        if params.flag("drop_pending_updates"):
            self.world.updates.clear()
        return True

    async def delete_webhook(self, params: Params) -> bool:
        self.world.webhook_url = ""
        self.world.webhook_secret = ""
        if params.flag("drop_pending_updates"):
            self.world.updates.clear()
            self.world.updates_signal.notify()
        return True

    async def get_webhook_info(self, params: Params) -> JSONDict:
        return {
            "url": self.world.webhook_url,
            "has_custom_certificate": False,
            "pending_update_count": len(self.world.updates),
        }

    # ------------------------------------------------------------------ commands and profile

    async def set_my_commands(self, params: Params) -> bool:
        commands = params.json("commands")
        if not isinstance(commands, list) or len(commands) > 100:
            raise bad_request("can't parse commands JSON object")
        cleaned = []
        for item in commands:
            if not isinstance(item, dict):
                raise bad_request("can't parse commands JSON object")
            command = str(item.get("command", "")).removeprefix("/")
            description = str(item.get("description", ""))
            if not _BOT_COMMAND_NAME.match(command):
                raise bad_request("BOT_COMMAND_INVALID")
            if not 1 <= len(description) <= 256:
                raise bad_request("BOT_COMMAND_DESCRIPTION_INVALID")
            cleaned.append({"command": command, "description": description})
        key = commands_key(params.json("scope"), params.text("language_code") or "")
        self.world.command_lists[key] = cleaned
        return True

    async def get_my_commands(self, params: Params) -> list[JSONDict]:
        key = commands_key(params.json("scope"), params.text("language_code") or "")
        return self.world.command_lists.get(key, [])

    async def delete_my_commands(self, params: Params) -> bool:
        key = commands_key(params.json("scope"), params.text("language_code") or "")
        self.world.command_lists.pop(key, None)
        return True

    def _set_description(self, field_name: str) -> Handler:
        async def handler(params: Params) -> bool:
            self.world.descriptions[field_name] = params.text(field_name) or ""
            return True

        return handler

    def _get_description(self, field_name: str) -> Handler:
        async def handler(params: Params) -> JSONDict:
            return {field_name: self.world.descriptions.get(field_name, "")}

        return handler

    # ------------------------------------------------------------------ messages

    async def send_message(self, params: Params) -> JSONDict:
        world = self.world
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
            replied = world.messages_by_id.get((chat.id, reply_to_id))
            if replied is not None and not replied.deleted:
                extra["reply_to_message"] = reply_snapshot(replied)
            elif not allow_without_reply:
                raise bad_request("message to be replied not found")
        self._check_flood("sendmessage", chat)
        message_id = world.new_message_id(chat.id)
        date = world.now()
        api = self._bot_message_api(chat, message_id, date, text, entities, reply_markup, extra)
        message = SandboxMessage(
            chat_id=chat.id,
            message_id=message_id,
            date=date,
            text=text,
            entities=tuple(entities),
            from_bot=True,
            sender_id=world.bot.id,
            api=api,
            source_text=params.text("text") or "",
            parse_mode=params.text("parse_mode"),
            reply_markup=reply_markup,
            reply_to_message_id=reply_to_id if "reply_to_message" in extra else None,
        )
        world.messages_by_id[(chat.id, message_id)] = message
        world.log_action("sendMessage", message)
        return api

    async def edit_message_text(self, params: Params) -> JSONDict:
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

    async def edit_message_reply_markup(self, params: Params) -> JSONDict:
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

    async def delete_message(self, params: Params) -> bool:
        world = self.world
        chat = self._find_chat(params.chat_id())
        message_id = params.integer("message_id", required=True)
        assert message_id is not None  # required=True raised otherwise
        message = world.messages_by_id.get((chat.id, message_id))
        if message is None or message.deleted:
            raise bad_request("message to delete not found")
        bot_is_admin = chat.members.get(world.bot.id) in ("administrator", "creator")
        if not (message.from_bot or chat.type == "private" or bot_is_admin):
            raise bad_request("message can't be deleted")
        deleted = replace(message, deleted=True)
        world.messages_by_id[(chat.id, message_id)] = deleted
        world.log_action("deleteMessage", deleted)
        return True

    async def answer_callback_query(self, params: Params) -> bool:
        world = self.world
        query_id = params.text("callback_query_id") or ""
        if query_id not in world.pending_callbacks:
            raise bad_request(
                "query is too old and response timeout expired or query ID is invalid"
            )
        text = params.text("text")
        if text is not None and len(text) > MAX_CALLBACK_ANSWER_LENGTH:
            raise bad_request("MESSAGE_TOO_LONG")
        del world.pending_callbacks[query_id]
        world.answered_callbacks.append(
            AnsweredCallback(
                callback_query_id=query_id,
                text=text,
                show_alert=params.flag("show_alert"),
                url=params.text("url"),
                at=time.time(),
            )
        )
        world.log_signal.notify()
        return True

    def _editable_message(self, params: Params) -> tuple[SandboxChat, SandboxMessage]:
        if params.has("inline_message_id"):
            raise bad_request("message to edit not found")
        chat = self._writable_chat(params)
        message_id = params.integer("message_id", required=True)
        assert message_id is not None  # required=True raised otherwise
        message = self.world.messages_by_id.get((chat.id, message_id))
        if message is None or message.deleted:
            raise bad_request("message to edit not found")
        if not message.from_bot:
            raise bad_request("message can't be edited")
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
            raise bad_request(_NOT_MODIFIED)
        self._check_flood(method.lower(), chat)
        edit_date = self.world.now()
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
        self.world.messages_by_id[(chat.id, old.message_id)] = message
        self.world.log_action(method, message)
        return api

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
            api["from"] = self.world.bot.to_api()
        api.update({"chat": chat.to_api(), "date": date, **extra, "text": text})
        if entities:
            api["entities"] = [entity.to_api() for entity in entities]
        if reply_markup and "inline_keyboard" in reply_markup:
            api["reply_markup"] = reply_markup  # Telegram echoes only inline keyboards
        return api

    # ------------------------------------------------------------------ chats

    async def get_chat(self, params: Params) -> JSONDict:
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

    async def get_chat_member(self, params: Params) -> JSONDict:
        chat = self._find_chat(params.chat_id())
        user_id = params.integer("user_id", required=True)
        assert user_id is not None  # required=True raised otherwise
        user = self.world.users.get(user_id)
        if user is None:
            raise bad_request("user not found")
        return chat_member_json(chat, user, chat.members.get(user_id, "left"))

    async def get_chat_administrators(self, params: Params) -> list[JSONDict]:
        chat = self._find_chat(params.chat_id())
        if chat.type == "private":
            raise bad_request("there are no administrators in the private chat")
        return [
            chat_member_json(chat, self.world.users[user_id], status)
            for user_id, status in chat.members.items()
            if status in ("creator", "administrator")
        ]

    async def send_chat_action(self, params: Params) -> bool:
        chat = self._writable_chat(params)
        action = params.text("action") or ""
        if action not in CHAT_ACTIONS:
            raise bad_request("wrong parameter action in request")
        self.world.chat_actions.append((chat.id, action))
        return True

    def _find_chat(self, chat_ref: int | str) -> SandboxChat:
        world = self.world
        if isinstance(chat_ref, str):
            wanted = chat_ref.removeprefix("@").lower()
            for chat in world.chats.values():
                if chat.username and chat.username.lower() == wanted and chat.type != "private":
                    chat_ref = chat.id
                    break
            else:
                raise bad_request("chat not found")
        if chat_ref in world.faults.missing_chats or chat_ref not in world.chats:
            raise bad_request("chat not found")
        return world.chats[chat_ref]

    def _writable_chat(self, params: Params) -> SandboxChat:
        """The target chat of a send/edit, with Telegram's refusals."""
        chat = self._find_chat(params.chat_id())
        if chat.id in self.world.faults.blocked_chats:
            raise ApiError(403, "Forbidden: bot was blocked by the user")
        status = chat.members.get(self.world.bot.id, "left")
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
        retry_after = self.flood.check(method, chat.id, chat.is_group)
        if retry_after is not None:
            raise ApiError(
                429, f"Too Many Requests: retry after {retry_after}", retry_after=retry_after
            )
