"""The pacer: shared and per-key token buckets, FIFO within a priority, stale sends dropped (hand-driven clock)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from bot.channels.pacing import REPLY, TYPING, Key, Limit, Pacer


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


def start(
    pacer: Pacer,
    done: list[str],
    name: str,
    keys: Sequence[Key] = (),
    priority: int = REPLY,
    stale: float | None = None,
) -> asyncio.Task[bool]:
    async def send() -> bool:
        ok = await pacer.acquire(keys, priority=priority, stale_after=stale)
        done.append(name if ok else f"{name}:dropped")
        return ok

    return asyncio.create_task(send())


async def step(pacer: Pacer, clock: Clock, seconds: float) -> None:
    clock.now += seconds
    pacer.pump()
    await settle()


async def test_sends_go_in_the_order_they_asked_at_the_shared_rate() -> None:
    clock = Clock()
    pacer = Pacer(Limit(10, burst=2), clock=clock)
    done: list[str] = []
    tasks = [start(pacer, done, f"m{i}") for i in range(6)]
    await settle()
    assert done == ["m0", "m1"]  # the burst
    await step(pacer, clock, 0.05)
    assert done == ["m0", "m1"]  # half a token
    await step(pacer, clock, 0.05)
    assert done == ["m0", "m1", "m2"]
    await step(pacer, clock, 0.3)
    assert done == [f"m{i}" for i in range(5)]  # the bucket never holds more than its burst
    await step(pacer, clock, 0.1)
    assert done == [f"m{i}" for i in range(6)]
    assert all(t.result() for t in tasks)
    assert pacer.waiting == 0


async def test_a_chat_waiting_for_its_own_turn_does_not_hold_up_other_chats() -> None:
    clock = Clock()
    pacer = Pacer(Limit(30, burst=30), {"chat": Limit(1, burst=1)}, clock=clock)
    done: list[str] = []
    start(pacer, done, "a1", [("chat", 1)])
    start(pacer, done, "a2", [("chat", 1)])
    start(pacer, done, "b1", [("chat", 2)])
    start(pacer, done, "a3", [("chat", 1)])
    await settle()
    assert done == ["a1", "b1"]
    await step(pacer, clock, 0.5)
    assert done == ["a1", "b1"]
    await step(pacer, clock, 0.5)
    assert done == ["a1", "b1", "a2"]  # a2 before a3: the chat's own order is kept
    await step(pacer, clock, 1.0)
    assert done == ["a1", "b1", "a2", "a3"]


async def test_once_the_shared_budget_is_empty_later_sends_do_not_jump_the_queue() -> None:
    clock = Clock()
    pacer = Pacer(Limit(1, burst=1), {"chat": Limit(1, burst=1)}, clock=clock)
    done: list[str] = []
    start(pacer, done, "first", [("chat", 1)])
    await settle()
    start(pacer, done, "second", [("chat", 2)])
    start(pacer, done, "third", [("chat", 3)])
    await settle()
    assert done == ["first"]
    await step(pacer, clock, 1.0)
    assert done == ["first", "second"]
    await step(pacer, clock, 1.0)
    assert done == ["first", "second", "third"]


async def test_typing_takes_only_budget_no_reply_wants_and_is_dropped_rather_than_queued() -> None:
    clock = Clock()
    pacer = Pacer(Limit(2, burst=1), clock=clock)
    done: list[str] = []
    start(pacer, done, "reply1")
    start(pacer, done, "reply2")
    await settle()
    typing = start(pacer, done, "typing", priority=TYPING, stale=0)
    await settle()
    assert done == ["reply1", "typing:dropped"]  # now or never: a reply is waiting
    assert typing.result() is False
    await step(pacer, clock, 0.5)
    assert done == ["reply1", "typing:dropped", "reply2"]
    await step(pacer, clock, 0.5)
    start(pacer, done, "typing2", priority=TYPING, stale=0)
    await settle()
    assert done[-1] == "typing2"  # spare budget: shown at once
    assert pacer.counts["dropped"] == 1


async def test_a_lower_priority_send_waits_behind_replies_that_asked_later() -> None:
    clock = Clock()
    pacer = Pacer(Limit(1, burst=1), clock=clock)
    done: list[str] = []
    start(pacer, done, "r0")
    await settle()
    start(pacer, done, "low", priority=TYPING)
    start(pacer, done, "r1")
    start(pacer, done, "r2")
    await settle()
    for _ in range(3):
        await step(pacer, clock, 1.0)
    assert done == ["r0", "r1", "r2", "low"]


async def test_a_send_waiting_past_its_staleness_is_dropped() -> None:
    clock = Clock()
    pacer = Pacer(Limit(1, burst=1), clock=clock)
    done: list[str] = []
    start(pacer, done, "r0")
    start(pacer, done, "r1")
    start(pacer, done, "answer", stale=1.5)
    await settle()
    await step(pacer, clock, 1.0)
    assert done == ["r0", "r1"]
    await step(pacer, clock, 0.6)
    assert done == ["r0", "r1", "answer:dropped"]
    assert pacer.waiting == 0


async def test_hold_keeps_a_chat_quiet_for_the_time_the_platform_asked() -> None:
    clock = Clock()
    pacer = Pacer(Limit(30, burst=30), {"chat": Limit(1, burst=3)}, clock=clock)
    done: list[str] = []
    pacer.hold([("chat", 7)], 5.0)
    start(pacer, done, "held", [("chat", 7)])
    start(pacer, done, "other", [("chat", 8)])
    await settle()
    assert done == ["other"]
    await step(pacer, clock, 4.9)
    assert done == ["other"]
    await step(pacer, clock, 0.1)
    assert done == ["other", "held"]


async def test_a_cancelled_sender_leaves_the_queue() -> None:
    clock = Clock()
    pacer = Pacer(Limit(1, burst=1), clock=clock)
    done: list[str] = []
    start(pacer, done, "r0")
    gone = start(pacer, done, "gone")
    start(pacer, done, "r2")
    await settle()
    gone.cancel()
    await settle()
    assert pacer.waiting == 1
    await step(pacer, clock, 1.0)
    assert done == ["r0", "r2"]


async def test_a_rate_of_zero_means_no_limit() -> None:
    pacer = Pacer(Limit(0), {"chat": Limit(0)}, clock=Clock())
    results = [await pacer.acquire([("chat", 1)]) for _ in range(100)]
    assert all(results) and pacer.counts["waited"] == 0


async def test_a_refusal_for_no_key_holds_every_send() -> None:
    clock = Clock()
    pacer = Pacer(Limit(30, burst=30), {"chat": Limit(1, burst=3)}, clock=clock)
    done: list[str] = []
    pacer.hold([], 2.0)
    start(pacer, done, "a", [("chat", 1)])
    start(pacer, done, "b")
    await settle()
    assert done == []
    await step(pacer, clock, 2.0)
    assert done == ["a"]  # then the bucket refills from empty, at its rate
    await step(pacer, clock, 1 / 30)
    assert done == ["a", "b"]


async def test_a_refusal_for_a_key_without_a_limit_holds_nothing_else() -> None:
    clock = Clock()
    pacer = Pacer(Limit(30, burst=30), {"chat": Limit(1, burst=3)}, clock=clock)  # groups not paced
    done: list[str] = []
    pacer.hold([("group", -5)], 4.0)
    start(pacer, done, "patient", [("chat", 1)])
    await settle()
    assert done == ["patient"]
