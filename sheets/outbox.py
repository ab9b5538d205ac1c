"""The durable outbox: leads committed locally first, then delivered to every sink, never twice."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import sqlite3
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.clock import Clock
from bot.errors import SinkError
from bot.storage.db import Database
from sheets.port import LeadSink
from sheets.schema import Lead

log = logging.getLogger(__name__)
_MINUTE = timedelta(minutes=1)
_SINK_NAMES = {"sheets": "Google-таблицу", "csv": "файл leads.csv"}


@dataclass(frozen=True, slots=True)
class OutboxItem:
    seq: int
    sink: str
    op: str  # append | upsert | status
    lead: Lead
    attempts: int


class Outbox:
    """Rows waiting for a sink, in the same SQLite file as the conversations (one transaction for both)."""

    def __init__(self, db: Database, sinks: list[str]) -> None:
        self.db = db
        self.sinks = sinks

    def enqueue(self, conn: sqlite3.Connection, op: str, lead: Lead, now: str) -> None:
        payload = json.dumps(lead.to_row(), ensure_ascii=False)
        for sink in self.sinks:
            conn.execute(
                "INSERT INTO outbox(sink, op, lead_id, payload, created_at) VALUES (?, ?, ?, ?, ?)",
                (sink, op, lead.id, payload, now),
            )

    def redact(self, conn: sqlite3.Connection, lead: Lead) -> int:
        """Give every item of this lead, waiting or delivered, `lead`'s fields (each item's own status kept):
        once a patient withdrew consent, no copy of their data stays in the queue, and a row still waiting
        to be appended reaches the sinks without it. Returns how many items were changed."""
        changed = 0
        items = conn.execute("SELECT seq, payload FROM outbox WHERE lead_id = ?", (lead.id,)).fetchall()
        for seq, payload in items:
            status = Lead.from_row(json.loads(str(payload))).status
            redacted = json.dumps(lead.with_status(status).to_row(), ensure_ascii=False)
            if redacted != payload:
                conn.execute("UPDATE outbox SET payload = ? WHERE seq = ?", (redacted, seq))
                changed += 1
        return changed

    def due(self, sink: str, now: str, limit: int = 200) -> list[OutboxItem]:
        """The oldest waiting items of a sink, in order, up to the first one still backing off."""
        rows = self.db.query(
            "SELECT seq, sink, op, payload, attempts, next_at FROM outbox WHERE sink = ? AND state = 'pending' "
            "ORDER BY seq LIMIT ?",
            (sink, limit),
        )
        items: list[OutboxItem] = []
        for seq, s, op, p, a, next_at in rows:
            if str(next_at) > now:
                break  # later items wait: a status must never overtake its lead
            items.append(OutboxItem(int(seq), str(s), str(op), Lead.from_row(json.loads(str(p))), int(a)))  # type: ignore[call-overload]
        return items

    def earlier_undelivered(self, sink: str, lead_id: str, seq: int) -> bool:
        """Whether an older item for the same lead is still waiting or parked."""
        rows = self.db.query(
            "SELECT 1 FROM outbox WHERE sink = ? AND lead_id = ? AND seq < ? AND state != 'done' LIMIT 1",
            (sink, lead_id, seq),
        )
        return bool(rows)

    def mark_done(self, seqs: list[int]) -> None:
        with self.db.transaction() as conn:
            conn.executemany(
                "UPDATE outbox SET state = 'done', error = '' WHERE seq = ?", [(s,) for s in seqs]
            )

    def retry_later(self, seqs: list[int], next_at: str, error: str) -> None:
        with self.db.transaction() as conn:
            conn.executemany(
                "UPDATE outbox SET attempts = attempts + 1, next_at = ?, error = ? WHERE seq = ?",
                [(next_at, error[:500], s) for s in seqs],
            )

    def park(self, seqs: list[int], error: str) -> None:
        with self.db.transaction() as conn:
            conn.executemany(
                "UPDATE outbox SET state = 'parked', attempts = attempts + 1, error = ? WHERE seq = ?",
                [(error[:500], s) for s in seqs],
            )

    def unpark(self, sink: str) -> int:
        with self.db.transaction() as conn:
            cur = conn.execute(
                "UPDATE outbox SET state = 'pending', next_at = '' WHERE sink = ? AND state = 'parked'",
                (sink,),
            )
            return cur.rowcount

    def retry_now(self, sink: str) -> int:
        """Make every waiting item of a sink due at once (on start: flush what was left)."""
        with self.db.transaction() as conn:
            cur = conn.execute(
                "UPDATE outbox SET next_at = '' WHERE sink = ? AND state = 'pending' AND next_at != ''",
                (sink,),
            )
            return cur.rowcount

    def backlog(self) -> dict[str, dict[str, int]]:
        result: dict[str, dict[str, int]] = {}
        for sink, state, count in self.db.query(
            "SELECT sink, state, COUNT(*) FROM outbox WHERE state != 'done' GROUP BY sink, state"
        ):
            result.setdefault(str(sink), {})[str(state)] = int(count)  # type: ignore[call-overload]
        return result

    def last_errors(self, limit: int = 5) -> list[str]:
        rows = self.db.query(
            "SELECT sink, lead_id, error FROM outbox WHERE error != '' AND state != 'done' ORDER BY seq DESC LIMIT ?",
            (limit,),
        )
        return [f"{s} {lead_id}: {e}" for s, lead_id, e in rows]


class WriteQuota:
    """Keeps a sink's write quota (Sheets: 60/min/user) without asking the server: never more than
    `per_minute` calls in any minute, and paced by a token bucket (`burst` calls at once, then one per
    60/per_minute seconds) so the minute is not spent in its first seconds while later leads wait."""

    def __init__(self, per_minute: int | None, burst: int | None = None) -> None:
        self.per_minute = per_minute
        self.burst = max(1, burst if burst is not None else (per_minute or 0) // 6)
        self.rate = (per_minute or 1) / 60.0  # tokens per second
        self.tokens = float(self.burst)
        self.refilled: datetime | None = None
        self.calls: deque[datetime] = deque()

    def _refill(self, now: datetime) -> None:
        if self.refilled is not None:
            elapsed = max(0.0, (now - self.refilled).total_seconds())
            self.tokens = min(float(self.burst), self.tokens + elapsed * self.rate)
        self.refilled = now

    def free_at(self, now: datetime) -> datetime | None:
        """None when a call may go now, else the moment the next one may."""
        if self.per_minute is None:
            return None
        while self.calls and now - self.calls[0] >= _MINUTE:
            self.calls.popleft()
        self._refill(now)
        moments = []
        if len(self.calls) >= self.per_minute:
            moments.append(self.calls[len(self.calls) - self.per_minute] + _MINUTE)
        if self.tokens < 1.0:
            moments.append(now + timedelta(seconds=(1.0 - self.tokens) / self.rate))
        return max(moments) if moments else None

    def spend(self, now: datetime) -> None:
        if self.per_minute is not None:
            self._refill(now)
            self.tokens -= 1.0
            self.calls.append(now)


class OutboxFlusher:
    """Delivers the outbox to the sinks: batches appends, keeps to each sink's write quota, backs off with
    jitter on retryable errors, parks rows on refusals (403/404) with a loud log line and an admin warning.

    A lead is never written twice: the sinks check for its ID before appending, so a crash between the
    write and `mark_done` only repeats a harmless check. Parked rows are tried again on start and every
    `parked_retry`."""

    def __init__(
        self,
        outbox: Outbox,
        sinks: Mapping[str, LeadSink],
        clock: Clock,
        on_parked: Callable[[str], Awaitable[object]] | None = None,
        base_delay: float = 2.0,
        max_delay: float = 300.0,
        batch_size: int = 500,
        parked_retry: timedelta = timedelta(minutes=15),
        warn_every: timedelta = timedelta(hours=1),
    ) -> None:
        self.outbox = outbox
        self.sinks = sinks
        self.clock = clock
        self.on_parked = on_parked
        self.base_delay = base_delay
        self.max_delay = max_delay
        self.batch_size = batch_size
        self.parked_retry = parked_retry
        self.warn_every = warn_every
        self.wakeup = asyncio.Event()
        self.quotas = {
            name: WriteQuota(getattr(sink, "writes_per_minute", None)) for name, sink in sinks.items()
        }
        self.blocked_until: dict[str, datetime] = {}
        self._locks = {name: asyncio.Lock() for name in sinks}
        self._unparked_at: dict[str, datetime] = {}
        self._warned_at: dict[str, datetime] = {}

    def _iso(self, moment: datetime) -> str:
        return moment.isoformat(timespec="milliseconds")

    def _backoff(self, attempts: int) -> timedelta:
        delay = min(self.max_delay, self.base_delay * (2**attempts))
        return timedelta(seconds=delay * random.uniform(0.5, 1.0))

    def _batches(self, items: list[OutboxItem]) -> list[list[OutboxItem]]:
        batches: list[list[OutboxItem]] = []
        for item in items:
            if item.op == "append" and batches and batches[-1][0].op == "append":
                batches[-1].append(item)
            else:
                batches.append([item])
        return batches

    def _retry_parked(self, name: str, now: datetime) -> None:
        last = self._unparked_at.get(name)
        if last is None or now - last >= self.parked_retry:
            self._unparked_at[name] = now
            count = self.outbox.unpark(name)
            if count:
                log.info("%s: снова пробую записать отложенные заявки (%d)", name, count)

    async def flush_sink(self, name: str) -> int:
        """Deliver what is due for one sink; returns how many items were delivered."""
        async with self._locks[name]:
            return await self._flush_sink(name)

    async def _flush_sink(self, name: str) -> int:
        sink = self.sinks[name]
        quota = self.quotas[name]
        self._retry_parked(name, self.clock.now())
        self.blocked_until.pop(name, None)
        delivered = 0
        while True:
            items = self.outbox.due(name, self._iso(self.clock.now()), limit=self.batch_size)
            if not items:
                return delivered
            for batch in self._batches(items):
                now = self.clock.now()
                free = quota.free_at(now)
                if free is not None:
                    self.blocked_until[name] = free
                    return delivered
                quota.spend(now)
                try:
                    applied = await asyncio.to_thread(self._apply, sink, batch)
                except SinkError as exc:
                    await self._failed(name, batch, exc)
                    return delivered  # keep order: later items wait for the failed ones
                item = batch[0]
                if not applied and self.outbox.earlier_undelivered(name, item.lead.id, item.seq):
                    self.outbox.park([item.seq], f"waits for lead {item.lead.id}, parked earlier")
                    continue
                if not applied:
                    log.warning(
                        "заявки %s нет в %s: статус «%s» не поставлен", item.lead.id, name, item.lead.status
                    )
                self.outbox.mark_done([b.seq for b in batch])
                delivered += len(batch)

    async def _failed(self, name: str, batch: list[OutboxItem], exc: SinkError) -> None:
        seqs = [b.seq for b in batch]
        now = self.clock.now()
        if exc.retryable:
            next_at = now + self._backoff(batch[0].attempts)
            self.outbox.retry_later(seqs, self._iso(next_at), str(exc))
            log.warning("%s: не записано записей: %d (%s); повтор в %s", name, len(seqs), exc, next_at)
            return
        self.outbox.park(seqs, str(exc))
        log.error(
            "ЗАЯВКИ ОТЛОЖЕНЫ: %s отказал (записей: %d), они ждут на этом компьютере: %s", name, len(seqs), exc
        )
        last = self._warned_at.get(name)
        if self.on_parked and (last is None or now - last >= self.warn_every):
            self._warned_at[name] = now
            try:
                where = _SINK_NAMES.get(name, name)
                await self.on_parked(
                    f"⚠️ Заявки ({len(seqs)}) не записаны в {where}: {exc}. Они сохранены на компьютере "
                    "клиники и будут дописаны после исправления (при перезапуске сервиса или в течение "
                    f"{int(self.parked_retry.total_seconds() // 60)} мин)."
                )
            except Exception:  # the warning is best effort; the leads are safe in the outbox
                log.exception("не удалось предупредить администраторов об отложенных заявках")

    @staticmethod
    def _apply(sink: LeadSink, batch: list[OutboxItem]) -> bool:
        """Deliver one batch; False when a status found no row to set."""
        op = batch[0].op
        if op == "append":
            sink.append([b.lead for b in batch])
        elif op == "upsert":
            sink.upsert(batch[0].lead)
        else:
            return sink.update_status(batch[0].lead.id, batch[0].lead.status)
        return True

    async def flush(self) -> int:
        total = 0
        for name in self.sinks:
            total += await self.flush_sink(name)
        return total

    def next_due(self) -> datetime | None:
        """The earliest moment something may be delivered (quota window or backoff), if any."""
        moments = list(self.blocked_until.values())
        row = self.outbox.db.query(
            "SELECT MIN(next_at) FROM outbox WHERE state = 'pending' AND next_at != ''"
        )
        if row and row[0][0]:
            moments.append(datetime.fromisoformat(str(row[0][0])))
        return min(moments) if moments else None

    async def run_forever(self, interval: float = 2.0) -> None:
        """Flush what was left at once (parked rows included), then whenever woken or due."""
        self._unparked_at.clear()
        for name in self.sinks:
            self.outbox.retry_now(name)
        while True:
            try:
                await self.flush()
            except Exception:  # the flusher must outlive any single failure
                log.exception("сбой отправки заявок из очереди")
            self.wakeup.clear()
            timeout = interval
            due = self.next_due()
            if due is not None:
                timeout = max(0.05, min(interval, (due - self.clock.now()).total_seconds()))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.wakeup.wait(), timeout=timeout)
