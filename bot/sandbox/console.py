"""``attache console``: talk to the real bot in a terminal, without a Telegram token.

It starts the local Bot API server (:mod:`bot.sandbox`) on 127.0.0.1, runs the real application
against it with long polling, and turns the terminal into a Telegram client for one private
chat: each typed line is a message from the console user, the bot's messages and edits are
printed as plain text (links as ``title <url>``), inline keyboards appear as numbered choices
and typing a number presses that button. Lines starting with ``:`` are console commands
(``:help``). The database is the configured one, so whatever the person stores or subscribes to
is kept.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import secrets
import shlex
import signal
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from pydantic import SecretStr

from bot.app import ALLOWED_UPDATES, AttacheApp, build_application
from bot.config import Settings
from bot.factory import make_storage
from bot.sandbox import (
    AnsweredCallback,
    BotApiServer,
    InlineButton,
    LogEntry,
    MessageEntity,
    RateLimits,
    SandboxChat,
    SandboxMessage,
    SandboxUser,
)
from bot.services import Services

log = logging.getLogger(__name__)

#: The bot's user id in the sandbox (the digits before ``:`` of its throwaway token).
CONSOLE_BOT_ID = 7000001
BOT_USERNAME = "attache_bot"
#: Telegram has no user 1, so the console's chat can never be confused with a real person's
#: chat in a database the real bot also uses.
CONSOLE_USER_ID = 1
#: After the bot's last action, this much silence means it has finished answering.
QUIET_SECONDS = 0.3
#: How long to wait for the first sign of an answer (searches on a big database, 429 retries).
FIRST_REPLY_SECONDS = 6.0
#: After the sandbox refused a send with 429, the bot retries once ``retry_after`` has passed.
RETRY_QUIET_SECONDS = 1.6
#: Hard cap on one wait, so a bot that keeps talking cannot hold the prompt forever.
MAX_WAIT_SECONDS = 15.0
_POLL_SECONDS = 0.02
_SEND_METHODS = frozenset({"sendmessage", "editmessagetext", "editmessagereplymarkup"})
_PASTE_END = "."

HELP = """\
Type as you would in Telegram: /start, /help, /search eurasian integration, /person Lavrov ...
A number alone (1, 2, ...) presses that button of the latest message with buttons.
Console commands:
  :help            this text
  :ingest PATH...  store article files (text, HTML, JSON, JSONL) or URLs in the database
  :paste           send several lines as one message (end with a line holding only ".")
  :quit            leave (Ctrl-D and Ctrl-C work too)"""


# --------------------------------------------------------------------------- rendering


def _utf16_index(text: str) -> dict[int, int]:
    """UTF-16 offset (how the Bot API counts entities) -> index in the Python string."""
    positions: dict[int, int] = {}
    units = 0
    for index, char in enumerate(text):
        positions[units] = index
        units += 2 if ord(char) > 0xFFFF else 1
    positions[units] = len(text)
    return positions


def readable_text(text: str, entities: Sequence[MessageEntity]) -> str:
    """The message as a terminal can show it: formatting dropped, each link as ``title <url>``."""
    links = [entity for entity in entities if entity.type == "text_link" and entity.url]
    if not links:
        return text
    positions = _utf16_index(text)
    inserts: list[tuple[int, str]] = []
    for link in links:
        start = positions.get(link.offset, 0)
        end = positions.get(link.offset + link.length, len(text))
        if text[start:end].strip() != link.url:
            inserts.append((end, f" <{link.url}>"))
    # From the end backwards, so earlier insertions do not shift later positions.
    for end, addition in sorted(inserts, key=lambda item: item[0], reverse=True):
        text = text[:end] + addition + text[end:]
    return text


def button_lines(rows: Sequence[Sequence[InlineButton]]) -> list[str]:
    """``[1] ‹ Prev  [2] Next ›``, one line per keyboard row, numbered across rows."""
    lines: list[str] = []
    number = 0
    for row in rows:
        cells = []
        for button in row:
            number += 1
            label = f"{button.text} ↗" if button.url else button.text
            cells.append(f"[{number}] {label}")
        if cells:
            lines.append("  ".join(cells))
    return lines


def render_message(message: SandboxMessage, *, header: str = "bot") -> str:
    """A bot message as lines of plain text under ``header``, then its numbered buttons."""
    body = readable_text(message.text, message.entities).splitlines() or [""]
    indent = " " * (len(header) + 2)
    lines = [f"{header}: {body[0]}"] + [f"{indent}{line}" if line else "" for line in body[1:]]
    lines += [f"{indent}{line}" for line in button_lines(message.buttons)]
    return "\n".join(lines)


def render_entry(entry: LogEntry) -> str:
    """One bot action from the sandbox log (a new message, an edit or a deletion)."""
    method = entry.method.lower()
    if method == "deletemessage":
        return "bot deleted a message."
    if method == "editmessagereplymarkup":
        buttons = button_lines(entry.message.buttons)
        if not buttons:
            return "bot removed the buttons."
        return "bot changed the buttons:\n" + "\n".join(f"  {line}" for line in buttons)
    if method == "editmessagetext":
        return render_message(entry.message, header="bot (edited)")
    return render_message(entry.message)


def render_answer(answer: AnsweredCallback) -> str | None:
    """The bot's answer to a button press (a toast or an alert), when it said something."""
    if answer.url:
        return f"bot opens: {answer.url}"
    if not answer.text:
        return None
    return f"bot ({'alert' if answer.show_alert else 'notice'}): {answer.text}"


