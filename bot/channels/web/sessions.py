"""Widget sessions: the secret token kept in the browser, the sessions this server issued (table
`web_sessions`), and the transcript (table `web_messages`).

The token is the session's only credential (32 random bytes, kept in the page's localStorage). The local
record never holds it: a session is keyed on the token's full SHA-256 (`session_key`), and only a token whose
key this server issued opens a session. The short label administrators see as `Контакт` is derived one way
from that key; it names the conversation and opens nothing. The transcript lets the widget show the
conversation again after a reload, in another tab, or after an administrator answered while the page was
closed.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.dialogue.messages import Button, Outgoing
from bot.storage.db import Database

__all__ = [
    "Entry",
    "Sessions",
    "Transcript",
    "new_token",
    "session_key",
    "session_label",
    "valid_token",
]

TOKEN_RE = re.compile(r"[A-Za-z0-9_-]{32,64}")
KEY_LENGTH = 64  # hex digits of a SHA-256

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
CREATE TABLE IF NOT EXISTS web_sessions (
    key TEXT PRIMARY KEY,
    created_at TEXT NOT NULL
);
"""


def new_token() -> str:
    return secrets.token_urlsafe(32)


def valid_token(value: object) -> bool:
    return isinstance(value, str) and TOKEN_RE.fullmatch(value) is not None


def session_key(token: str) -> str:
    """The key of a session in the local record: the token's full SHA-256, in hex (64 characters)."""
    return hashlib.sha256(token.encode("ascii")).hexdigest()


def session_label(key: str) -> str:
    """A short label of the session (8 characters, e.g. `W7KQ2M9X`): `Контакт` in the lead. Derived one
    way from the key under its own prefix, so it is neither the key nor a part of it, and opens nothing."""
    digest = hashlib.sha256(b"label:" + key.encode("ascii")).digest()
    return base64.b32encode(digest[:5]).decode("ascii")


def _create(db: Database) -> None:
    """The tables, once; the first time `web_sessions` appears, the transcripts of the old 8-character
    session ids are dropped: those ids were guessable, and no token can reach them any more."""
    with db.transaction() as conn:
        upgrading = not conn.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'web_sessions'"
        ).fetchone()
        had_transcripts = conn.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'web_messages'"
        ).fetchone()
        for statement in SCHEMA.split(";"):
            if statement.strip():
                conn.execute(statement)
        if upgrading and had_transcripts:
            conn.execute("DELETE FROM web_messages WHERE length(session) != ?", (KEY_LENGTH,))


class Sessions:
    """The sessions this server issued, by key; a token it never issued opens nothing."""

    def __init__(self, db: Database) -> None:
        self.db = db
        _create(db)

    def issue(self, at: datetime) -> tuple[str, str]:
        """A new session: its token (for the browser only) and its key."""
        token = new_token()
        return token, self.register(token, at)

    def register(self, token: str, at: datetime) -> str:
        key = session_key(token)
        with self.db.transaction() as conn:
            conn.execute(
                "INSERT OR IGNORE INTO web_sessions (key, created_at) VALUES (?, ?)",
                (key, at.isoformat(timespec="seconds")),
            )
        return key

    def find(self, token: object) -> str | None:
        """The key of the session `token` opens, or None (malformed, or never issued here)."""
        if not valid_token(token):
            return None
        assert isinstance(token, str)
        key = session_key(token)
        rows = self.db.query("SELECT key FROM web_sessions WHERE key = ?", (key,))
        # The lookup is by a hash of the token, so its timing says nothing about the token; the final
        # comparison is constant-time all the same.
        if rows and hmac.compare_digest(str(rows[0][0]), key):
            return key
        return None

    def count(self) -> int:
        return int(str(self.db.query("SELECT COUNT(*) FROM web_sessions")[0][0]))


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
        _create(db)

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
