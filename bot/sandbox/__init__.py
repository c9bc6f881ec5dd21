"""A local Telegram Bot API server for tests and ``attache console``.

``BotApiServer`` speaks the Bot API to the real python-telegram-bot client on 127.0.0.1 and
lets Python code act as Telegram users; see :mod:`bot.sandbox.server`.

The modules, one concern each: ``server`` (HTTP, lifecycle), ``world`` (users, chats, messages,
updates and the user-side API), ``methods`` (the Bot API methods), ``wire`` (request parameters
and error answers), ``content`` (Telegram's rules for texts, entities and keyboards),
``html_parse`` (``parse_mode=HTML``), ``models`` (the values), ``limits`` (flood control),
``faults`` (fault injection) and ``console`` (``attache console``).
"""

from __future__ import annotations

from bot.sandbox.faults import Fault, FaultKind, Faults, InjectedFault, LostAnswer
from bot.sandbox.html_parse import EntityParseError, MessageEntity, parse_message_html
from bot.sandbox.limits import RateLimits
from bot.sandbox.models import (
    AnsweredCallback,
    InlineButton,
    LogEntry,
    SandboxChat,
    SandboxMessage,
    SandboxUser,
)
from bot.sandbox.server import BotApiServer
from bot.sandbox.wire import ApiError

__all__ = [
    "AnsweredCallback",
    "ApiError",
    "BotApiServer",
    "EntityParseError",
    "Fault",
    "FaultKind",
    "Faults",
    "InjectedFault",
    "InlineButton",
    "LogEntry",
    "LostAnswer",
    "MessageEntity",
    "RateLimits",
    "SandboxChat",
    "SandboxMessage",
    "SandboxUser",
    "parse_message_html",
]
