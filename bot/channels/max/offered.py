"""The options each MAX patient was shown last (table `max_offered`), so a typed label or number presses
one in any later message or process; and which message carries the live keyboard, so a press on an older
one (or a second press on the same) is refused as stale, as in Telegram."""

from __future__ import annotations

import json
from collections.abc import Sequence

from bot.dialogue.messages import Button
from bot.storage.db import Database

__all__ = ["SPENT", "MaxOffered"]

SCHEMA = (
    "CREATE TABLE IF NOT EXISTS max_offered "
    "(user_id TEXT PRIMARY KEY, offered TEXT NOT NULL DEFAULT '[]', keyboard_mid TEXT)"
)
SPENT = "-"  # the live keyboard was pressed: none is live until the next one is sent


class MaxOffered:
    def __init__(self, db: Database) -> None:
        self.db = db
        with db.transaction() as conn:
            conn.execute(SCHEMA)

    def get(self, user_id: str) -> list[Button]:
        rows = self.db.query("SELECT offered FROM max_offered WHERE user_id = ?", (user_id,))
        if not rows:
            return []
        return [Button(str(label), str(data)) for label, data in json.loads(str(rows[0][0]))]

    def keyboard(self, user_id: str) -> str | None:
        """The mid of the message with the live keyboard, `SPENT`, or None when unknown (any press counts)."""
        rows = self.db.query("SELECT keyboard_mid FROM max_offered WHERE user_id = ?", (user_id,))
        return None if not rows or rows[0][0] is None else str(rows[0][0])

    def set_keyboard(self, user_id: str, mid: str) -> None:
        with self.db.transaction() as conn:
            conn.execute(
                "INSERT INTO max_offered(user_id, keyboard_mid) VALUES (?, ?) "
                "ON CONFLICT(user_id) DO UPDATE SET keyboard_mid = excluded.keyboard_mid",
                (user_id, mid),
            )

    def set(self, user_id: str, buttons: Sequence[Button]) -> None:
        plain = json.dumps([[b.label, b.data] for b in buttons], ensure_ascii=False)
        with self.db.transaction() as conn:
            conn.execute(
                "INSERT INTO max_offered(user_id, offered) VALUES (?, ?) "
                "ON CONFLICT(user_id) DO UPDATE SET offered = excluded.offered",
                (user_id, plain),
            )
