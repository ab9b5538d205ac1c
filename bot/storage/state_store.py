"""Conversation states and the local record of leads, in the SQLite database.

Several processes may share the file (the Telegram workers), so a save is optimistic: each row has a
revision, a state carries the one it was read at, and `save` writes only over that same revision (else
StaleState, nothing written). The caller then reads and decides again (`bot.service.retry_stale`).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.alerts import Alert, AlertOutbox
from bot.dialogue.messages import Address, Outgoing, outgoing_from_plain, outgoing_to_plain
from bot.dialogue.state import ConversationState
from bot.errors import StaleState
from bot.storage.db import Database
from sheets.outbox import Outbox
from sheets.schema import Lead, Status, is_bot_status, keep_admin_status

__all__ = ["Answered", "StaleState", "StateStore", "StoredConversation"]

# How long a channel message's receipt is kept: a message kept unanswered longer is dropped by its channel
# (24 h), so a replay never asks about an older one.
RECEIPTS_KEPT = timedelta(days=2)
PRUNE_EVERY = 500  # saves with receipts between two deletions of old ones

_STORED = "channel, user_id, contact, state, revision"  # the columns `_stored` reads


@dataclass(frozen=True, slots=True)
class StoredConversation:
    address: Address
    state: ConversationState  # carries the revision it was read at


def _state(text: object, revision: object) -> ConversationState:
    state = ConversationState.from_json(str(text))
    state.revision = int(str(revision))
    return state


def _stored(row: tuple[object, ...]) -> StoredConversation:
    channel, user_id, contact, state, revision = row
    return StoredConversation(Address(str(channel), str(user_id), str(contact)), _state(state, revision))


@dataclass(frozen=True, slots=True)
class Answered:
    """Which of some channel messages (receipts) a committed turn already answered, and its replies."""

    receipts: frozenset[str] = frozenset()
    replies: tuple[Outgoing, ...] = ()


class StateStore:
    """One row per conversation keyed by channel and user; leads committed with the state they came from."""

    def __init__(self, db: Database, outbox: Outbox, alerts: AlertOutbox | None = None) -> None:
        self.db = db
        self.outbox = outbox
        self.alerts = alerts if alerts is not None else AlertOutbox(db)
        self._until_prune = 0

    def load(self, address: Address) -> ConversationState:
        """The stored state (a new one when the conversation is unknown), carrying the revision it was read at."""
        rows = self.db.query("SELECT state, revision FROM conversations WHERE key = ?", (address.key,))
        return _state(rows[0][0], rows[0][1]) if rows else ConversationState()

    def find(self, key: str) -> StoredConversation | None:
        rows = self.db.query(f"SELECT {_STORED} FROM conversations WHERE key = ?", (key,))
        return _stored(rows[0]) if rows else None

    def save(
        self,
        address: Address,
        state: ConversationState,
        now: str,
        leads: Sequence[tuple[Lead, bool]] = (),
        due_at: str = "",
        forget: Sequence[str] = (),
        receipts: Sequence[str] = (),
        replies: Sequence[Outgoing] = (),
        alerts: Sequence[Alert] = (),
    ) -> list[Lead]:
        """Store the state and the leads (lead, is_update) and queue them for every sink, atomically.

        Only if the conversation is still at the revision the state was read at (`load`, `find`, `due`; 0
        for a conversation not stored yet): otherwise another process saved it meanwhile, StaleState is
        raised and nothing is written. On success `state.revision` is the stored row's new revision.
        A lead already recorded keeps a status the administrators gave it (the sinks keep theirs too).
        The leads whose IDs are in `forget` lose their personal data (see `_forget_lead`) in the same
        transaction; returns those that changed (a lead already forgotten is not written again).
        `receipts` name the channel messages this turn answered, with `replies`: committed together, so a
        message replayed after a crash is recognised as answered (`answered`) instead of being decided twice.
        `alerts` for the administrators are kept until posted (`bot.alerts`)."""
        forgotten: list[Lead] = []
        with self.db.transaction(durable=bool(leads or forget)) as conn:
            revision = self._write_state(conn, address, state, now, due_at)
            if receipts:
                self._write_receipts(conn, address, receipts, replies, now)
            if alerts:
                self.alerts.add(conn, alerts, datetime.fromisoformat(now))
            for lead, update in leads:
                stored = self._write_lead(conn, address, lead, now)
                self.outbox.enqueue(conn, "upsert" if update else "append", stored, now)
            for lead_id in forget:
                lead_ = self._forget_lead(conn, lead_id, now)
                if lead_ is not None:
                    forgotten.append(lead_)
        state.revision = revision  # committed
        return forgotten

    def _write_receipts(
        self, conn: sqlite3.Connection, address: Address, receipts: Sequence[str], replies: Sequence[Outgoing],
        now: str,
    ) -> None:  # fmt: skip
        plain = json.dumps(outgoing_to_plain(replies), ensure_ascii=False)
        conn.executemany(
            "INSERT OR REPLACE INTO answered_messages(receipt, conversation, turn, replies, at) "
            "VALUES (?, ?, ?, ?, ?)",
            [(receipt, address.key, receipts[0], plain, now) for receipt in receipts],
        )
        self._until_prune -= 1
        if self._until_prune <= 0:
            self._until_prune = PRUNE_EVERY
            cutoff = (datetime.fromisoformat(now) - RECEIPTS_KEPT).isoformat(timespec="milliseconds")
            conn.execute("DELETE FROM answered_messages WHERE at < ?", (cutoff,))

    def answered(self, receipts: Sequence[str]) -> Answered:
        """Which of these channel messages were answered by a committed turn, with that turn's replies (once
        per turn, in the order of `receipts`)."""
        if not receipts:
            return Answered()
        marks = ", ".join("?" * len(receipts))
        rows = self.db.query(
            f"SELECT receipt, turn, replies FROM answered_messages WHERE receipt IN ({marks})",
            tuple(receipts),
        )
        if not rows:
            return Answered()
        found = {str(receipt): (str(turn), str(replies)) for receipt, turn, replies in rows}
        turns: dict[str, str] = {}
        for receipt in receipts:
            if receipt in found:
                turn, plain = found[receipt]
                turns.setdefault(turn, plain)
        replies = tuple(m for plain in turns.values() for m in outgoing_from_plain(json.loads(plain)))
        return Answered(frozenset(found), replies)

    def _forget_lead(self, conn: sqlite3.Connection, lead_id: str, now: str) -> Lead | None:
        """The patient withdrew consent: the lead's row keeps no name, phone, contact or comment, its
        status becomes «отказ» unless the administrators set one, every copy in the outbox is redacted,
        and one rewrite is queued for every sink."""
        found = conn.execute("SELECT row FROM leads WHERE id = ?", (lead_id,)).fetchone()
        if found is None:
            return None
        current = Lead.from_row(json.loads(str(found[0])))
        lead = keep_admin_status(current.without_personal_data().with_status(Status.REFUSED), current.status)
        if lead == current:
            return None
        conn.execute(
            "UPDATE leads SET row = ?, status = ?, updated_at = ? WHERE id = ?",
            (json.dumps(lead.to_row(), ensure_ascii=False), lead.status, now, lead_id),
        )
        if lead.status != current.status:
            conn.execute(
                "INSERT INTO status_changes(lead_id, status, by, at) VALUES (?, ?, 'bot', ?)",
                (lead_id, lead.status, now),
            )
        self.outbox.redact(conn, lead)
        self.outbox.enqueue(conn, "upsert", lead, now)
        return lead

    @staticmethod
    def _write_state(
        conn: sqlite3.Connection, address: Address, state: ConversationState, now: str, due_at: str
    ) -> int:
        """Insert the conversation at revision 1, or update it if its row is still at `state.revision`;
        returns the new revision. StaleState when the row is at another one (the transaction rolls back)."""
        rows = conn.execute(
            "INSERT INTO conversations(key, channel, user_id, contact, state, updated_at, due_at, revision) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, 1) ON CONFLICT(key) DO UPDATE SET contact = excluded.contact, "
            "state = excluded.state, updated_at = excluded.updated_at, due_at = excluded.due_at, "
            "revision = conversations.revision + 1 WHERE conversations.revision = ? RETURNING revision",
            (
                address.key,
                address.channel,
                address.user_id,
                address.contact,
                state.to_json(),
                now,
                due_at,
                state.revision,
            ),
        ).fetchall()
        if not rows:
            raise StaleState(
                f"conversation {address.key} was saved by another process since it was read "
                f"(at revision {state.revision})"
            )
        return int(rows[0][0])

    @staticmethod
    def _write_lead(conn: sqlite3.Connection, address: Address, lead: Lead, now: str) -> Lead:
        """Record the bot's version of a lead; returns it as stored (an administrators' status kept)."""
        current = conn.execute("SELECT status FROM leads WHERE id = ?", (lead.id,)).fetchone()
        if current is not None:
            lead = keep_admin_status(lead, str(current[0]))
        conn.execute(
            "INSERT INTO leads(id, conversation, row, status, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?) "
            "ON CONFLICT(id) DO UPDATE SET row = excluded.row, status = excluded.status, "
            "updated_at = excluded.updated_at",
            (lead.id, address.key, json.dumps(lead.to_row(), ensure_ascii=False), lead.status, now, now),
        )
        if current is None or is_bot_status(str(current[0])):
            conn.execute(
                "INSERT INTO status_changes(lead_id, status, by, at) VALUES (?, ?, 'bot', ?)",
                (lead.id, lead.status, now),
            )
        return lead

    def lead(self, lead_id: str) -> tuple[Lead, str] | None:
        """The lead and the key of its conversation."""
        rows = self.db.query("SELECT row, conversation FROM leads WHERE id = ?", (lead_id,))
        if not rows:
            return None
        return Lead.from_row(json.loads(str(rows[0][0]))), str(rows[0][1])

    def conversation_leads(self, key: str) -> list[Lead]:
        """The leads recorded from one conversation, oldest first."""
        rows = self.db.query("SELECT row FROM leads WHERE conversation = ? ORDER BY created_at", (key,))
        return [Lead.from_row(json.loads(str(r[0]))) for r in rows]

    def leads(self) -> list[Lead]:
        return [
            Lead.from_row(json.loads(str(r[0])))
            for r in self.db.query("SELECT row FROM leads ORDER BY created_at")
        ]

    def set_status(self, lead_id: str, status: str, by: str, now: str) -> Lead | None:
        found = self.lead(lead_id)
        if found is None:
            return None
        lead = found[0].with_status(status)
        with self.db.transaction(durable=True) as conn:
            conn.execute(
                "UPDATE leads SET row = ?, status = ?, updated_at = ? WHERE id = ?",
                (json.dumps(lead.to_row(), ensure_ascii=False), status, now, lead_id),
            )
            conn.execute(
                "INSERT INTO status_changes(lead_id, status, by, at) VALUES (?, ?, ?, ?)",
                (lead_id, status, by, now),
            )
            self.outbox.enqueue(conn, "status", lead, now)
        return lead

    def due(self, now: str, limit: int = 100) -> list[StoredConversation]:
        """Conversations whose timer (reminder, unconfirmed record) is due."""
        rows = self.db.query(
            f"SELECT {_STORED} FROM conversations WHERE due_at != '' AND due_at <= ? ORDER BY due_at LIMIT ?",
            (now, limit),
        )
        return [_stored(row) for row in rows]

    def count(self) -> int:
        return int(self.db.query("SELECT COUNT(*) FROM conversations")[0][0])  # type: ignore[call-overload]

    def seen(self, message_id: str, now: str) -> bool:
        """Record a channel's message id; True when it was already processed (redelivered webhooks)."""
        with self.db.transaction() as conn:
            cur = conn.execute("INSERT OR IGNORE INTO seen_messages(id, at) VALUES (?, ?)", (message_id, now))
            return cur.rowcount == 0