# --------------------------------------------------------------------------- input


class _StdinReader:
    """Reads lines on a daemon thread so the event loop (and the bot) keeps running meanwhile.

    One line is read per request, so the prompt appears only after the bot's answer was
    printed. The thread is a daemon: a line never typed cannot keep the process alive.
    """

    def __init__(self, stdin: TextIO, stdout: TextIO) -> None:
        self._stdin = stdin
        self._stdout = stdout
        self._loop = asyncio.get_running_loop()
        self._requests: queue.Queue[str] = queue.Queue()
        self._future: asyncio.Future[str | None] | None = None
        self._thread = threading.Thread(target=self._work, name="console-stdin", daemon=True)
        self._thread.start()

    def _work(self) -> None:
        while True:
            prompt = self._requests.get()
            try:
                if prompt:
                    self._stdout.write(prompt)
                    self._stdout.flush()
                line: str | None = self._stdin.readline() or None
            except (OSError, ValueError):  # stdin closed underneath us
                line = None
            try:
                self._loop.call_soon_threadsafe(self._deliver, line)
            except RuntimeError:  # the loop is closed: the console has ended
                return
            if line is None:
                return

    def _deliver(self, line: str | None) -> None:
        if self._future is not None and not self._future.done():
            self._future.set_result(line)

    async def read(self, prompt: str) -> str | None:
        """The next line without its newline, or None at end of input."""
        if not self._thread.is_alive():
            return None
        self._future = self._loop.create_future()
        self._requests.put(prompt)
        line = await self._future
        return None if line is None else line.rstrip("\r\n")


@dataclass
class _ScriptReader:
    """Lines from a file, echoed as ``> line`` so a transcript reads like a conversation."""

    lines: list[str]
    stdout: TextIO
    position: int = field(default=0)

    async def read(self, prompt: str) -> str | None:
        if self.position >= len(self.lines):
            return None
        line = self.lines[self.position]
        self.position += 1
        self.stdout.write(f"> {line}\n")
        return line


class _Reader:
    """Either source of lines, behind one ``read``."""

    def __init__(self, source: _StdinReader | _ScriptReader, *, echo_stdin: bool) -> None:
        self._source = source
        self._echo = echo_stdin

    async def read(self, prompt: str, out: TextIO) -> str | None:
        line = await self._source.read(prompt)
        if line is not None and self._echo:
            out.write(f"> {line}\n")
        return line


# --------------------------------------------------------------------------- session


