"""The per-user throttle and the command registry (pure parts)."""

from __future__ import annotations

from bot.runtime.commands import COMMANDS, help_text, menu
from bot.runtime.throttle import Throttle, wait_message


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_throttle_allows_the_limit_then_says_how_long_to_wait() -> None:
    clock = FakeClock()
    throttle = Throttle(limit=3, window=60, clock=clock)
    assert [throttle.hit(1) for _ in range(3)] == [0.0, 0.0, 0.0]
    clock.now += 10
    assert throttle.hit(1) == 50.0
    assert throttle.hit(2) == 0.0  # other users are unaffected
    clock.now += 50
    assert throttle.hit(1) == 0.0


def test_throttle_stays_bounded() -> None:
    clock = FakeClock()
    throttle = Throttle(limit=1, window=60, clock=clock, max_users=100)
    for user in range(1000):
        throttle.hit(user)
    assert len(throttle._calls) <= 100


def test_wait_message_is_friendly() -> None:
    assert "try again in 1 second." in wait_message(0.2)
    assert "in 42 seconds" in wait_message(41.6)


def test_help_lists_every_public_command_once() -> None:
    text = help_text(is_admin=False)
    public = [c for c in COMMANDS if not c.admin_only and "private" in c.scopes]
    for command in public:
        assert text.count(f"/{command.name} ") + text.count(f"/{command.name}\n") >= 1
    assert "/stats" not in text and "/ingest" not in text
    assert "/stats" in help_text(is_admin=True)


def test_group_menu_hides_private_only_commands() -> None:
    names = {name for name, _ in menu("group")}
    assert "channel" not in names and "search" in names
    assert all(1 <= len(desc) <= 256 for _, desc in menu("private"))
    assert all(name.islower() and len(name) <= 32 for name, _ in menu("private"))
