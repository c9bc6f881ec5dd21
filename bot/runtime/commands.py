"""The one registry of bot commands: ``/help`` and Telegram's command menus are built from it.

``bot/app.py`` registers a handler for every entry (a test checks both directions), so a command
cannot be advertised without working or work without being documented.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from bot.render import escape

Scope = Literal["private", "group"]
BOTH: frozenset[Scope] = frozenset({"private", "group"})
PRIVATE: frozenset[Scope] = frozenset({"private"})


@dataclass(frozen=True, slots=True)
class Command:
    """One command: its name (no slash), usage arguments, a one-line description, where it shows."""

    name: str
    description: str
    usage: str = ""
    scopes: frozenset[Scope] = BOTH
    admin_only: bool = False


COMMANDS: tuple[Command, ...] = (
    Command("start", "what this bot does, with examples"),
    Command("help", "this list of commands"),
    Command("search", 'find articles: words, "phrases", OR, -not, prefix*', "QUERY"),
    Command("article", "show a stored article, a page at a time", "ID"),
    Command("person", "a person's name variants and latest articles", "NAME"),
    Command("latest", "the newest diplomatic articles", "[N]"),
    Command("subscribe", "follow a keyword, person, country or org", "[person|country|org] WHAT"),
    Command("subscriptions", "list this chat's subscriptions"),
    Command("unsubscribe", "remove a subscription, or all of them", "ID|all"),
    Command("digest", "digest settings; now: send what is pending", "[now|daily|time HH:MM|…]"),
    Command("more", "the next items of the last digest"),
    Command("timezone", "set this chat's time zone", "ZONE"),
    Command("channel", "manage a channel you administer (off to stop)", "@name|off", PRIVATE),
    Command("stop", "forget this chat: subscriptions and settings"),
    Command("ingest", "store an article from a URL or a replied message", "URL", admin_only=True),
    Command("stats", "what the database holds", admin_only=True),
    Command("addfeed", "poll an RSS, Atom or JSON feed", "URL [minutes]", admin_only=True),
    Command("feeds", "every feed with its health and next poll", admin_only=True),
    Command("removefeed", "stop polling a feed", "ID", admin_only=True),
)
BY_NAME = {c.name: c for c in COMMANDS}


def menu(scope: Scope) -> list[tuple[str, str]]:
    """(command, description) pairs for Telegram's menu in ``scope``; admin commands hidden."""
    return [(c.name, c.description) for c in COMMANDS if scope in c.scopes and not c.admin_only]


def help_text(*, is_admin: bool, scope: Scope = "private") -> str:
    """The ``/help`` message (Telegram HTML): every available command with one line each."""
    lines = ["<b>Commands</b>"]
    admin_lines: list[str] = []
    for command in COMMANDS:
        if scope not in command.scopes:
            continue
        usage = f" {escape(command.usage)}" if command.usage else ""
        line = f"/{command.name}{usage} — {escape(command.description)}"
        if command.admin_only:
            admin_lines.append(line)
        else:
            lines.append(line)
    if is_admin and admin_lines:
        lines += ["", "<b>Admin</b>", *admin_lines]
    lines += [
        "",
        "Forward or paste an article to store it (admins and allowed users).",
    ]
    return "\n".join(lines)
