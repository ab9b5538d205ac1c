"""Administrators' alerts that outlive a crash or an outage of the admin chat.

An alert about a conversation (a lead, a handoff, a patient's message relayed during a handoff) is written
in the same transaction as the turn that causes it, posted right after the commit and forgotten once the
admin chat has it. One that could not be posted (Telegram unreachable for longer than the sender's own
retries, the bot removed from the chat) is tried again by the timers' loop with a growing pause; one left
behind by a crash or `kill -9` is posted by the next run. At least once, never lost: a crash between the
post and its deletion posts it again.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sqlite3
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from bot.clock import Clock
from bot.dialogue.messages import Address, Effect, HandoffRequested, RelayToAdmins, StoreLead
from bot.notify import AdminNotifier
from bot.redact import mask_key
from bot.storage.db import Database
from sheets.schema import Lead

__all__ = ["Alert", "AlertOutbox", "AlertPoster", "alerts_of"]

log = logging.getLogger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS admin_alerts (
    id TEXT PRIMARY KEY,
    body TEXT NOT NULL,
    created_at REAL NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_at REAL NOT NULL
)
"""
_DUE = "CREATE INDEX IF NOT EXISTS admin_alerts_due ON admin_alerts(next_at)"

# The process that wrote an alert posts it at once; another process (the timers' loop) takes it up only
# after this, so both do not post it while the first is still at it.
GRACE = timedelta(minutes=2)
FIRST_PAUSE = timedelta(seconds=30)
LONGEST_PAUSE = timedelta(minutes=30)
# An alert still not posted after this is useless (the patient has been waiting for days): dropped, logged.
GIVE_UP_AFTER = timedelta(days=3)


@dataclass(frozen=True, slots=True)
class Alert:
    """What the administrators are to be told about a conversation; the text is made when it is posted."""

    kind: str  # "lead", "handoff" or "relay"
    conversation: str
    lead_id: str = ""
    updated: bool = False  # a lead: the row was completed or refreshed rather than new
    reason: str = ""
    recent: tuple[str, ...] = ()
    text: str = ""
    urgent: bool = False  # a handoff: emergency signs, the patient was told to call 103/112
    id: str = field(default_factory=lambda: uuid.uuid4().hex)
    attempts: int = 0

    @classmethod
    def about_lead(cls, lead: Lead, conversation: str, *, updated: bool) -> Alert:
        return cls("lead", conversation, lead_id=lead.id, updated=updated)

    def to_json(self) -> str:
        body: dict[str, Any] = {"kind": self.kind, "conversation": self.conversation}
        if self.lead_id:
            body.update(lead_id=self.lead_id, updated=self.updated)
        if self.reason:
            body["reason"] = self.reason
        if self.recent:
            body["recent"] = list(self.recent)
        if self.text:
            body["text"] = self.text
        if self.urgent:
            body["urgent"] = True
        return json.dumps(body, ensure_ascii=False)

    @classmethod
    def from_row(cls, alert_id: str, body: str, attempts: int) -> Alert:
        data = json.loads(body)
        return cls(
            kind=str(data["kind"]),
            conversation=str(data.get("conversation", "")),
            lead_id=str(data.get("lead_id", "")),
            updated=bool(data.get("updated", False)),
            reason=str(data.get("reason", "")),
            recent=tuple(str(line) for line in data.get("recent", ())),
            text=str(data.get("text", "")),
            urgent=bool(data.get("urgent", False)),
            id=alert_id,
            attempts=attempts,
        )


def alerts_of(conversation: str, effects: Iterable[Effect]) -> list[Alert]:
    """The alerts a turn's effects ask for, in order."""
    alerts = []
    for effect in effects:
        if isinstance(effect, StoreLead):
            alerts.append(Alert.about_lead(effect.lead, conversation, updated=effect.update))
        elif isinstance(effect, HandoffRequested):
            alerts.append(
                Alert(
                    "handoff",
                    conversation,
                    reason=effect.reason,
                    recent=tuple(effect.recent),
                    urgent=effect.urgent,
                )
            )
        elif isinstance(effect, RelayToAdmins):
            alerts.append(Alert("relay", conversation, text=effect.text))
    return alerts


