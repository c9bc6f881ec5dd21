"""The values of the sandbox's world: users, chats and messages, and their Bot API JSON shapes.

Users, chats and message snapshots are what tests hold and pass back to the server's user-side
API. Messages are frozen snapshots: an edit stores a new snapshot, so a message a test kept
still shows what it looked like when it was taken (``server.message(chat_id, message_id)``
gives the current state).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from bot.sandbox.html_parse import MessageEntity
from storage.models import ChatType

JSONDict = dict[str, Any]
MemberStatus = Literal["creator", "administrator", "member", "left", "kicked"]


@dataclass(frozen=True, slots=True)
class SandboxUser:
    """A Telegram user (or the bot itself, with ``is_bot=True``)."""

    id: int
    first_name: str
    username: str | None = None
    last_name: str | None = None
    language_code: str | None = "en"
    is_bot: bool = False

    def to_api(self) -> JSONDict:
        data: JSONDict = {"id": self.id, "is_bot": self.is_bot, "first_name": self.first_name}
        if self.last_name:
            data["last_name"] = self.last_name
        if self.username:
            data["username"] = self.username
        if self.language_code and not self.is_bot:
            data["language_code"] = self.language_code
        return data


@dataclass(slots=True)
class SandboxChat:
    """A chat. ``members`` maps user id -> status and answers getChatMember(Administrators)."""

    id: int
    type: ChatType
    title: str | None = None
    username: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    members: dict[int, MemberStatus] = field(default_factory=dict)

    @property
    def is_group(self) -> bool:
        """Groups, supergroups and channels share the 20 messages a minute limit."""
        return self.type != "private"

    def to_api(self) -> JSONDict:
        data: JSONDict = {"id": self.id, "type": self.type}
        for key in ("title", "username", "first_name", "last_name"):
            value = getattr(self, key)
            if value:
                data[key] = value
        return data


@dataclass(frozen=True, slots=True)
class InlineButton:
    """One inline keyboard button (only the fields the sandbox acts on)."""

    text: str
    callback_data: str | None = None
    url: str | None = None


@dataclass(frozen=True, slots=True)
class SandboxMessage:
    """A message as it stood at one moment.

    Attributes:
        text: the plain text (HTML tags parsed away, as a Telegram client shows it).
        entities: the formatting, UTF-16 offsets as in the Bot API.
        source_text: the text as the bot sent it (with HTML tags when ``parse_mode`` was HTML).
        api: the Bot API Message JSON the server answered with / delivered in the update.
        sender_id: the user who sent it (the bot's id for bot messages, None for channel posts).
    """

    chat_id: int
    message_id: int
    date: int
    text: str
    entities: tuple[MessageEntity, ...]
    from_bot: bool
    sender_id: int | None
    api: JSONDict = field(compare=False, repr=False)
    source_text: str = ""
    parse_mode: str | None = None
    reply_markup: JSONDict | None = None
    reply_to_message_id: int | None = None
    edit_date: int | None = None
    deleted: bool = False

    @property
    def buttons(self) -> list[list[InlineButton]]:
        """The inline keyboard as rows of buttons (empty without one)."""
        if not self.reply_markup:
            return []
        rows = self.reply_markup.get("inline_keyboard") or []
        return [
            [
                InlineButton(
                    text=button["text"],
                    callback_data=button.get("callback_data"),
                    url=button.get("url"),
                )
                for button in row
            ]
            for row in rows
        ]

    @property
    def flat_buttons(self) -> list[InlineButton]:
        """All inline buttons, row by row (handy for "press the 2nd button")."""
        return [button for row in self.buttons for button in row]

    def button(self, text: str) -> InlineButton:
        """The first button whose text contains ``text``; KeyError when there is none."""
        for button in self.flat_buttons:
            if text in button.text:
                return button
        raise KeyError(f"no button with {text!r} in message {self.message_id}")

    def has_entity(self, entity_type: str) -> bool:
        return any(entity.type == entity_type for entity in self.entities)


@dataclass(frozen=True, slots=True)
class LogEntry:
    """One accepted bot action: ``method`` is sendMessage, editMessageText,
    editMessageReplyMarkup or deleteMessage; ``message`` is the state right after it."""

    seq: int
    at: float
    method: str
    chat_id: int
    message_id: int
    message: SandboxMessage


@dataclass(frozen=True, slots=True)
class AnsweredCallback:
    """The bot's answerCallbackQuery for one button press."""

    callback_query_id: str
    text: str | None
    show_alert: bool
    url: str | None
    at: float


def reply_snapshot(message: SandboxMessage) -> JSONDict:
    """``message`` as a reply quotes it in ``reply_to_message`` (without its own reply)."""
    return {key: value for key, value in message.api.items() if key != "reply_to_message"}


def chat_member_json(chat: SandboxChat, user: SandboxUser, status: MemberStatus) -> JSONDict:
    """The Bot API ChatMember of ``user`` in ``chat`` with ``status``."""
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
