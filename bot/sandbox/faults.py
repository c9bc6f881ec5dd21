"""Fault injection for the sandbox server: what Telegram does to a bot on a bad day.

Tests arm faults on ``server.faults`` and the server applies them to the next matching requests:

* ``fail_next("sendMessage", 502)``: the next sendMessage answers 502 Bad Gateway;
* ``fail_next("sendMessage", 429, retry_after=2)``: 429 with ``parameters.retry_after``;
* ``fail_next("getUpdates", "timeout")``: hold the request past the client's timeout, then drop it;
* ``fail_next("*", "reset")``: close the connection without an answer;
* ``set_random(0.1, seed=7)``: a seeded share of all requests fail with a random kind;
  ``set_random(0.1, applied=0.3)`` carries out 30 % of those (all but 429s) before losing the
  answer, and ``lost_answers`` lists the messages that were sent that way;
* ``block(chat_id)`` / ``remove_chat(chat_id)``: 403 "bot was blocked by the user" and
  400 "chat not found" for every request aimed at that chat, until undone;
* ``hold_next("getMe")``: a slow Telegram: the next getMe waits unanswered (``held`` counts the
  requests waiting) until ``release()`` or the server stops, then is answered as usual. Tests use
  it to act while the bot is in a known phase (e.g. stop it while it waits for deleteWebhook).

With ``applied=True`` the request takes effect first and only the answer is lost or replaced,
which is how a bot ends up not knowing whether Telegram accepted its message.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter, deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

#: An HTTP status to answer with, or ``"timeout"`` / ``"reset"`` for a dropped connection.
FaultKind = int | Literal["timeout", "reset"]

DEFAULT_DESCRIPTIONS = {
    400: "Bad Request: chat not found",
    401: "Unauthorized",
    403: "Forbidden: bot was blocked by the user",
    404: "Not Found",
    409: "Conflict: terminated by other getUpdates request",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
}


@dataclass(frozen=True, slots=True)
class Fault:
    """One armed fault. ``description`` None means Telegram's usual wording for the status."""

    kind: FaultKind
    retry_after: int = 1
    description: str | None = None
    applied: bool = False


@dataclass(frozen=True, slots=True)
class LostAnswer:
    """A request that took effect although the bot got an error or no answer at all."""

    method: str
    chat_id: int
    message_id: int


@dataclass(frozen=True, slots=True)
class InjectedFault:
    """A fault that fired: the method it hit, what it did and when (``time.time()``)."""

    method: str
    fault: Fault
    at: float