class AlertOutbox:
    """The alerts not yet posted, in the local record."""

    def __init__(self, db: Database) -> None:
        self.db = db
        with db.transaction() as conn:
            conn.execute(_SCHEMA)
            conn.execute(_DUE)

    @staticmethod
    def add(conn: sqlite3.Connection, alerts: Sequence[Alert], now: datetime) -> None:
        """Inside the caller's transaction (the turn that causes them)."""
        at = now.timestamp()
        conn.executemany(
            "INSERT OR REPLACE INTO admin_alerts(id, body, created_at, attempts, next_at) VALUES (?, ?, ?, 0, ?)",
            [(a.id, a.to_json(), at, at + GRACE.total_seconds()) for a in alerts],
        )

    def due(self, now: datetime, *, everything: bool = False, limit: int = 100) -> list[tuple[Alert, float]]:
        """Alerts whose next attempt is due (every one with `everything`), oldest first, with their age."""
        rows = self.db.query(
            "SELECT id, body, attempts, created_at FROM admin_alerts WHERE next_at <= ? "
            "ORDER BY created_at LIMIT ?",
            (float("inf") if everything else now.timestamp(), limit),
        )
        return [
            (
                Alert.from_row(str(alert_id), str(body), int(str(attempts))),
                now.timestamp() - float(str(created)),
            )
            for alert_id, body, attempts, created in rows
        ]

    def done(self, alert_id: str) -> None:
        with self.db.transaction() as conn:
            conn.execute("DELETE FROM admin_alerts WHERE id = ?", (alert_id,))

    def later(self, alert: Alert, now: datetime) -> None:
        """Not posted: the next attempt after a pause that doubles each time, up to LONGEST_PAUSE."""
        pause = min(FIRST_PAUSE * 2**alert.attempts, LONGEST_PAUSE)
        with self.db.transaction() as conn:
            conn.execute(
                "UPDATE admin_alerts SET attempts = attempts + 1, next_at = ? WHERE id = ?",
                ((now + pause).timestamp(), alert.id),
            )

    def pending(self) -> int:
        return int(self.db.query("SELECT COUNT(*) FROM admin_alerts")[0][0])  # type: ignore[call-overload]

    def failing(self) -> int:
        """Alerts the admin chat has refused at least once (an outage, the bot removed from the chat)."""
        rows = self.db.query("SELECT COUNT(*) FROM admin_alerts WHERE attempts > 0")
        return int(rows[0][0])  # type: ignore[call-overload]


class _Conversation(Protocol):
    @property
    def address(self) -> Address: ...


class _Record(Protocol):
    """What the poster reads from the state store (a protocol: the store imports this module)."""

    def lead(self, lead_id: str) -> tuple[Lead, str] | None: ...
    def find(self, key: str) -> _Conversation | None: ...


class AlertPoster:
    """Posts alerts through the admin notifier and keeps the outbox in step."""

    def __init__(self, outbox: AlertOutbox, notifier: AdminNotifier, store: _Record, clock: Clock) -> None:
        self.outbox = outbox
        self.notifier = notifier
        self.store = store
        self.clock = clock
        self._running: set[asyncio.Future[None]] = set()

    async def post(self, alerts: Sequence[Alert], *, wait: float | None = None) -> None:
        """Right after the commit that wrote them. With `wait`, return after that many seconds at most: a slow
        admin chat (Telegram asking to wait, retries) must not hold the patient's answer; the posting goes
        on in the background, and what a stop cuts short is kept for the next run."""
        if not alerts:
            return
        job = asyncio.ensure_future(self._post_all(alerts))
        if wait is None:
            await job
            return
        self._running.add(job)
        job.add_done_callback(self._running.discard)
        await asyncio.wait({job}, timeout=wait)

    async def _post_all(self, alerts: Sequence[Alert]) -> None:
        for alert in alerts:
            await self._attempt(alert)

    async def drain(self, timeout: float) -> None:
        """Let the alerts still being posted finish (a graceful stop), up to `timeout` seconds."""
        if self._running:
            await asyncio.wait(set(self._running), timeout=timeout)

    async def retry_due(self, *, everything: bool = False) -> int:
        """Alerts left by an outage or a crash whose time has come (all of them at start); how many posted."""
        posted = 0
        now = self.clock.now()
        for alert, age in self.outbox.due(now, everything=everything):
            if age > GIVE_UP_AFTER.total_seconds():
                log.error("оповещение %s (%s, диалог %s) не отправлено за %s; пропущено", alert.id, alert.kind,
                          mask_key(alert.conversation), GIVE_UP_AFTER)  # fmt: skip
                self.outbox.done(alert.id)
                continue
            if await self._attempt(alert):
                posted += 1
        return posted

    async def _attempt(self, alert: Alert) -> bool:
        try:
            delivered = await self._post(alert)
        except Exception:  # a broken alert must not stop the others (nor the conversation)
            log.exception("сбой оповещения %s (%s)", alert.id, alert.kind)
            delivered = False
        if delivered:
            self.outbox.done(alert.id)
        else:
            self.outbox.later(alert, self.clock.now())
        return delivered

    async def _post(self, alert: Alert) -> bool:
        stored = self.store.find(alert.conversation)
        if stored is None:
            log.warning(
                "оповещение %s: диалога %s нет в базе; пропущено",
                alert.id,
                mask_key(alert.conversation),
            )
            return True
        address = stored.address
        if alert.kind == "lead":
            found = self.store.lead(alert.lead_id)  # as recorded now: the administrators' status kept
            if found is None:
                log.warning("оповещение о заявке %s: заявки нет в базе; пропущено", alert.lead_id)
                return True
            return await self.notifier.lead(found[0], address, updated=alert.updated)
        if alert.kind == "handoff":
            return await self.notifier.handoff(address, alert.reason, alert.recent, urgent=alert.urgent)
        if alert.kind == "relay":
            return await self.notifier.relay(address, alert.text)
        log.error("оповещение %s неизвестного вида %r; пропущено", alert.id, alert.kind)
        return True
