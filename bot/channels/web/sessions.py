"""Widget sessions: the secret token kept in the browser, its short id, and the transcript (table `web_messages`).

The token is the session's only credential (32 random bytes, kept in the page's localStorage); the short id
shown to administrators as `Контакт` is derived from it one way, so knowing the id never gives the token.
The transcript lets the widget show the conversation again after a reload, in another tab, or after an
administrator answered while the page was closed.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.dialogue.messages import Button, Outgoing
from bot.storage.db import Database

__all__ = ["Entry", "Transcript", "new_token", "session_id", "valid_token"]

TOKEN_RE = re.compile(r"[A-Za-z0-9_-]{32,64}")

SCHEMA = """
CREATE TABLE IF NOT EXISTS web_messages (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    session TEXT NOT NULL,
    sender TEXT NOT NULL,
    text TEXT NOT NULL,
    buttons TEXT NOT NULL DEFAULT '[]',
    at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS web_messages_session ON web_messages(session, seq);
"""


def new_token() -> str:
    return secrets.token_urlsafe(32)


def valid_token(value: object) -> bool:
    return isinstance(value, str) and TOKEN_RE.fullmatch(value) is not None


def session_id(token: str) -> str:
    """The short id of a session (8 characters, e.g. `W7KQ2M9X`): `Контакт` in the lead."""
    digest = hashlib.sha256(token.encode("ascii")).digest()
    return base64.b32encode(digest[:5]).decode("ascii")


@dataclass(frozen=True, slots=True)
class Entry:
    """One message of the transcript as the widget gets it."""

    seq: int
    sender: str  # "bot", "patient" or "admin"
    text: str
    buttons: tuple[Button, ...]
    at: str

    def to_json(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "from": "patient" if self.sender == "patient" else "bot",
            "author": self.sender,
            "text": self.text,
            "buttons": [{"label": b.label, "data": b.data} for b in self.buttons],
            "at": self.at,
        }


class Transcript:
    """Every message of every widget session, in order (`seq` grows across sessions)."""

    def __init__(self, db: Database) -> None:
        # The shared local record: its ordinary writes are WAL + synchronous=NORMAL, which a crash of the
        # service cannot lose; only transactions holding a lead pay for an fsync.
        self.db = db
        with db.transaction() as conn:
            for statement in SCHEMA.split(";"):
                if statement.strip():
                    conn.execute(statement)

    def add(self, session: str, sender: str, messages: list[Outgoing], at: datetime) -> list[Entry]:
        stamp = at.isoformat(timespec="seconds")
        entries: list[Entry] = []
        with self.db.transaction() as conn:
            for message in messages:
                buttons = [[b.label, b.data] for b in message.buttons]
                cursor = conn.execute(
                    "INSERT INTO web_messages (session, sender, text, buttons, at) VALUES (?, ?, ?, ?, ?)",
                    (session, sender, message.text, json.dumps(buttons, ensure_ascii=False), stamp),
                )
                seq = int(cursor.lastrowid or 0)
                entries.append(Entry(seq, sender, message.text, message.buttons, stamp))
        return entries

    def after(self, session: str, seq: int = 0, limit: int = 200) -> list[Entry]:
        """Messages of a session newer than `seq`, oldest first; the last `limit` of them."""
        rows = self.db.query(
            "SELECT seq, sender, text, buttons, at FROM web_messages WHERE session = ? AND seq > ? "
            "ORDER BY seq DESC LIMIT ?",
            (session, seq, limit),
        )
        return [_entry(row) for row in reversed(rows)]

    def offered(self, session: str) -> tuple[Button, ...]:
        """The buttons of the last message when it is the bot's (what the patient may press now)."""
        rows = self.db.query(
            "SELECT seq, sender, text, buttons, at FROM web_messages WHERE session = ? "
            "ORDER BY seq DESC LIMIT 1",
            (session,),
        )
        if not rows:
            return ()
        entry = _entry(rows[0])
        return entry.buttons if entry.sender != "patient" else ()


def _entry(row: tuple[object, ...]) -> Entry:
    seq, sender, text, buttons, at = row
    pairs = json.loads(str(buttons))
    return Entry(int(str(seq)), str(sender), str(text), tuple(Button(p[0], p[1]) for p in pairs), str(at))
