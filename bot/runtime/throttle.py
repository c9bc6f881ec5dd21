"""A per-user sliding-window throttle for expensive commands (search, person lookups).

In memory on purpose: a restart forgetting who searched a minute ago costs nothing.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable


class Throttle:
    """Allow at most ``limit`` calls per ``window`` seconds for each user."""

    def __init__(
        self,
        limit: int = 10,
        window: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
        max_users: int = 10_000,
    ) -> None:
        self.limit = limit
        self.window = window
        self._clock = clock
        self._max_users = max_users
        self._calls: dict[int, deque[float]] = {}

    def hit(self, user_id: int) -> float:
        """Record a call; return 0 when allowed, else the seconds to wait (nothing recorded)."""
        now = self._clock()
        calls = self._calls.get(user_id)
        if calls is None:
            if len(self._calls) >= self._max_users:
                self._prune(now)
            calls = self._calls[user_id] = deque()
        while calls and calls[0] <= now - self.window:
            calls.popleft()
        if len(calls) >= self.limit:
            return calls[0] + self.window - now
        calls.append(now)
        return 0.0

    def _prune(self, now: float) -> None:
        """Drop users idle for a whole window; if all are active, drop the oldest half."""
        idle = [u for u, c in self._calls.items() if not c or c[-1] <= now - self.window]
        for user in idle:
            del self._calls[user]
        if len(self._calls) >= self._max_users:
            for user in list(self._calls)[: len(self._calls) // 2]:
                del self._calls[user]


def wait_message(seconds: float) -> str:
    """A friendly plain-text note on how long to wait."""
    whole = max(1, round(seconds))
    unit = "second" if whole == 1 else "seconds"
    return f"That was a lot of searching in a short time. Please try again in {whole} {unit}."
