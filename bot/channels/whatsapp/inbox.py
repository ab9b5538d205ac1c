"""The WhatsApp inbox: every patient message is on disk before Meta hears 200 (table `whatsapp_inbox`).

A row goes through these steps, each a small SQLite write:

1. ``record``   the webhook stores the parsed message as pending, in one synced (FULL) transaction per
                delivery, and only then answers 200. The message id is unique: a redelivery by Meta is
                recognised here and processed no second time.
2. ``answered`` the dialogue's replies, kept before they are sent.
3. ``finish``   the replies were attempted (sent, or refused by Graph and logged): ``done``; or the message
                was too old to answer: ``dropped``. The message's content is then cleared, only the id
                (for redeliveries) and the times stay, and such rows are pruned after `KEEP` (7 days, as
                long as Meta goes on redelivering).

After a crash (kill -9, power loss) the channel takes the unfinished rows in arrival order at start: a row
answered has its replies sent again; any other is given to the dialogue again, with the message id as its
receipt, so a turn the dialogue had already committed is not decided twice but gives back its replies (the
conversation service keeps them with the turn). Marks after the first are written without a sync: kill -9
loses none of them (WAL), a power loss may at worst send one answer twice.
"""

from __future__ import annotations

import json
import logging
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from bot.channels.whatsapp.inbound import InboundMessage
from bot.dialogue.messages import Incoming, Outgoing, outgoing_from_plain, outgoing_to_plain
from bot.errors import StorageError
from bot.storage.db import Database

__all__ = ["KEEP", "InboxEntry", "WhatsAppInbox"]

log = logging.getLogger(__name__)

KEEP = timedelta(days=7)  # finished rows kept this long, for Meta's redeliveries
PRUNE_EVERY = timedelta(hours=1)

SCHEMA = """
CREATE TABLE IF NOT EXISTS whatsapp_inbox (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    message_id TEXT NOT NULL UNIQUE,
    wa_id TEXT NOT NULL,
    message TEXT NOT NULL,
    received_at TEXT NOT NULL,
    state TEXT NOT NULL DEFAULT 'pending',
    started TEXT,
    replies TEXT,
    finished_at TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS whatsapp_inbox_unfinished ON whatsapp_inbox(seq) WHERE state = 'pending';
CREATE INDEX IF NOT EXISTS whatsapp_inbox_finished ON whatsapp_inbox(finished_at) WHERE state != 'pending';
"""


@dataclass(frozen=True, slots=True)
class InboxEntry:
    """One stored message and how far its processing went."""

    seq: int
    message: InboundMessage
    received_at: datetime
    replies: tuple[Outgoing, ...] | None = None  # the dialogue's answer, once it gave one

    @property
    def sent_at(self) -> datetime:
        """When the patient wrote: Meta's timestamp (never later than our receipt), else our receipt."""
        if self.message.timestamp is None:
            return self.received_at
        return min(self.message.timestamp, self.received_at)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds")


def _message_json(message: InboundMessage) -> str:
    incoming = message.incoming
    return json.dumps(
        {
            "phone_number_id": message.phone_number_id,
            "type": message.type,
            "timestamp": message.timestamp.isoformat() if message.timestamp else None,
            "text": incoming.text,
            "button": incoming.button,
            "contact_phone": incoming.contact_phone,
            "unsupported": incoming.unsupported,
            "profile_name": incoming.profile_name,
        },
        ensure_ascii=False,
    )


def _message(wa_id: str, message_id: str, raw: str) -> InboundMessage:
    data: dict[str, Any] = json.loads(raw)
    timestamp = data.get("timestamp")
    return InboundMessage(
        wa_id=wa_id,
        message_id=message_id,
        phone_number_id=str(data.get("phone_number_id") or ""),
        type=str(data.get("type") or ""),
        incoming=Incoming(
            text=str(data.get("text") or ""),
            button=data.get("button"),
            contact_phone=data.get("contact_phone"),
            unsupported=data.get("unsupported"),
            profile_name=data.get("profile_name"),
        ),
        timestamp=datetime.fromisoformat(timestamp) if timestamp else None,
    )


