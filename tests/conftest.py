"""Shared fixtures: the local Bot API server, services on a SQLite file in tmp_path with the
seed article stored, and the real PTB Application polling that server."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from bot.app import ALLOWED_UPDATES, AttacheApp, build_application
from bot.config import Settings
from bot.factory import make_storage
from bot.sandbox import BotApiServer, RateLimits, SandboxChat, SandboxMessage, SandboxUser
from bot.services import Services

# PTB 22 warns when a RetryAfter is built unless this opt-in is set; tests turn warnings into
# errors and the 429 tests build RetryAfters on purpose.
os.environ.setdefault("PTB_TIMEDELTA", "1")

FIXTURES = Path(__file__).parent / "fixtures"
SEED_TEXT = (FIXTURES / "seed_kazinform.txt").read_text(encoding="utf-8")
TOKEN = "123456:attache-test-token"
ADMIN_ID = 900_001
ALLOWED_ID = 900_002


def make_settings(tmp_path: Path, server: BotApiServer, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "telegram_bot_token": TOKEN,
        "telegram_api_base_url": server.base_url,
        "database_url": f"sqlite:///{tmp_path / 'attache.db'}",
        "admin_ids": frozenset({ADMIN_ID}),
        "allowed_user_ids": frozenset(),
        "source_channel_ids": frozenset(),
        "default_timezone": "UTC",
        "webhook_url": None,
        "fetch_allow_private": True,
    }
    values.update(overrides)
    # model_validate skips the environment and .env: the test settings are exactly these.
    return Settings.model_validate(values)


@dataclass
class Bot:
    """The running bot and a small Telegram world to talk to it."""

    server: BotApiServer
    app: AttacheApp
    services: Services
    settings: Settings
    seed_id: int
    alice: SandboxUser  # an ordinary user
    admin: SandboxUser
    errors: list[BaseException] = field(default_factory=list)

    @property
    def alice_chat(self) -> SandboxChat:
        return self.server.private_chat(self.alice)

    @property
    def admin_chat(self) -> SandboxChat:
        return self.server.private_chat(self.admin)

    async def ask(
        self,
        chat: SandboxChat,
        user: SandboxUser,
        text: str,
        timeout: float = 5.0,  # noqa: ASYNC109
    ) -> SandboxMessage:
        """Send ``text`` as ``user`` and return the bot's next message in that chat."""
        await self.server.send_text(chat, user, text)
        return await self.server.wait_for_message(chat.id, timeout=timeout)

    async def press(
        self, message: SandboxMessage, data: str, user: SandboxUser | None = None
    ) -> str:
        """Press a button and wait until the bot answered the callback query."""
        query_id = await self.server.press_button(message, data, user)
        await self.server.wait_for_callback_answer(query_id)
        return query_id


async def start_bot(
    tmp_path: Path,
    server: BotApiServer,
    **overrides: object,
) -> tuple[AttacheApp, Services, Settings, int]:
    settings = make_settings(tmp_path, server, **overrides)
    services = Services(make_storage(settings), settings)
    app = build_application(settings, services)
    await app.initialize()
    assert app.post_init is not None
    await app.post_init(app)  # run_polling would call it; opens storage, sets commands
    seed = await services.ingest.text(SEED_TEXT, source="Kazinform")
    await app.start()
    assert app.updater is not None
    await app.updater.start_polling(poll_interval=0, timeout=5, allowed_updates=ALLOWED_UPDATES)
    return app, services, settings, seed.article_id


async def stop_bot(app: AttacheApp) -> None:
    assert app.updater is not None
    await app.updater.stop()
    await app.stop()
    await app.shutdown()
    if app.post_shutdown is not None:
        await app.post_shutdown(app)


@pytest.fixture
async def sandbox() -> AsyncIterator[BotApiServer]:
    async with BotApiServer(
        token=TOKEN, bot_username="attache_bot", rate_limits=RateLimits.disabled()
    ) as server:
        yield server


@pytest.fixture
async def bot(tmp_path: Path, sandbox: BotApiServer) -> AsyncIterator[Bot]:
    app, services, settings, seed_id = await start_bot(tmp_path, sandbox)
    harness = Bot(
        server=sandbox,
        app=app,
        services=services,
        settings=settings,
        seed_id=seed_id,
        alice=sandbox.create_user("Alice", username="alice"),
        admin=sandbox.create_user("Ada", username="ada_admin", user_id=ADMIN_ID),
    )
    try:
        yield harness
    finally:
        await stop_bot(app)
