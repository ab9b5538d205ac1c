"""The outbox flusher with fake sinks and a fake clock: batching, quota, backoff, parking, order, restart."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator, Sequence
from datetime import timedelta
from pathlib import Path

import pytest

from bot.clock import FakeClock
from bot.errors import SinkError
from bot.storage.db import Database
from sheets.outbox import Outbox, OutboxFlusher, WriteQuota
from sheets.port import MemorySink
from sheets.schema import Lead, Status


class FlakySink(MemorySink):
    """A memory sink that records each call and raises the errors queued in `fail`."""

    name = "flaky"

    def __init__(self, writes_per_minute: int | None = None) -> None:
        super().__init__()
        self.calls: list[tuple[str, list[str]]] = []
        self.fail: list[SinkError] = []
        if writes_per_minute is not None:
            self.writes_per_minute = writes_per_minute

    def _maybe_fail(self) -> None:
        if self.fail:
            raise self.fail.pop(0)

    def append(self, leads: Sequence[Lead]) -> None:
        self.calls.append(("append", [lead.id for lead in leads]))
        self._maybe_fail()
        super().append(leads)

    def update_status(self, lead_id: str, status: str) -> bool:
        self.calls.append(("status", [lead_id]))
        self._maybe_fail()
        return super().update_status(lead_id, status)


def make_lead(n: int) -> Lead:
    return Lead(
        f"L{n:07d}",
        "2026-11-23 10:00",
        "Анна",
        "+79123456789",
        "ЛОР",
        "любое",
        "первичное",
        "telegram",
        "@anna",
        "",
    )


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = Database(tmp_path / "state.sqlite3")
    yield database
    database.close()


class Rig:
    def __init__(self, db: Database, sink: FlakySink, **kwargs: object) -> None:
        self.clock = FakeClock()
        self.sink = sink
        self.outbox = Outbox(db, ["flaky"])
        self.warnings: list[str] = []
        self.flusher = OutboxFlusher(self.outbox, {"flaky": sink}, self.clock, on_parked=self._warn, **kwargs)  # type: ignore[arg-type]
        self.db = db

    async def _warn(self, text: str) -> None:
        self.warnings.append(text)

    def enqueue(self, *leads: Lead, op: str = "append") -> None:
        with self.db.transaction() as conn:
            for lead in leads:
                self.outbox.enqueue(conn, op, lead, self.clock.now().isoformat())

    def states(self) -> dict[str, int]:
        return self.outbox.backlog().get("flaky", {})


async def test_waiting_appends_go_in_one_call(db: Database) -> None:
    rig = Rig(db, FlakySink())
    rig.enqueue(*(make_lead(i) for i in range(30)))
    assert await rig.flusher.flush() == 30
    assert rig.sink.calls == [("append", [make_lead(i).id for i in range(30)])]
    assert rig.states() == {}


async def test_batches_respect_order_around_other_operations(db: Database) -> None:
    rig = Rig(db, FlakySink(), batch_size=4)
    rig.enqueue(make_lead(1), make_lead(2))
    rig.enqueue(make_lead(1).with_status(Status.BOOKED), op="status")
    rig.enqueue(make_lead(3), make_lead(4), make_lead(5), make_lead(6), make_lead(7))
    assert await rig.flusher.flush() == 8
    assert [c[0] for c in rig.sink.calls] == ["append", "status", "append", "append"]
    assert rig.sink.leads[0].status == Status.BOOKED


async def test_retryable_error_backs_off_with_jitter_and_keeps_order(db: Database) -> None:
    rig = Rig(db, FlakySink(), base_delay=10.0)
    rig.sink.fail = [SinkError("503"), SinkError("503")]
    rig.enqueue(make_lead(1))
    rig.enqueue(make_lead(1).with_status(Status.IN_WORK), op="status")
    assert await rig.flusher.flush() == 0
    assert rig.sink.calls == [("append", ["L0000001"])]  # the status waits for the append
    rig.clock.advance(timedelta(seconds=4.9))
    assert await rig.flusher.flush() == 0 and len(rig.sink.calls) == 1  # not due before 0.5 x 10 s
    rig.clock.advance(timedelta(seconds=5.2))
    assert await rig.flusher.flush() == 0  # second failure: now 10-20 s
    rig.clock.advance(timedelta(seconds=9.9))
    assert await rig.flusher.flush() == 0 and len(rig.sink.calls) == 2
    rig.clock.advance(timedelta(seconds=10.2))
    assert await rig.flusher.flush() == 2
    assert rig.sink.leads == [make_lead(1).with_status(Status.IN_WORK)]


def test_backoff_grows_and_is_capped() -> None:
    flusher = OutboxFlusher(Outbox.__new__(Outbox), {}, FakeClock(), base_delay=2.0, max_delay=60.0)
    delays = [flusher._backoff(n).total_seconds() for n in range(10)]
    assert 1.0 <= delays[0] <= 2.0 and 8.0 <= delays[3] <= 16.0
    assert all(30.0 <= d <= 60.0 for d in delays[6:])


async def test_quota_is_kept_and_paced_without_asking_the_server(db: Database) -> None:
    rig = Rig(db, FlakySink(writes_per_minute=12))  # burst 2, then one call per 5 s
    start = rig.clock.now()
    for i in range(300):  # a lead every second for five minutes
        rig.enqueue(make_lead(i))
        await rig.flusher.flush()
        rig.clock.advance(timedelta(seconds=1))
    rig.clock.advance(timedelta(seconds=10))
    await rig.flusher.flush()
    assert [lead.id for lead in rig.sink.leads] == [make_lead(i).id for i in range(300)]
    times = [start + timedelta(seconds=t) for t in range(0, 320)]
    stamps = rig.flusher.quotas["flaky"].calls
    assert all(sum(1 for c in stamps if t <= c < t + timedelta(minutes=1)) <= 12 for t in times)
    assert len(rig.sink.calls) >= 55  # paced through the minutes, not spent and then idle
    assert rig.states() == {}


async def test_blocked_flush_says_when_to_come_back(db: Database) -> None:
    rig = Rig(db, FlakySink(writes_per_minute=2))
    for i in range(3):
        rig.enqueue(make_lead(i))
        await rig.flusher.flush()
    assert len(rig.sink.calls) == 1  # burst 1: the next call 30 s later
    assert rig.flusher.blocked_until["flaky"] == rig.clock.now() + timedelta(seconds=30)
    assert rig.flusher.next_due() == rig.flusher.blocked_until["flaky"]
    rig.clock.advance(timedelta(seconds=30))
    assert await rig.flusher.flush() == 2
    assert rig.sink.calls[-1] == ("append", ["L0000001", "L0000002"])


async def test_server_429_is_retried_after_a_short_backoff(db: Database) -> None:
    rig = Rig(db, FlakySink(writes_per_minute=60), base_delay=1.0)
    rig.sink.fail = [SinkError("Google Sheets quota exceeded (429 ...)")]
    rig.enqueue(make_lead(1))
    await rig.flusher.flush()
    assert await rig.flusher.flush() == 0
    rig.clock.advance(timedelta(seconds=1.01))
    assert await rig.flusher.flush() == 1
    assert rig.outbox.last_errors() == []


def test_write_quota_window_and_pacing() -> None:
    clock = FakeClock()
    quota = WriteQuota(3, burst=3)
    for _ in range(3):
        assert quota.free_at(clock.now()) is None
        quota.spend(clock.now())
        clock.advance(timedelta(seconds=10))
    assert quota.free_at(clock.now()) == clock.now() + timedelta(seconds=30)
    assert WriteQuota(None).free_at(clock.now()) is None
    paced = WriteQuota(60)  # a burst of 10, then one a second
    for _ in range(10):
        assert paced.free_at(clock.now()) is None
        paced.spend(clock.now())
    assert paced.free_at(clock.now()) == clock.now() + timedelta(seconds=1)
    clock.advance(timedelta(seconds=2.5))
    paced.spend(clock.now())
    paced.spend(clock.now())
    assert paced.free_at(clock.now()) == clock.now() + timedelta(seconds=0.5)


async def test_refusal_parks_warns_once_and_is_retried_later(db: Database) -> None:
    rig = Rig(db, FlakySink(), parked_retry=timedelta(minutes=15))
    denied = SinkError("403: share the sheet with bot@x", retryable=False)
    rig.sink.fail = [denied, denied]
    rig.enqueue(make_lead(1))
    await rig.flusher.flush()
    rig.enqueue(make_lead(2))
    await rig.flusher.flush()
    assert rig.states() == {"parked": 2}
    assert len(rig.warnings) == 1 and "403" in rig.warnings[0] and "сохранены" in rig.warnings[0]
    assert "flaky L0000002: 403" in rig.outbox.last_errors()[0]
    rig.clock.advance(timedelta(minutes=10))
    assert await rig.flusher.flush() == 0  # parked rows are not hammered
    rig.clock.advance(timedelta(minutes=6))
    assert await rig.flusher.flush() == 2
    assert [lead.id for lead in rig.sink.leads] == ["L0000001", "L0000002"]


async def test_concurrent_flushes_deliver_once(db: Database) -> None:
    rig = Rig(db, FlakySink())
    rig.enqueue(*(make_lead(i) for i in range(5)))
    results = await asyncio.gather(*(rig.flusher.flush_sink("flaky") for _ in range(4)))
    assert sum(results) == 5 and len(rig.sink.calls) == 1


async def test_run_forever_flushes_leftovers_first_even_parked_or_backing_off(db: Database) -> None:
    rig = Rig(db, FlakySink(), base_delay=3600.0)
    rig.enqueue(make_lead(1), make_lead(2))
    rig.outbox.park([1], "403 earlier")
    rig.outbox.retry_later([2], (rig.clock.now() + timedelta(hours=1)).isoformat(), "503 earlier")
    restarted = OutboxFlusher(Outbox(db, ["flaky"]), {"flaky": rig.sink}, rig.clock)
    task = asyncio.create_task(restarted.run_forever(interval=0.05))
    for _ in range(100):
        if len(rig.sink.leads) == 2:
            break
        await asyncio.sleep(0.01)
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    assert [lead.id for lead in rig.sink.leads] == ["L0000001", "L0000002"]
    assert rig.states() == {}


async def test_status_of_a_parked_lead_waits_with_it(db: Database) -> None:
    rig = Rig(db, FlakySink())
    rig.sink.fail = [SinkError("404 wrong GOOGLE_SHEET_ID", retryable=False)]
    rig.enqueue(make_lead(1))
    await rig.flusher.flush()
    rig.enqueue(make_lead(1).with_status(Status.BOOKED), op="status")
    await rig.flusher.flush()
    assert rig.states() == {"parked": 2}  # not lost as "no such row"
    rig.clock.advance(timedelta(hours=1))
    assert await rig.flusher.flush() == 2
    assert rig.sink.leads == [make_lead(1).with_status(Status.BOOKED)]