def _replies_json(replies: Sequence[Outgoing]) -> str:
    return json.dumps(outgoing_to_plain(replies), ensure_ascii=False)


def _replies(raw: str) -> tuple[Outgoing, ...]:
    return outgoing_from_plain(json.loads(raw))


class WhatsAppInbox:
    """The durable record of inbound WhatsApp messages, in the shared SQLite database."""

    def __init__(self, db: Database) -> None:
        self.db = db
        with db.transaction() as conn:  # statement by statement: executescript would commit early
            for statement in filter(None, (s.strip() for s in SCHEMA.split(";"))):
                conn.execute(statement)
        self._pruned_at: datetime | None = None

    def record(self, messages: Sequence[InboundMessage], now: datetime) -> list[InboxEntry]:
        """Store the messages not seen before, synced to disk; returns them (redeliveries left out)."""
        if not messages:
            return []
        fresh: list[InboxEntry] = []
        at = _iso(now)
        with self.db.transaction(durable=True) as conn:
            for message in messages:
                if self._seen_before_upgrade(conn, message.message_id):
                    continue
                cur = conn.execute(
                    "INSERT OR IGNORE INTO whatsapp_inbox(message_id, wa_id, message, received_at) "
                    "VALUES (?, ?, ?, ?)",
                    (message.message_id, message.wa_id, _message_json(message), at),
                )
                if cur.rowcount:
                    fresh.append(InboxEntry(int(cur.lastrowid or 0), message, now))
        if self._pruned_at is None or now - self._pruned_at >= PRUNE_EVERY:
            try:
                self.prune(now)
            except StorageError as exc:  # the messages are stored: they must be processed all the same
                log.warning("WhatsApp: старые записи входящих не удалены в этот раз: %s", exc)
        return fresh

    @staticmethod
    def _seen_before_upgrade(conn: sqlite3.Connection, message_id: str) -> bool:
        """Earlier versions kept only the ids, in `seen_messages`: those were handled already."""
        row = conn.execute("SELECT 1 FROM seen_messages WHERE id = ?", (f"whatsapp:{message_id}",)).fetchone()
        return row is not None

    def unfinished(self) -> list[InboxEntry]:
        """Rows a crash left behind, in the order they arrived."""
        rows = self.db.query(
            "SELECT seq, message_id, wa_id, message, received_at, replies FROM whatsapp_inbox "
            "WHERE state = 'pending' ORDER BY seq"
        )
        return [
            InboxEntry(
                seq=int(str(seq)),
                message=_message(str(wa_id), str(message_id), str(message)),
                received_at=datetime.fromisoformat(str(received_at)),
                replies=None if replies is None else _replies(str(replies)),
            )
            for seq, message_id, wa_id, message, received_at, replies in rows
        ]

    def answered(self, seq: int, replies: Sequence[Outgoing]) -> None:
        with self.db.transaction() as conn:
            conn.execute("UPDATE whatsapp_inbox SET replies = ? WHERE seq = ?", (_replies_json(replies), seq))

    def finish(self, seq: int, now: datetime, *, state: str = "done") -> None:
        """`done` or `dropped`; the content is cleared (the conversation keeps what it needs)."""
        with self.db.transaction() as conn:
            conn.execute(
                "UPDATE whatsapp_inbox SET state = ?, message = '{}', replies = NULL, finished_at = ? "
                "WHERE seq = ?",
                (state, _iso(now), seq),
            )

    def prune(self, now: datetime) -> int:
        """Forget finished rows older than `KEEP`; returns how many."""
        self._pruned_at = now
        with self.db.transaction() as conn:
            cur = conn.execute(
                "DELETE FROM whatsapp_inbox WHERE state != 'pending' AND finished_at < ?", (_iso(now - KEEP),)
            )
        return cur.rowcount

    def counts(self) -> dict[str, int]:
        """Rows per state (tests, diagnostics)."""
        rows = self.db.query("SELECT state, COUNT(*) FROM whatsapp_inbox GROUP BY state")
        return {str(state): int(str(n)) for state, n in rows}
