"""Paced sends: one budget per bot (or business number) and one per chat, shared by every send of a process.

Platforms refuse a bot that sends faster than their published limits (HTTP 429) and ban one that keeps doing
it for longer and longer. A `Pacer` is a token bucket for the whole bot (`rate` a second, `burst` at once)
plus, per key, a bucket of its own kind (a private chat, a group); a send takes one token from the shared
bucket and one from each of its keys' buckets, and waits until it can.

Waiting sends are served by priority, then first come first served (FIFO) by when the patient wrote: a
channel sets `waiting_since` while it answers a message (a context variable, so every send of that answer
and its retries carry it); a send without it counts from when it asked. A reply that waited longer goes
first. A send waiting for its own chat's bucket does not hold the others up; once the shared bucket is empty
nothing behind the first waiter takes it. A send may be dropped when stale (`stale_after`: "typing…" that can
not be shown now is worth nothing later); `acquire` then returns False and the caller skips the call.
The clock is injected (`clock`, seconds); timers only call `pump`, so a test may drive it by hand.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import time
from collections.abc import Callable, Hashable, Iterator, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field

__all__ = ["REPLY", "TYPING", "Limit", "Pacer", "waiting_since"]

REPLY = 0  # what patients wait for: messages, edits, answers to their button presses
TYPING = 2  # decoration: only with budget no reply wants

Key = tuple[str, Hashable]  # (kind, id), e.g. ("chat", 42); the kind names the key's `Limit`
_SINCE: ContextVar[float | None] = ContextVar("pacing_since", default=None)
_ONE = 1.0 - 1e-9  # a token, give or take the clock's rounding
_PRUNE_AT = 4096  # per-key buckets kept before full ones (the same as none) are forgotten


@contextlib.contextmanager
def waiting_since(moment: float) -> Iterator[None]:
    """Sends made inside (and in tasks started inside) queue as if asked at `moment` (`time.monotonic()`
    when the patient's message came in)."""
    token = _SINCE.set(moment)
    try:
        yield
    finally:
        _SINCE.reset(token)


@dataclass(frozen=True)
class Limit:
    """`rate` sends per second with up to `burst` at once; a rate of 0 means no limit."""

    rate: float
    burst: float = 1.0

    @classmethod
    def per_minute(cls, count: float, burst: float | None = None) -> Limit:
        return cls(count / 60.0, burst if burst is not None else max(1.0, count))


@dataclass
class _Bucket:
    limit: Limit
    tokens: float
    stamp: float

    def refill(self, now: float) -> None:
        if now > self.stamp:
            self.tokens = min(self.limit.burst, self.tokens + (now - self.stamp) * self.limit.rate)
        self.stamp = now

    def ready_in(self) -> float:
        """Seconds until one token (after `refill`)."""
        return 0.0 if self.tokens >= _ONE else (1.0 - self.tokens) / self.limit.rate

    def hold(self, now: float, seconds: float) -> None:
        """No token for `seconds` (the platform said so)."""
        self.refill(now)
        self.tokens = min(self.tokens, 1.0 - seconds * self.limit.rate)


@dataclass(order=True)
class _Waiter:
    priority: int
    since: float
    seq: int
    keys: tuple[Key, ...] = field(compare=False)
    deadline: float | None = field(compare=False)
    future: asyncio.Future[bool] = field(compare=False)


class Pacer:
    """A shared budget plus per-key budgets; `await acquire(keys)` before each send."""

    def __init__(
        self,
        shared: Limit,
        limits: dict[str, Limit] | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.clock = clock
        self.limits = {kind: lim for kind, lim in (limits or {}).items() if lim.rate > 0}
        now = clock()
        self._shared = _Bucket(shared, shared.burst, now) if shared.rate > 0 else None
        self._buckets: dict[Key, _Bucket] = {}
        self._waiting: list[_Waiter] = []  # kept sorted: priority, then arrival
        self._deadlines: list[tuple[float, int, _Waiter]] = []  # a heap: when waiters go stale
        self._seq = itertools.count()
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at = float("inf")
        self.counts: dict[str, int] = {"granted": 0, "waited": 0, "dropped": 0}

    @property
    def waiting(self) -> int:
        return sum(not w.future.done() for w in self._waiting)

    async def acquire(
        self,
        keys: Sequence[Key] = (),
        *,
        priority: int = REPLY,
        stale_after: float | None = None,
        since: float | None = None,
    ) -> bool:
        """Wait for this send's turn and budget; False when it went stale first (then do not send).

        Its turn comes by `priority`, then by `since` (default: `waiting_since`, else now)."""
        keys = tuple(k for k in keys if k[0] in self.limits)
        if self._shared is None and not keys:
            self.counts["granted"] += 1
            return True
        now = self.clock()
        loop = asyncio.get_running_loop()
        if since is None:
            since = _SINCE.get()
        waiter = _Waiter(
            priority,
            now if since is None else min(since, now),
            next(self._seq),
            keys,
            None if stale_after is None else now + stale_after,
            loop.create_future(),
        )
        self._insert(waiter)
        self.pump()
        if not waiter.future.done():
            if waiter.deadline is not None and waiter.deadline <= now:  # now or never
                self.counts["dropped"] += 1
                waiter.future.set_result(False)
                self._remove(waiter)
                return False
            if waiter.deadline is not None:
                heapq.heappush(self._deadlines, (waiter.deadline, waiter.seq, waiter))
                self._schedule(waiter.deadline, now)
            self.counts["waited"] += 1
        try:
            return await waiter.future
        except asyncio.CancelledError:  # the sender was cancelled while waiting: its place goes on
            self._remove(waiter)
            self.pump()
            raise

    def hold(self, keys: Sequence[Key], seconds: float) -> None:
        """The platform refused with "retry after `seconds`": these keys' sends wait that long (no keys:
        every send)."""
        now = self.clock()
        for key in keys:
            if key[0] in self.limits:
                self._bucket(key, now).hold(now, seconds)
        if not keys and self._shared is not None:  # a chat's refusal never stops the other chats
            self._shared.hold(now, seconds)
        self.pump()

    def pump(self) -> None:
        """Grant what can go now, drop what went stale, and set the timer for the next moment."""
        now = self.clock()
        if self._shared is not None:
            self._shared.refill(now)
        self._drop_stale(now)
        blocked: set[Key] = set()
        next_at = self._deadlines[0][0] if self._deadlines else float("inf")
        kept: list[_Waiter] = []
        waiting = self._waiting
        rest = len(waiting)
        for index, waiter in enumerate(waiting):
            if waiter.future.done():
                continue
            short = self._short(waiter, now, blocked)
            if short:  # its own chat's turn has not come: it does not hold the others up
                blocked.update(short)
                for key in short:
                    next_at = min(next_at, now + self._bucket(key, now).ready_in())
                kept.append(waiter)
                continue
            if self._shared is not None and self._shared.tokens < _ONE:
                # nothing behind the first waiter takes the shared budget
                next_at = min(next_at, now + self._shared.ready_in())
                rest = index
                break
            self._take(waiter, now)
        kept.extend(waiting[rest:])  # done ones there are skipped by a later pump
        self._waiting = kept
        if len(self._buckets) > _PRUNE_AT:
            self._prune(now)
        self._schedule(next_at, now)

    def _drop_stale(self, now: float) -> None:
        """Waiters past their deadline are answered False (the main loop then skips them)."""
        while self._deadlines and self._deadlines[0][0] <= now:
            _, _, waiter = heapq.heappop(self._deadlines)
            if waiter.future.done():
                continue
            self.counts["dropped"] += 1
            waiter.future.set_result(False)

    # --- the inside ---------------------------------------------------------------------------------

    def _bucket(self, key: Key, now: float) -> _Bucket:
        bucket = self._buckets.get(key)
        if bucket is None:
            limit = self.limits[key[0]]
            bucket = self._buckets[key] = _Bucket(limit, limit.burst, now)
        else:
            bucket.refill(now)
        return bucket

    def _short(self, waiter: _Waiter, now: float, blocked: set[Key]) -> list[Key]:
        """The waiter's keys that cannot give a token now (or that an earlier waiter waits for)."""
        return [k for k in waiter.keys if k in blocked or self._bucket(k, now).tokens < _ONE]

    def _take(self, waiter: _Waiter, now: float) -> None:
        if self._shared is not None:
            self._shared.tokens -= 1.0
        for key in waiter.keys:
            self._bucket(key, now).tokens -= 1.0
        self.counts["granted"] += 1
        waiter.future.set_result(True)

    def _insert(self, waiter: _Waiter) -> None:
        waiting = self._waiting
        if not waiting or waiting[-1] <= waiter:  # the usual case: same priority, the latest
            waiting.append(waiter)
            return
        low, high = 0, len(waiting)
        while low < high:
            mid = (low + high) // 2
            if waiting[mid] <= waiter:
                low = mid + 1
            else:
                high = mid
        waiting.insert(low, waiter)

    def _remove(self, waiter: _Waiter) -> None:
        if self._waiting and self._waiting[-1] is waiter:  # "typing…" dropped at once: the last in line
            self._waiting.pop()
        else:
            self._waiting = [w for w in self._waiting if w is not waiter]

    def _prune(self, now: float) -> None:
        waiting_keys = {k for w in self._waiting for k in w.keys}
        for key, bucket in list(self._buckets.items()):
            bucket.refill(now)
            if key not in waiting_keys and bucket.tokens >= bucket.limit.burst:
                del self._buckets[key]

    def _schedule(self, at: float, now: float) -> None:
        if at == float("inf") or not self._waiting:
            return
        if self._timer is not None and not self._timer.cancelled() and self._timer_at <= at:
            return
        if self._timer is not None:
            self._timer.cancel()
        self._timer_at = at
        self._timer = asyncio.get_running_loop().call_later(max(0.0, at - now), self._fire)

    def _fire(self) -> None:
        self._timer = None
        self._timer_at = float("inf")
        self.pump()
