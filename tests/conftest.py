"""Shared fixtures: the local Bot API server, services on a SQLite file in tmp_path with the
seed article stored, and the real PTB Application polling that server."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from hypothesis import settings as hypothesis_settings

from bot.app import ALLOWED_UPDATES, AttacheApp, build_application
from bot.config import Settings
from bot.factory import make_storage
from bot.sandbox import BotApiServer, RateLimits, SandboxChat, SandboxMessage, SandboxUser
from bot.services import Services
from tests.loopnet import LoopbackNet

# PTB 22 warns when a RetryAfter is built unless this opt-in is set; tests turn warnings into
# errors and the 429 tests build RetryAfters on purpose.
os.environ.setdefault("PTB_TIMEDELTA", "1")

# No test asserts a wall-clock budget, and hypothesis's per-example deadline (200 ms unless a
# test says otherwise) is one: it is off for every property test. Time is measured in bench/.
hypothesis_settings.register_profile("attache", deadline=None)
hypothesis_settings.load_profile("attache")

#: The long tests (over 10 s each on two busy cores, together about a third of the suite's
#: time), marked ``slow`` here so that their own files need no edit. ``make test`` runs them;
#: ``pytest -m "not slow"`` leaves them out while iterating. A parametrized test is marked whole.
SLOW_TESTS = frozenset(
    {
        "tests/reliability/test_crash_safety.py::test_sigkill_at_random_moments_loses_nothing",
        "tests/reliability/test_telegram_faults.py::"
        "test_ten_percent_faults_deliver_every_message_exactly",
        "tests/reliability/test_load.py::test_many_users_and_a_busy_feed",
        "tests/e2e/test_kill_restart.py::"
        "test_sigkill_mid_send_loses_nothing_and_repeats_at_most_one",
    }
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.nodeid.split("[", 1)[0] in SLOW_TESTS:
            item.add_marker(pytest.mark.slow)


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
    *,
    http: httpx.AsyncClient | None = None,
    **overrides: object,
) -> tuple[AttacheApp, Services, Settings, int]:
    settings = make_settings(tmp_path, server, **overrides)
    # Whatever a test makes the bot fetch, no connection can leave the machine.
    if http is None:
        http = LoopbackNet().client(allow_private=settings.fetch_allow_private)
    services = Services(make_storage(settings), settings, http=http)
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
