"""The bot token never appears in logs or error output.

A full session through the local Bot API server runs with LOG_LEVEL=DEBUG and the production
logging setup, including failing requests (500s, 429s, dropped connections, an unreachable URL
to ingest); every line written is searched for the token. ``attache run`` is started against a
server that rejects the token and against a closed port: it must explain, exit non-zero, and
never print the token (python-telegram-bot's own InvalidToken message quotes it).
"""

from __future__ import annotations

import asyncio
import io
import logging
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.logs import REDACTED, setup_logging
from bot.sandbox import BotApiServer, RateLimits
from tests.conftest import ADMIN_ID, TOKEN, make_settings, start_bot, stop_bot

SECRET_PART = TOKEN.split(":", 1)[1]


@pytest.fixture
def restore_logging() -> Iterator[None]:
    """setup_logging replaces the root handlers and the excepthook; put them back after."""
    root = logging.getLogger()
    handlers, level, hook = list(root.handlers), root.level, sys.excepthook
    levels = {name: logging.getLogger(name).level for name in ("httpx", "apscheduler")}
    try:
        yield
    finally:
        for handler in list(root.handlers):
            root.removeHandler(handler)
        for handler in handlers:
            root.addHandler(handler)
        root.setLevel(level)
        for name, old in levels.items():
            logging.getLogger(name).setLevel(old)
        sys.excepthook = hook


@pytest.mark.usefixtures("restore_logging")
async def test_a_debug_session_with_failures_never_logs_the_token(
    tmp_path: Path, sandbox: BotApiServer
) -> None:
    captured = io.StringIO()
    setup_logging(make_settings(tmp_path, sandbox, log_level="DEBUG"), stream=captured)
    app, services, _, _ = await start_bot(tmp_path, sandbox, log_level="DEBUG")
    try:
        user = sandbox.create_user("Olga")
        admin = sandbox.create_user("Ada", user_id=ADMIN_ID)
        chat, admin_chat = sandbox.private_chat(user), sandbox.private_chat(admin)

        async def ask(text: str, who: object = user) -> str:
            target = admin_chat if who is admin else chat
            sender = admin if who is admin else user
            await sandbox.send_text(target, sender, text)
            return (await sandbox.wait_for_message(target.id, timeout=10)).text

        assert "Attaché" in await ask("/start")
        assert "Subscribed" in await ask("/subscribe person Lavrov")
        assert (await ask("/search eurasian integration")).startswith("Search:")
        # An ingest that fails on the network, with the error shown to the admin.
        assert "Not stored" in await ask("/ingest http://127.0.0.1:9/story", admin)
        # Telegram failing: a 500 and a dropped connection on the reply, a 429, a reset poll.
        for fault in (500, "reset", 429):
            sandbox.faults.fail_next("sendMessage", fault, retry_after=1)
            await sandbox.send_text(chat, user, "/help")
            await asyncio.sleep(0.3)
        sandbox.faults.fail_next("getUpdates", "reset")
        await sandbox.send_text(chat, user, "/help")
        helped = await sandbox.wait_for_message(chat.id, lambda m: "/search" in m.text, 10)
        assert helped.text.startswith("Commands")
        await sandbox.wait_until_delivered()
        assert len(sandbox.faults.injected) == 4
    finally:
        await stop_bot(app)
    del services
    log = captured.getvalue()
    assert "DEBUG" in log and "sendMessage" in log, "the capture saw nothing"
    assert REDACTED in log, "nothing token-bearing was logged, so nothing was tested"
    assert "Internal Server Error" in log or "error while handling update" in log
    assert TOKEN not in log and SECRET_PART not in log


def _run_env(tmp_path: Path, base_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "WEBHOOK_"))}
    env.update(
        TELEGRAM_BOT_TOKEN=TOKEN,
        TELEGRAM_API_BASE_URL=base_url,
        DATABASE_URL=f"sqlite:///{tmp_path / 'bot.db'}",
        LOG_LEVEL="DEBUG",
        PTB_TIMEDELTA="1",
    )
    return env


async def _attache_run(tmp_path: Path, base_url: str) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "run",
        env=_run_env(tmp_path, base_url),
        cwd=tmp_path,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await asyncio.wait_for(process.communicate(), timeout=30)
    assert process.returncode is not None
    return process.returncode, output.decode("utf-8", "replace")


async def test_attache_run_with_a_bad_base_url_explains_without_the_token(
    tmp_path: Path,
) -> None:
    # A server that rejects the token (as a wrong base URL answering 401/404 does).
    async with BotApiServer(token="999:another-token", rate_limits=RateLimits.disabled()) as other:
        rejected_code, rejected = await _attache_run(tmp_path, other.base_url)
    assert rejected_code == 1
    assert "rejected TELEGRAM_BOT_TOKEN" in rejected
    # Nothing listens on port 9 of 127.0.0.1 (discard).
    closed_code, closed = await _attache_run(tmp_path, "http://127.0.0.1:9/bot")
    assert closed_code == 1
    assert "cannot reach the Bot API at http://127.0.0.1:9/bot" in closed
    for output in (rejected, closed):
        assert TOKEN not in output and SECRET_PART not in output, output[-2000:]
