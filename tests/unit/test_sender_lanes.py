"""``SenderLanes``: updates of different senders run concurrently, each sender's in order.

Driven through PTB's own entry point (``process_update``) with real ``telegram.Update`` objects;
what is asserted is which handler started or finished before which, never how long anything
took.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Coroutine
from datetime import UTC, datetime
from typing import Any

from telegram import Chat, Message, Update, User

from bot.runtime.updates import SenderLanes, sender_key

_ids = iter(range(1, 1_000_000))


def message_from(user_id: int, chat_id: int | None = None) -> Update:
    """A text message from ``user_id`` in ``chat_id`` (their private chat by default)."""
    chat = Chat(chat_id if chat_id is not None else user_id, "private")
    user = User(user_id, f"user{user_id}", is_bot=False)
    number = next(_ids)
    message = Message(number, datetime.now(UTC), chat, from_user=user, text="/search x")
    return Update(number, message=message)


class Handlers:
    """Handler coroutines that record when they start and end and wait to be let go."""

    def __init__(self) -> None:
        self.log: list[str] = []
        self.gates: dict[str, asyncio.Event] = {}

    def handler(self, name: str, *, held: bool = False) -> Coroutine[Any, Any, None]:
        gate = self.gates.setdefault(name, asyncio.Event())
        if not held:
            gate.set()

        async def run() -> None:
            self.log.append(f"{name} started")
            await gate.wait()
            self.log.append(f"{name} done")

        return run()

    async def settle(self) -> None:
        for _ in range(50):
            await asyncio.sleep(0)


async def test_another_sender_is_not_held_up_by_a_slow_update() -> None:
    lanes, handlers = SenderLanes(), Handlers()
    async with lanes:
        slow = asyncio.create_task(
            lanes.process_update(message_from(1), handlers.handler("alice", held=True))
        )
        await handlers.settle()
        await lanes.process_update(message_from(2), handlers.handler("bob"))
        assert handlers.log == ["alice started", "bob started", "bob done"]
        handlers.gates["alice"].set()
        await slow
    assert lanes.lanes == 0  # nothing kept for senders with nothing in progress


async def test_one_senders_updates_keep_their_order() -> None:
    lanes, handlers = SenderLanes(), Handlers()
    async with lanes:
        tasks = [
            asyncio.create_task(
                lanes.process_update(message_from(1), handlers.handler(f"m{i}", held=True))
            )
            for i in range(4)
        ]
        await handlers.settle()
        assert handlers.log == ["m0 started"]  # the next waits for it
        for i in (3, 2, 1, 0):  # let go in reverse: the order still holds
            handlers.gates[f"m{i}"].set()
        await asyncio.gather(*tasks)
    assert handlers.log == [f"m{i} {s}" for i in range(4) for s in ("started", "done")]


async def test_the_same_user_in_two_chats_has_two_lanes() -> None:
    assert sender_key(message_from(1, chat_id=-100)) != sender_key(message_from(1))
    assert sender_key(message_from(1)) == sender_key(message_from(1))


async def test_at_most_running_handlers_run_at_once() -> None:
    lanes, handlers = SenderLanes(running=2), Handlers()
    async with lanes:
        tasks = [
            asyncio.create_task(
                lanes.process_update(message_from(user), handlers.handler(f"u{user}", held=True))
            )
            for user in range(1, 5)
        ]
        await handlers.settle()
        assert handlers.log == ["u1 started", "u2 started"]
        for gate in handlers.gates.values():
            gate.set()
        await asyncio.gather(*tasks)
    assert sorted(handlers.log) == sorted(
        f"u{u} {s}" for u in range(1, 5) for s in ("started", "done")
    )


async def test_an_update_cancelled_while_waiting_is_closed_not_leaked() -> None:
    lanes, handlers = SenderLanes(), Handlers()
    async with lanes:
        first = asyncio.create_task(
            lanes.process_update(message_from(1), handlers.handler("first", held=True))
        )
        waiting_coroutine = handlers.handler("second")
        second = asyncio.create_task(lanes.process_update(message_from(1), waiting_coroutine))
        await handlers.settle()
        second.cancel()
        await asyncio.gather(second, return_exceptions=True)
        assert inspect.getcoroutinestate(waiting_coroutine) == inspect.CORO_CLOSED
        handlers.gates["first"].set()
        await first
    assert handlers.log == ["first started", "first done"]
    assert lanes.lanes == 0
