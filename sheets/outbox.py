"""The durable outbox: leads committed locally first, then delivered to every sink, never twice."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import sqlite3
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.clock import Clock
from bot.errors import SinkError
from bot.storage.db import Database
from sheets.port import LeadSink
from sheets.schema import Lead

log = logging.getLogger(__name__)


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

    def due(self, sink: str, now: str, limit: int = 200) -> list[OutboxItem]:
        rows = self.db.query(
            "SELECT seq, sink, op, payload, attempts FROM outbox WHERE sink = ? AND state = 'pending' "
            "AND next_at <= ? ORDER BY seq LIMIT ?",
            (sink, now, limit),
        )
        return [
            OutboxItem(int(seq), str(s), str(op), Lead.from_row(json.loads(str(p))), int(a))  # type: ignore[call-overload]
            for seq, s, op, p, a in rows
        ]

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


class OutboxFlusher:
    """Delivers the outbox to the sinks: batches appends, backs off on retryable errors, parks the rest."""

    def __init__(
        self,
        outbox: Outbox,
        sinks: Mapping[str, LeadSink],
        clock: Clock,
        on_parked: Callable[[str], Awaitable[None]] | None = None,
        base_delay: float = 2.0,
        max_delay: float = 300.0,
    ) -> None:
        self.outbox = outbox
        self.sinks = sinks
        self.clock = clock
        self.on_parked = on_parked
        self.base_delay = base_delay
        self.max_delay = max_delay
        self.wakeup = asyncio.Event()

    def _iso(self, moment: datetime) -> str:
        return moment.isoformat(timespec="milliseconds")

    def _backoff(self, attempts: int) -> timedelta:
        delay = min(self.max_delay, self.base_delay * (2**attempts))
        return timedelta(seconds=delay * random.uniform(0.5, 1.0))

    async def flush_sink(self, name: str) -> int:
        """Deliver what is due for one sink; returns how many items were delivered."""
        sink = self.sinks[name]
        items = self.outbox.due(name, self._iso(self.clock.now()))
        delivered = 0
        i = 0
        while i < len(items):
            item = items[i]
            if item.op == "append":
                batch = [item]
                while i + len(batch) < len(items) and items[i + len(batch)].op == "append":
                    batch.append(items[i + len(batch)])
            else:
                batch = [item]
            try:
                await asyncio.to_thread(self._apply, sink, batch)
            except SinkError as exc:
                seqs = [b.seq for b in batch]
                if exc.retryable:
                    next_at = self.clock.now() + self._backoff(batch[0].attempts)
                    self.outbox.retry_later(seqs, self._iso(next_at), str(exc))
                    log.warning("sink %s failed (%s); retry at %s", name, exc, next_at)
                else:
                    self.outbox.park(seqs, str(exc))
                    log.error("sink %s refused %d lead(s), parked: %s", name, len(seqs), exc)
                    if self.on_parked:
                        await self.on_parked(f"Лиды не записаны в {name}: {exc}. Они сохранены локально.")
                return delivered  # keep order: later items wait for the failed ones
            self.outbox.mark_done([b.seq for b in batch])
            delivered += len(batch)
            i += len(batch)
        return delivered

    @staticmethod
    def _apply(sink: LeadSink, batch: list[OutboxItem]) -> None:
        op = batch[0].op
        if op == "append":
            sink.append([b.lead for b in batch])
        elif op == "upsert":
            sink.upsert(batch[0].lead)
        else:
            sink.update_status(batch[0].lead.id, batch[0].lead.status)

    async def flush(self) -> int:
        total = 0
        for name in self.sinks:
            total += await self.flush_sink(name)
        return total

    async def run_forever(self, interval: float = 2.0) -> None:
        while True:
            try:
                await self.flush()
            except Exception:  # the flusher must outlive any single failure
                log.exception("outbox flush failed")
            self.wakeup.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.wakeup.wait(), timeout=interval)