class ConsoleSession:
    """One person talking to the bot through the sandbox: send, press, print what came back."""

    def __init__(
        self,
        server: BotApiServer,
        services: Services,
        user: SandboxUser,
        out: TextIO,
    ) -> None:
        self.server = server
        self.services = services
        self.user = user
        self.chat: SandboxChat = server.private_chat(user)
        self.out = out
        self.printed = 0  # lines of output so far, to notice a press that changed nothing
        self._log_seen = len(server.sent_log)
        self._answers_seen = len(server.answered_callbacks)
        self._accepted_sends = self._count_accepted(server.sent_log)

    @staticmethod
    def _count_accepted(log: Sequence[LogEntry]) -> int:
        return sum(1 for entry in log if entry.method.lower() in _SEND_METHODS)

    def refused_sends(self) -> int:
        """Sends and edits the server turned down (429s, mostly) since the session began."""
        attempts = sum(self.server.request_counts[method] for method in _SEND_METHODS)
        return attempts - self._accepted_sends

    def print(self, text: str) -> None:
        self.printed += 1
        self.out.write(text + "\n")
        self.out.flush()

    def show_new(self) -> bool:
        """Print the bot's actions in this chat since the last call; True when there were any."""
        shown = False
        log = self.server.sent_log
        while self._log_seen < len(log):
            entry = log[self._log_seen]
            self._log_seen += 1
            if entry.method.lower() in _SEND_METHODS:
                self._accepted_sends += 1
            if entry.chat_id == self.chat.id:
                self.print(render_entry(entry))
                shown = True
        answers = self.server.answered_callbacks
        while self._answers_seen < len(answers):
            text = render_answer(answers[self._answers_seen])
            self._answers_seen += 1
            shown = True
            if text:
                self.print(text)
        return shown

    async def settle(self) -> None:
        """Print the bot's answer as it arrives; return once it has gone quiet."""
        loop = asyncio.get_running_loop()
        started = loop.time()
        last_activity: float | None = None
        quiet = QUIET_SECONDS
        refused = self.refused_sends()
        while True:
            now = loop.time()
            if self.show_new():
                last_activity = now
            if self.refused_sends() > refused:
                # A 429: the rest of the answer comes after the client's retry delay.
                refused = self.refused_sends()
                quiet = RETRY_QUIET_SECONDS
                last_activity = now
            if last_activity is not None and now - last_activity >= quiet:
                return
            if last_activity is None and now - started >= FIRST_REPLY_SECONDS:
                self.print("(no answer from the bot)")
                return
            if now - started >= MAX_WAIT_SECONDS:
                return
            await asyncio.sleep(_POLL_SECONDS)

    def latest_with_buttons(self) -> SandboxMessage | None:
        """The newest bot message in the chat that still has buttons, as it stands now."""
        for message in reversed(self.server.messages(self.chat.id)):
            if not message.deleted and message.flat_buttons:
                return message
        return None

    async def send(self, text: str) -> None:
        if not text.strip():
            return
        await self.server.send_text(self.chat, self.user, text)
        await self.settle()

    async def press(self, number: int) -> None:
        message = self.latest_with_buttons()
        if message is None:
            self.print("(no message with buttons yet)")
            return
        buttons = message.flat_buttons
        if not 1 <= number <= len(buttons):
            self.print(f"(choose a button from 1 to {len(buttons)})")
            return
        button = buttons[number - 1]
        if button.url:
            self.print(f"(link) {button.url}")
            return
        if button.callback_data is None:
            self.print("(that button does nothing here)")
            return
        self.print(f"(pressed {button.text})")
        before = self.printed
        await self.server.press_button(message, button.callback_data, self.user)
        await self.settle()
        if self.printed == before:
            self.print("(nothing changed)")

    async def ingest(self, paths: Sequence[str]) -> None:
        if not paths:
            self.print("usage: :ingest PATH... (article files or URLs)")
            return
        report = await self.services.ingest.sources(paths)
        for outcome in report.outcomes[:10]:
            state = "stored" if outcome.created else "already stored"
            self.print(f"#{outcome.article_id} {state}: {outcome.title}")
        if len(report.outcomes) > 10:
            self.print(f"... and {len(report.outcomes) - 10} more")
        for error in report.errors:
            self.print(f"error: {error.source}: {error.error}")
        self.print(
            f"{report.added} added, {report.duplicates} already stored, {report.failed} failed"
        )


async def _repl(session: ConsoleSession, reader: _Reader, interactive: bool) -> None:
    prompt = "you> " if interactive else ""
    while True:
        session.show_new()  # anything the bot sent on its own while the person was typing
        line = await reader.read(prompt, session.out)
        if line is None:
            if interactive:
                session.print("")  # Ctrl-D leaves the cursor after the prompt
            return
        stripped = line.strip()
        if not stripped:
            continue
        try:
            if stripped.isdigit():
                await session.press(int(stripped))
                continue
            if not stripped.startswith(":"):
                await session.send(line)
                continue
        except (ValueError, KeyError) as exc:  # the sandbox refused, e.g. a vanished button
            session.print(f"(not sent: {exc})")
            continue
        command, _, rest = stripped[1:].partition(" ")
        command = command.lower()
        if command in ("quit", "q", "exit"):
            return
        if command in ("help", "h", "?"):
            session.print(HELP)
        elif command == "ingest":
            await session.ingest(shlex.split(rest))
        elif command == "paste":
            if interactive:
                session.print(f'(paste the text, then a line with only "{_PASTE_END}")')
            lines: list[str] = []
            while (part := await reader.read("", session.out)) is not None:
                if part.strip() == _PASTE_END:
                    break
                lines.append(part)
            await session.send("\n".join(lines))
        else:
            session.print(f"unknown console command :{command} (try :help)")


# --------------------------------------------------------------------------- running


def console_settings(settings: Settings, server: BotApiServer, user_id: int) -> Settings:
    """The person's settings, pointed at the sandbox, with the console user as an admin."""
    return settings.model_copy(
        update={
            "telegram_bot_token": SecretStr(server.token),
            "telegram_api_base_url": server.base_url,
            "admin_ids": settings.admin_ids | {user_id},
            "webhook_url": None,
        }
    )


