"""``attache run`` as a real process against a Bot API server on 127.0.0.1.

This is how a deployment runs: settings from the environment only, long polling (or a webhook),
and a clean stop on SIGTERM. The seed article is stored with ``attache ingest`` first, as an
operator would.
"""

from __future__ import annotations

import asyncio
import socket
import sys
from pathlib import Path

from bot.sandbox import BotApiServer, RateLimits
from tests.conftest import SEED_TEXT, TOKEN
from tests.reliability.harness import BotProcess, bot_env

SEED_TITLE = "Eurasian integration named one of priorities of Russia, Belarus"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def test_attache_run_answers_the_core_commands(tmp_path: Path) -> None:
    async with BotApiServer(token=TOKEN, rate_limits=RateLimits.disabled()) as server:
        env = bot_env(server, tmp_path / "bot.db", FETCH_ALLOW_PRIVATE="false")
        seed = tmp_path / "seed.txt"
        seed.write_text(SEED_TEXT, encoding="utf-8")
        ingest = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", "ingest", str(seed), env=env, cwd=tmp_path
        )
        assert await ingest.wait() == 0

        bot = BotProcess(env, tmp_path, tmp_path / "bot.log").start()
        try:
            user = server.create_user("Olga", username="olga")
            chat = server.private_chat(user)

            async def ask(text: str, timeout: float = 20.0) -> str:  # noqa: ASYNC109
                await server.send_text(chat, user, text)
                reply = await server.wait_for_message(chat.id, timeout=timeout)
                return reply.text

            assert "Attaché" in await ask("/start", timeout=30.0)
            assert "/search" in await ask("/help")

            await server.send_text(chat, user, "/search eurasian integration")
            results = await server.wait_for_message(chat.id, timeout=20.0)
            assert SEED_TITLE in results.text
            assert results.has_entity("bold")

            assert "Lavrov" in await ask("/person Lavrov")
            assert "Subscribed" in await ask("/subscribe person Lavrov")
            assert "Lavrov" in await ask("/subscriptions")
            assert server.commands({"type": "all_private_chats"}), "no setMyCommands"
        finally:
            code = await bot.stop(timeout=30)
        log_text = bot.log_tail(1_000_000)
        assert code == 0, log_text
        assert TOKEN not in log_text
        assert "Traceback" not in log_text


async def test_attache_run_in_webhook_mode_checks_the_secret(tmp_path: Path) -> None:
    port = free_port()
    secret = "webhook-secret-for-tests"
    async with BotApiServer(token=TOKEN, rate_limits=RateLimits.disabled()) as server:
        env = bot_env(
            server,
            tmp_path / "bot.db",
            WEBHOOK_URL="https://bot.example.org/telegram/hook",
            WEBHOOK_LISTEN="127.0.0.1",
            WEBHOOK_PORT=str(port),
            WEBHOOK_SECRET=secret,
        )
        listener = f"http://127.0.0.1:{port}/telegram/hook"
        bot = BotProcess(env, tmp_path, tmp_path / "bot.log").start()
        try:
            for _ in range(300):  # the bot registers its webhook once it is listening
                if server.webhook_url:
                    break
                await asyncio.sleep(0.05)
            assert server.webhook_url == "https://bot.example.org/telegram/hook"
            user = server.create_user("Olga", username="olga")
            chat = server.private_chat(user)

            await server.send_text(chat, user, "/start")
            assert await server.push_updates(listener, secret_token="wrong") == [403]
            assert await server.push_updates(listener, secret_token=secret) == [200]
            reply = await server.wait_for_message(chat.id, timeout=20.0)
            assert "Attaché" in reply.text
        finally:
            code = await bot.stop(timeout=30)
        log_text = bot.log_tail(1_000_000)
        assert code == 0, log_text
        assert secret not in log_text
        assert TOKEN not in log_text


async def test_webhook_mode_without_a_secret_makes_one_and_refuses_forged_updates(
    tmp_path: Path,
) -> None:
    """With WEBHOOK_SECRET empty, a forged POST (no secret header) must not run an admin
    command: the bot registers a random secret with setWebhook and checks it."""
    port = free_port()
    async with BotApiServer(token=TOKEN, rate_limits=RateLimits.disabled()) as server:
        admin = server.create_user("Admin", username="admin")
        env = bot_env(
            server,
            tmp_path / "bot.db",
            WEBHOOK_URL="https://bot.example.org/telegram/hook",
            WEBHOOK_LISTEN="127.0.0.1",
            WEBHOOK_PORT=str(port),
            WEBHOOK_SECRET="",
            ADMIN_IDS=str(admin.id),
        )
        listener = f"http://127.0.0.1:{port}/telegram/hook"
        bot = BotProcess(env, tmp_path, tmp_path / "bot.log").start()
        try:
            for _ in range(300):  # the bot registers its webhook once it is listening
                if server.webhook_url:
                    break
                await asyncio.sleep(0.05)
            assert server.webhook_url == "https://bot.example.org/telegram/hook"
            secret = server.webhook_secret
            assert len(secret) >= 32
            chat = server.private_chat(admin)

            await server.send_text(chat, admin, "/stats")
            assert await server.push_updates(listener) == [403]
            assert await server.push_updates(listener, secret_token=secret) == [200]
            reply = await server.wait_for_message(chat.id, timeout=20.0)
            assert "Articles" in reply.text
        finally:
            code = await bot.stop(timeout=30)
        log_text = bot.log_tail(1_000_000)
        assert code == 0, log_text
        assert "WEBHOOK_SECRET is not set" in log_text
        assert secret not in log_text
