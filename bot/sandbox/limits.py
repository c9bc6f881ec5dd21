"""Telegram-like flood limits for the sandbox server.

Telegram documents three limits for bots: about one message a second in a single chat (short
bursts are tolerated), twenty messages a minute in a group, and about thirty messages a second
overall. Past them it answers 429 "Too Many Requests: retry after N". Each limit here is a token
bucket: ``capacity`` requests may go at once, then one more every ``1 / rate`` seconds.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

#: Methods that count as "a message" for the limits (sends and edits, as on Telegram).
LIMITED_METHODS = frozenset({"sendmessage", "editmessagetext", "editmessagereplymarkup"})


@dataclass(frozen=True, slots=True)
class RateLimits:
    """Flood limits of one server; ``RateLimits.disabled()`` turns them all off.

    Attributes:
        per_chat_per_second: steady rate in any one chat.
        per_chat_burst: how many messages one chat may receive at once before the rate applies.
        group_per_minute: messages a minute in one group, supergroup or channel (0 = no limit).
        global_per_second: messages a second over all chats (also the global burst).
        methods: lower-case method names that count.
    """

    enabled: bool = True
    per_chat_per_second: float = 1.0
    per_chat_burst: int = 3
    group_per_minute: int = 20
    global_per_second: int = 30
    methods: frozenset[str] = field(default=LIMITED_METHODS)

    @classmethod
    def disabled(cls) -> RateLimits:
        return cls(enabled=False)


class TokenBucket:
    """``capacity`` tokens, refilled at ``rate`` tokens a second."""

    def __init__(self, capacity: float, rate: float, clock: Callable[[], float]) -> None:
        self.capacity = capacity
        self.rate = rate
        self._clock = clock
        self._tokens = capacity
        self._updated = clock()

    def _refill(self) -> None:
        now = self._clock()
        self._tokens = min(self.capacity, self._tokens + (now - self._updated) * self.rate)
        self._updated = now

    def wait_time(self) -> float:
        """Seconds until one token is available (0 when one is available now)."""
        self._refill()
        if self._tokens >= 1:
            return 0.0
        return (1 - self._tokens) / self.rate

    def take(self) -> None:
        self._refill()
        self._tokens -= 1


class FloodControl:
    """Applies :class:`RateLimits` to requests, one bucket per chat plus the global bucket."""

    def __init__(self, limits: RateLimits, clock: Callable[[], float] = time.monotonic) -> None:
        self.limits = limits
        self._clock = clock
        self._chat_buckets: dict[int, TokenBucket] = {}
        self._group_buckets: dict[int, TokenBucket] = {}
        self._global = TokenBucket(limits.global_per_second, limits.global_per_second, clock)

    def check(self, method: str, chat_id: int, is_group: bool) -> int | None:
        """Count one request; return ``retry_after`` seconds when it is over a limit.

        A refused request uses up no allowance, as on Telegram.
        """
        limits = self.limits
        if not limits.enabled or method not in limits.methods:
            return None
        buckets = [self._global]
        if limits.per_chat_per_second > 0:
            buckets.append(
                self._chat_buckets.setdefault(
                    chat_id,
                    TokenBucket(limits.per_chat_burst, limits.per_chat_per_second, self._clock),
                )
            )
        if is_group and limits.group_per_minute > 0:
            buckets.append(
                self._group_buckets.setdefault(
                    chat_id,
                    TokenBucket(limits.group_per_minute, limits.group_per_minute / 60, self._clock),
                )
            )
        wait = max(bucket.wait_time() for bucket in buckets)
        if wait > 0:
            return max(1, math.ceil(wait))
        for bucket in buckets:
            bucket.take()
        return None
