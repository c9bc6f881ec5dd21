"""Sending messages to Telegram: within its limits, through its faults, saying what happened.

``Pacer`` spaces messages evenly below Telegram's flood limits (about 30 a second overall, one a
second in a chat, 20 a minute in a group), so a big run of digests meets no 429 at all; the
application's ``AIORateLimiter`` still waits out any 429 that happens anyway.

``Deliverer.send`` sends one message and says what became of it: ``RetryAfter`` is waited out,
timeouts and network errors (5xx, resets) are retried with doubling delays a bounded number of
times, 403 Forbidden and 400 "chat not found" mean the chat is gone (``blocked``), any other
400 is a permanent failure of that message. It is the Telegram side of
``bot.digests.deliver.Sender``, which the digest use-cases depend on instead of on Telegram.
Once the process is stopping (``Deliverer.stop``) it sends nothing new and retries nothing: the
message in flight gets its answer, every other one is "failed" and stays pending.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta

from telegram import Bot
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TelegramError

from bot.digests.deliver import SendResult

log = logging.getLogger(__name__)

#: Messages a second over all chats: 93 % of Telegram's 30, leaving room for command replies.
DEFAULT_RATE = 28.0
PRIVATE_INTERVAL_S = 1.0
GROUP_INTERVAL_S = 3.0  # 20 messages a minute
#: The error of a message that was not sent because the process is stopping.
STOPPING = "not sent: the bot is stopping"

Sleep = Callable[[float], Awaitable[None]]
_GONE_PHRASES = ("chat not found", "user not found", "peer_id_invalid", "chat_id is empty")


class Pacer:
    """Evenly spaced send slots: at most ``rate`` a second overall and one per interval per chat.

    Slots are reserved before sleeping, so concurrent senders never share one.
    """

    def __init__(
        self,
        rate: float = DEFAULT_RATE,
        *,
        private_interval: float = PRIVATE_INTERVAL_S,
        group_interval: float = GROUP_INTERVAL_S,
        clock: Callable[[], float] = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        self._gap = 1.0 / rate
        self._private_interval = private_interval
        self._group_interval = group_interval
        self._clock = clock
        self._sleep = sleep
        self._next_global = 0.0
        self._next_chat: dict[int, float] = {}

    async def wait(self, chat_id: int, *, is_group: bool = False) -> None:
        """Return when a message to ``chat_id`` may be sent."""
        now = self._clock()
        chat_ready = self._next_chat.get(chat_id, 0.0)
        if chat_ready > now:
            await self._sleep(chat_ready - now)
            now = self._clock()
        slot = max(now, self._next_global)
        self._next_global = slot + self._gap
        interval = self._group_interval if is_group else self._private_interval
        self._next_chat[chat_id] = slot + interval
        if len(self._next_chat) > 50_000:  # forget chats whose interval has passed
            self._next_chat = {k: v for k, v in self._next_chat.items() if v > now}
        if slot > now:
            await self._sleep(slot - now)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How hard to try one message. Delays double from ``base_delay`` up to ``max_delay``."""

    attempts: int = 5  # for timeouts and network errors
    base_delay: float = 0.5
    max_delay: float = 8.0
    rate_limited: int = 10  # RetryAfter answers waited out before giving up
    max_retry_after: float = 300.0


def _seconds(value: int | timedelta) -> float:
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


def _chat_is_gone(error: BadRequest) -> bool:
    text = error.message.lower()
    return any(phrase in text for phrase in _GONE_PHRASES)


class Deliverer:
    """Sends messages with the application's bot (its rate limiter and defaults apply)."""

    def __init__(
        self,
        bot: Bot,
        *,
        pacer: Pacer | None = None,
        policy: RetryPolicy | None = None,
        sleep: Sleep = asyncio.sleep,
        read_timeout: float | None = None,
    ) -> None:
        self.bot = bot
        self.pacer = pacer if pacer is not None else Pacer()
        self.policy = policy if policy is not None else RetryPolicy()
        self._sleep = sleep
        self._read_timeout = read_timeout
        self._stopping = asyncio.Event()

    def stop(self) -> None:
        """The process is stopping: start no send and no retry wait from now on, and end the
        retry waits under way (what was not sent is "failed", not permanently)."""
        self._stopping.set()

    @property
    def stopping(self) -> bool:
        return self._stopping.is_set()

    async def _pause(self, seconds: float) -> None:
        """Sleep ``seconds``, or less when the process starts stopping meanwhile."""
        if self._stopping.is_set():
            return
        sleeping = asyncio.ensure_future(self._sleep(seconds))
        stopping = asyncio.ensure_future(self._stopping.wait())
        try:
            await asyncio.wait({sleeping, stopping}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            sleeping.cancel()
            stopping.cancel()

    async def send(self, chat_id: int, html_text: str, *, is_group: bool = False) -> SendResult:
        """Send one HTML message; retry what can succeed later; never raise TelegramError."""
        policy = self.policy
        failures = 0
        rate_limited = 0
        attempts = 0
        while True:
            if not self._stopping.is_set():
                await self.pacer.wait(chat_id, is_group=is_group)
            if self._stopping.is_set():
                return SendResult("failed", error=STOPPING, attempts=attempts)
            attempts += 1
            try:
                message = await self.bot.send_message(
                    chat_id, html_text, read_timeout=self._read_timeout
                )
            except RetryAfter as exc:
                rate_limited += 1
                wait = _seconds(exc.retry_after)
                if rate_limited > policy.rate_limited or wait > policy.max_retry_after:
                    return SendResult("failed", error=f"flood control: {exc}", attempts=attempts)
                log.info("chat %s: rate limited, waiting %.1f s", chat_id, wait)
                await self._pause(wait)
            except Forbidden as exc:
                return SendResult("blocked", error=exc.message, attempts=attempts)
            except BadRequest as exc:
                if _chat_is_gone(exc):
                    return SendResult("blocked", error=exc.message, attempts=attempts)
                log.error("chat %s: message refused: %s", chat_id, exc.message)
                return SendResult("failed", error=exc.message, attempts=attempts, permanent=True)
            except NetworkError as exc:  # timeouts, 5xx, resets
                failures += 1
                if failures >= policy.attempts:
                    log.warning("chat %s: giving up after %d attempts: %s", chat_id, failures, exc)
                    return SendResult("failed", error=str(exc), attempts=attempts)
                delay = min(policy.max_delay, policy.base_delay * 2 ** (failures - 1))
                log.info("chat %s: %s; retrying in %.1f s", chat_id, exc, delay)
                await self._pause(delay)
            except TelegramError as exc:  # e.g. ChatMigrated, Conflict: not worth retrying
                return SendResult("failed", error=str(exc), attempts=attempts, permanent=True)
            else:
                return SendResult("sent", message.message_id, attempts=attempts)