class Faults:
    """Armed faults of one server (``server.faults``). All methods are synchronous."""

    def __init__(self) -> None:
        self._queued: dict[str, deque[Fault]] = {}
        self._random_rate = 0.0
        self._random_methods: frozenset[str] | None = None
        self._random_kinds: tuple[FaultKind, ...] = ()
        self._random_retry_after = 1
        self._random_applied = 0.0
        self._rng = random.Random(0)
        self.blocked_chats: set[int] = set()
        self.missing_chats: set[int] = set()
        #: How long a "timeout" fault holds a request before dropping it (seconds). Set it
        #: above the client's read timeout; stopping the server releases held requests at once.
        self.timeout_hold = 10.0
        #: Every fault that fired, in order.
        self.injected: list[InjectedFault] = []
        #: Messages sent or edited by requests whose answer an ``applied`` fault replaced.
        self.lost_answers: list[LostAnswer] = []
        self._holds: dict[str, int] = {}
        self._released = asyncio.Event()
        #: Requests waiting unanswered now (``hold_next``), by lower-case method name.
        self.held: Counter[str] = Counter()
        #: Every request that was held, by lower-case method name.
        self.ever_held: Counter[str] = Counter()

    def fail_next(
        self,
        method: str,
        status: FaultKind = 500,
        *,
        count: int = 1,
        retry_after: int = 1,
        description: str | None = None,
        applied: bool = False,
    ) -> None:
        """Make the next ``count`` calls of ``method`` (``"*"`` = any method) fail.

        ``status`` is 400, 403, 429, 500, 502 (or any other HTTP status), ``"timeout"`` or
        ``"reset"``. ``retry_after`` is used for 429. With ``applied=True`` the request is
        carried out before the fault replaces its answer.
        """
        if count < 1:
            raise ValueError("count must be at least 1")
        queue = self._queued.setdefault(method.lower(), deque())
        queue.extend([Fault(status, retry_after, description, applied)] * count)

    def set_random(
        self,
        rate: float,
        *,
        methods: Iterable[str] | None = None,
        kinds: Sequence[FaultKind] = (429, 500, 502, "timeout", "reset"),
        seed: int = 0,
        retry_after: int = 1,
        applied: float = 0.0,
    ) -> None:
        """Fail a ``rate`` share (0..1) of calls of ``methods`` (None = every method).

        Each failure picks one of ``kinds`` with a RNG seeded by ``seed``, so a run repeats.
        An ``applied`` share (0..1) of the failures other than 429 is carried out first and
        only the answer is lost (Telegram refuses a rate-limited request without applying it).
        """
        if not 0.0 <= rate <= 1.0:
            raise ValueError("rate must be between 0 and 1")
        if not 0.0 <= applied <= 1.0:
            raise ValueError("applied must be between 0 and 1")
        if not kinds:
            raise ValueError("kinds must not be empty")
        self._random_rate = rate
        self._random_methods = (
            None if methods is None else frozenset(method.lower() for method in methods)
        )
        self._random_kinds = tuple(kinds)
        self._random_retry_after = retry_after
        self._random_applied = applied
        self._rng = random.Random(seed)

    def hold_next(self, method: str, *, count: int = 1) -> None:
        """Hold the next ``count`` calls of ``method`` unanswered until :meth:`release` (or the
        server stops); then they are carried out and answered as usual."""
        if count < 1:
            raise ValueError("count must be at least 1")
        key = method.lower()
        self._holds[key] = self._holds.get(key, 0) + count

    def release(self) -> None:
        """Let every held request go on (holds armed but not yet used stay armed)."""
        self._released.set()
        self._released = asyncio.Event()

    async def wait_if_held(self, method: str, closing: asyncio.Event) -> None:
        """Hold this call of ``method`` (lower-case) if a hold is armed; the server calls this."""
        if not self._holds.get(method):
            return
        self._holds[method] -= 1
        self.held[method] += 1
        self.ever_held[method] += 1
        released = asyncio.ensure_future(self._released.wait())
        closed = asyncio.ensure_future(closing.wait())
        try:
            await asyncio.wait({released, closed}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            released.cancel()
            closed.cancel()
            self.held[method] -= 1

    def clear_random(self) -> None:
        self._random_rate = 0.0

    def block(self, chat_id: int) -> None:
        """The user of this private chat blocks the bot: 403 until :meth:`unblock`."""
        self.blocked_chats.add(chat_id)

    def unblock(self, chat_id: int) -> None:
        self.blocked_chats.discard(chat_id)

    def remove_chat(self, chat_id: int) -> None:
        """Requests aimed at this chat answer 400 "chat not found" until :meth:`restore_chat`."""
        self.missing_chats.add(chat_id)

    def restore_chat(self, chat_id: int) -> None:
        self.missing_chats.discard(chat_id)

    def clear(self) -> None:
        """Disarm everything (queued, random, holds, blocked and missing chats) and release the
        held requests; keep the log."""
        self._queued.clear()
        self._holds.clear()
        self.release()
        self.clear_random()
        self.blocked_chats.clear()
        self.missing_chats.clear()

    def pending(self, method: str = "*") -> int:
        """How many queued faults wait for ``method``."""
        return len(self._queued.get(method.lower(), ()))

    def take(self, method: str) -> Fault | None:
        """The fault for this call of ``method`` (lower-case), if any; the server calls this."""
        for key in (method, "*"):
            queue = self._queued.get(key)
            if queue:
                return self._record(method, queue.popleft())
        eligible = self._random_methods is None or method in self._random_methods
        # Draw for every eligible call so that a seed gives the same sequence each run.
        if self._random_rate and eligible and self._rng.random() < self._random_rate:
            kind = self._rng.choice(self._random_kinds)
            # Drawn only when asked for, so seeds without ``applied`` keep their sequences.
            applied = (
                bool(self._random_applied)
                and kind != 429
                and self._rng.random() < self._random_applied
            )
            return self._record(method, Fault(kind, self._random_retry_after, applied=applied))
        return None

    def _record(self, method: str, fault: Fault) -> Fault:
        self.injected.append(InjectedFault(method, fault, time.time()))
        return fault
