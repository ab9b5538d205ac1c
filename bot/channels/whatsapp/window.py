"""WhatsApp's 24-hour customer-service window, per patient, in the local record (table `whatsapp_contacts`).

A free-form message may be sent only within 24 hours of the patient's last message; after that only
approved templates. The window closes early when Graph answers 131047 for that patient.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime, timedelta

from bot.dialogue.messages import Button
from bot.storage.db import Database

__all__ = ["WINDOW", "WhatsAppContacts", "whatsapp_window_open"]

WINDOW = timedelta(hours=24)

SCHEMA = """
CREATE TABLE IF NOT EXISTS whatsapp_contacts (
    wa_id TEXT PRIMARY KEY,
    last_inbound_at TEXT NOT NULL DEFAULT '',
    closed_at TEXT NOT NULL DEFAULT '',
    offered TEXT NOT NULL DEFAULT '[]'
)
"""


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds")


def _window_open(last_inbound_at: str, closed_at: str, now: datetime) -> bool:
    if not last_inbound_at:
        return False
    last = datetime.fromisoformat(last_inbound_at)
    if closed_at and closed_at >= last_inbound_at:
        return False
    return now - last < WINDOW


def whatsapp_window_open(db: Database, wa_id: str, now: datetime) -> bool:
    """True when a free-form message may be sent to this WhatsApp user now (follow-ups and relays ask)."""
    try:
        rows = db.query("SELECT last_inbound_at, closed_at FROM whatsapp_contacts WHERE wa_id = ?", (wa_id,))
    except sqlite3.OperationalError:  # WhatsApp never ran with this data folder
        return False
    return bool(rows) and _window_open(str(rows[0][0]), str(rows[0][1]), now)


class WhatsAppContacts:
    """Per patient: the last inbound time, an early close (131047), and the options offered last."""

    def __init__(self, db: Database) -> None:
        self.db = db
        with db.transaction() as conn:
            conn.execute(SCHEMA)

    def inbound(self, wa_id: str, at: datetime) -> None:
        """The patient wrote at `at`: the window (re)opens for 24 hours from then."""
        with self.db.transaction() as conn:
            conn.execute(
                "INSERT INTO whatsapp_contacts(wa_id, last_inbound_at) VALUES (?, ?) ON CONFLICT(wa_id) "
                "DO UPDATE SET last_inbound_at = max(last_inbound_at, excluded.last_inbound_at)",
                (wa_id, _iso(at)),
            )

    def close(self, wa_id: str, at: datetime) -> None:
        """Graph said 131047: treat the window as closed until the patient writes again."""
        with self.db.transaction() as conn:
            conn.execute(
                "INSERT INTO whatsapp_contacts(wa_id, closed_at) VALUES (?, ?) ON CONFLICT(wa_id) "
                "DO UPDATE SET closed_at = excluded.closed_at",
                (wa_id, _iso(at)),
            )

    def window_open(self, wa_id: str, now: datetime) -> bool:
        return whatsapp_window_open(self.db, wa_id, now)

    def offer(self, wa_id: str, buttons: tuple[Button, ...] | list[Button]) -> None:
        """Remember the options shown last, so a typed number or label answers them."""
        data = json.dumps([[b.label, b.data] for b in buttons], ensure_ascii=False)
        with self.db.transaction() as conn:
            conn.execute(
                "INSERT INTO whatsapp_contacts(wa_id, offered) VALUES (?, ?) ON CONFLICT(wa_id) "
                "DO UPDATE SET offered = excluded.offered",
                (wa_id, data),
            )

    def offered(self, wa_id: str) -> list[Button]:
        rows = self.db.query("SELECT offered FROM whatsapp_contacts WHERE wa_id = ?", (wa_id,))
        if not rows:
            return []
        try:
            return [Button(str(label), str(data)) for label, data in json.loads(str(rows[0][0]))]
        except (ValueError, TypeError):
            return []
