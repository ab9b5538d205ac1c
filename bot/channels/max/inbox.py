"""The MAX inbox: every update is on disk before MAX hears 200 or the polling marker moves (`max_inbox`).

The steps are the WhatsApp inbox's (`bot/channels/whatsapp/inbox.py`):

1. ``record``   the update as received (its raw JSON), pending, in one synced transaction per delivery or
                per polled batch, together with the polling marker after it. Its key (message id, callback
                id) is unique: a redelivery is recognised here and processed no second time.
2. ``answered`` the dialogue's replies, kept before they are sent.
3. ``finish``   the replies were attempted: ``done``; the content is cleared, the key stays for `KEEP`.

After a crash (kill -9) the unfinished rows are taken in arrival order at start: a row answered has its
replies sent again; any other goes to the dialogue again with its key as the receipt, so a turn already
committed gives back its replies instead of being decided twice. A polled batch whose marker was not
stored is fetched again from MAX with the old marker, and its updates are recognised by their keys.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from bot.dialogue.messages import Outgoing, outgoing_from_plain, outgoing_to_plain
from bot.errors import StorageError
from bot.storage.db import Database

__all__ = ["KEEP", "MaxInbox", "MaxInboxEntry"]

log = logging.getLogger(__name__)

KEEP = timedelta(days=7)  # finished rows kept this long, for redeliveries
PRUNE_EVERY = timedelta(hours=1)

SCHEMA = """
CREATE TABLE IF NOT EXISTS max_inbox (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    update_key TEXT NOT NULL UNIQUE,
    user_id TEXT NOT NULL,
    body TEXT NOT NULL,
    received_at TEXT NOT NULL,
    state TEXT NOT NULL DEFAULT 'pending',
    replies TEXT,
    finished_at TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS max_inbox_unfinished ON max_inbox(seq) WHERE state = 'pending';
CREATE INDEX IF NOT EXISTS max_inbox_finished ON max_inbox(finished_at) WHERE state != 'pending';
CREATE TABLE IF NOT EXISTS max_marker (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    marker INTEGER NOT NULL
)
"""


@dataclass(frozen=True, slots=True)
class MaxInboxEntry:
    """One stored update and how far its processing went."""

    seq: int
    key: str
    user_id: str
    update: dict[str, Any]
    received_at: datetime
    replies: tuple[Outgoing, ...] | None = None


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds")


class MaxInbox:
    """The durable record of inbound MAX updates and of the polling marker, in the shared database."""

    def __init__(self, db: Database) -> None:
        self.db = db
        with db.transaction() as conn:  # statement by statement: executescript would commit early
            for statement in filter(None, (s.strip() for s in SCHEMA.split(";"))):
                conn.execute(statement)
        self._pruned_at: datetime | None = None

    def record(
        self, updates: Sequence[tuple[str, str, dict[str, Any]]], now: datetime, *, marker: int | None = None
    ) -> list[MaxInboxEntry]:
        """Store (key, user id, update) not seen before and the marker, synced; returns the new ones."""
        if not updates and marker is None:
            return []
        fresh: list[MaxInboxEntry] = []
        at = _iso(now)
        with self.db.transaction(durable=True) as conn:
            for key, user_id, update in updates:
                cur = conn.execute(
                    "INSERT OR IGNORE INTO max_inbox(update_key, user_id, body, received_at) VALUES (?, ?, ?, ?)",
                    (key, user_id, json.dumps(update, ensure_ascii=False), at),
                )
                if cur.rowcount:
                    fresh.append(MaxInboxEntry(int(cur.lastrowid or 0), key, user_id, update, now))
            if marker is not None:
                conn.execute(
                    "INSERT INTO max_marker(id, marker) VALUES (1, ?) "
                    "ON CONFLICT(id) DO UPDATE SET marker = excluded.marker",
                    (marker,),
                )
        if self._pruned_at is None or now - self._pruned_at >= PRUNE_EVERY:
            try:
                self.prune(now)
            except StorageError as exc:  # the updates are stored: they must be processed all the same
                log.warning("MAX: старые записи входящих не удалены в этот раз: %s", exc)
        return fresh

    def marker(self) -> int | None:
        """Where long polling goes on from (None: from what MAX still keeps)."""
        rows = self.db.query("SELECT marker FROM max_marker WHERE id = 1")
        return int(str(rows[0][0])) if rows else None

    def unfinished(self) -> list[MaxInboxEntry]:
        """Rows a crash left behind, in the order they arrived."""
        rows = self.db.query(
            "SELECT seq, update_key, user_id, body, received_at, replies FROM max_inbox "
            "WHERE state = 'pending' ORDER BY seq"
        )
        return [
            MaxInboxEntry(
                seq=int(str(seq)),
                key=str(key),
                user_id=str(user_id),
                update=json.loads(str(body)),
                received_at=datetime.fromisoformat(str(received_at)),
                replies=None if replies is None else outgoing_from_plain(json.loads(str(replies))),
            )
            for seq, key, user_id, body, received_at, replies in rows
        ]

    def answered(self, seq: int, replies: Sequence[Outgoing]) -> None:
        plain = json.dumps(outgoing_to_plain(replies), ensure_ascii=False)
        with self.db.transaction() as conn:
            conn.execute("UPDATE max_inbox SET replies = ? WHERE seq = ?", (plain, seq))

    def finish(self, seq: int, now: datetime, *, state: str = "done") -> None:
        """`done` (or `skipped`); the content is cleared (the conversation keeps what it needs)."""
        with self.db.transaction() as conn:
            conn.execute(
                "UPDATE max_inbox SET state = ?, body = '{}', replies = NULL, finished_at = ? WHERE seq = ?",
                (state, _iso(now), seq),
            )

    def prune(self, now: datetime) -> int:
        """Forget finished rows older than `KEEP`; returns how many."""
        self._pruned_at = now
        with self.db.transaction() as conn:
            cur = conn.execute(
                "DELETE FROM max_inbox WHERE state != 'pending' AND finished_at < ?", (_iso(now - KEEP),)
            )
        return cur.rowcount

    def counts(self) -> dict[str, int]:
        """Rows per state (tests, diagnostics)."""
        rows = self.db.query("SELECT state, COUNT(*) FROM max_inbox GROUP BY state")
        return {str(state): int(str(n)) for state, n in rows}