def _install_interrupt(task: asyncio.Task[int]) -> bool:
    """Ctrl-C cancels the console task (which then shuts down in order) instead of killing
    the process mid-write. False where the loop cannot take signal handlers."""
    if threading.current_thread() is not threading.main_thread():
        return False
    try:
        asyncio.get_running_loop().add_signal_handler(signal.SIGINT, task.cancel)
    except (NotImplementedError, RuntimeError):
        return False
    return True


async def _console(
    settings: Settings,
    script_lines: list[str] | None,
    stdin: TextIO,
    stdout: TextIO,
    rate_limits: RateLimits | None,
) -> int:
    task = asyncio.current_task()
    assert task is not None  # called from asyncio.run
    interrupt_installed = _install_interrupt(task)
    exit_code = 0
    started = time.perf_counter()
    # A fresh token each run: the sandbox accepts only it, and it never leaves 127.0.0.1.
    server = BotApiServer(
        token=f"{CONSOLE_BOT_ID}:{secrets.token_urlsafe(24)}",
        bot_username=BOT_USERNAME,
        rate_limits=rate_limits or RateLimits(),
    )
    await server.start()
    user = server.create_user("You", username="console_user", user_id=CONSOLE_USER_ID)
    bound = console_settings(settings, server, user.id)
    services = Services(make_storage(bound), bound)
    app = build_application(bound, services, scheduled_jobs=False)
    services_opened = False
    try:
        await app.initialize()
        if app.post_init is not None:
            services_opened = True  # post_init opens storage; close it whatever happens next
            await app.post_init(app)  # also registers the command menus
        await app.start()
        assert app.updater is not None
        await app.updater.start_polling(
            poll_interval=0, timeout=10, allowed_updates=ALLOWED_UPDATES
        )
        articles = (await services.search.stats()).articles
        if script_lines is not None:
            reader = _Reader(_ScriptReader(script_lines, stdout), echo_stdin=False)
            interactive = False
        else:
            interactive = stdin.isatty()
            reader = _Reader(_StdinReader(stdin, stdout), echo_stdin=not interactive)
        stdout.write(
            f"Attaché console: @{BOT_USERNAME} on a local Bot API server "
            f"({time.perf_counter() - started:.1f} s to start)\n"
            f"database {bound.database_url} holds {articles} article(s). "
            "Try /start; :help lists console commands, :quit leaves.\n"
        )
        stdout.flush()
        session = ConsoleSession(server, services, user, stdout)
        await _repl(session, reader, interactive)
    except asyncio.CancelledError:
        stdout.write("\n(interrupted)\n")
        exit_code = 130
    except Exception as exc:  # a console that cannot start (or breaks) says why, briefly
        log.debug("console failed", exc_info=True)
        print(f"attache console: {type(exc).__name__}: {exc}", file=sys.stderr)
        exit_code = 1
    finally:
        with contextlib.suppress(asyncio.CancelledError):
            await _shutdown(app, server, services_opened=services_opened)
        if interrupt_installed:
            asyncio.get_running_loop().remove_signal_handler(signal.SIGINT)
        stdout.flush()
    return exit_code


async def _shutdown(app: AttacheApp, server: BotApiServer, *, services_opened: bool) -> None:
    """Stop in dependency order: polling, the application, storage, then the server."""
    try:
        if app.updater is not None and app.updater.running:
            await app.updater.stop()
        if app.running:
            await app.stop()
        await app.shutdown()
        if services_opened and app.post_shutdown is not None:
            await app.post_shutdown(app)  # closes storage
    finally:
        await server.stop()


def run_console(
    settings: Settings,
    *,
    script: str | None = None,
    stdin: TextIO = sys.stdin,
    stdout: TextIO = sys.stdout,
    rate_limits: RateLimits | None = None,
) -> int:
    """Run the console until ``:quit``, end of input or Ctrl-C; the exit status.

    ``script`` replaces standard input with the lines of a file (echoed as ``> line``).
    ``rate_limits`` defaults to Telegram's flood limits.
    """
    script_lines: list[str] | None = None
    if script is not None:
        try:
            script_lines = Path(script).read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            print(f"attache console: cannot read {script}: {exc}", file=sys.stderr)
            return 2
    root = logging.getLogger()
    level = root.level
    if level > logging.DEBUG:
        # INFO lines (startup, rate-limit retries) would interleave with the conversation.
        root.setLevel(logging.WARNING)
    try:
        return asyncio.run(_console(settings, script_lines, stdin, stdout, rate_limits))
    except (KeyboardInterrupt, asyncio.CancelledError):  # Ctrl-C while starting or stopping
        stdout.write("\n")
        return 130
    finally:
        root.setLevel(level)
