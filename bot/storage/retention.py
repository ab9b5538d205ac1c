"""How long the local record keeps what is not the clinic's record (152-FZ: no longer than needed).

Leads (and their status history) stay: they are the clinic's record of requests. Conversations (their state
holds the recent messages and the booking in progress) and their transcripts go `RETENTION_CONVERSATIONS`
after their last message, with what points to them: the widget's transcript, the map of admin-chat alerts
to the conversation, the WhatsApp contact's 24-hour window, the replies kept for replays. Technical receipts
go `RETENTION_RECEIPTS` after they were written: outbox rows already delivered, answered receipts, finished
WhatsApp inbox rows, the ids of messages seen. A conversation with a timer still due, an outbox row or an
admin alert not yet delivered, an active handoff, an unfinished inbox message or a transcript line newer than
the cutoff is kept whatever its age. A pass deletes in small transactions, so patients' commits go between
them, then truncates the WAL; `keep_pruning` runs it daily in `run`. Only counts are logged.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sqlite3
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from bot.errors import StorageError
from bot.storage.db import Database

if TYPE_CHECKING:
    from bot.bootstrap import App

__all__ = ["Pruned", "keep_pruning", "prune"]

log = logging.getLogger(__name__)

BATCH = 200  # rows per transaction: a patient's commit waits for one batch at most (tens of ms)
# Between two batches the pass (in a worker thread) lets go for a moment: Python's lock is not fair, and
# without it the thread would take the database again before a waiting patient's commit wakes up.
BREATHE = 0.005
FIRST_PASS_AFTER = 60.0  # seconds after start: the service answers first, then tidies up
EVERY = 24 * 3600.0


@dataclass(slots=True)
class Pruned:
    """What one pass deleted, per kind of row."""

    conversations: int = 0
    transcripts: int = 0  # widget transcript lines, admin-chat alert maps, WhatsApp windows, kept replies
    receipts: int = 0  # delivered outbox rows, answered receipts, finished inbox rows, seen message ids

    @property
    def total(self) -> int:
        return self.conversations + self.transcripts + self.receipts


def _tables(conn: sqlite3.Connection) -> set[str]:
    return {str(row[0]) for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}


def _stamp(moment: datetime) -> str:
    """A cutoff for SQLite's julianday(), which reads every ISO form the tables use (with their offsets)."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds")


def _kept_clauses(tables: set[str]) -> list[str]:
    """Conversations that must stay whatever their age. The uncorrelated subqueries run once per batch
    (their tables are small: what is pending); none may yield NULL, or NOT IN would keep everything."""
    clauses = [
        "c.due_at = ''",  # a reminder or an unconfirmed record still to come
        "coalesce(json_extract(c.state, '$.stage'), '') != 'handoff'",
        "c.key NOT IN (SELECT l.conversation FROM outbox o JOIN leads l ON l.id = o.lead_id "
        "WHERE o.state != 'done')",
    ]
    if "admin_alerts" in tables:
        clauses.append(
            "c.key NOT IN (SELECT json_extract(body, '$.conversation') FROM admin_alerts "
            "WHERE json_extract(body, '$.conversation') IS NOT NULL)"
        )
    if "whatsapp_inbox" in tables:
        clauses.append(
            "c.key NOT IN (SELECT 'whatsapp:' || wa_id FROM whatsapp_inbox WHERE state = 'pending')"
        )
    if "max_inbox" in tables:
        clauses.append("c.key NOT IN (SELECT 'max:' || user_id FROM max_inbox WHERE state = 'pending')")
    if "web_messages" in tables:  # correlated: the session's own lines, through its index
        clauses.append(
            "NOT (c.channel = 'web' AND EXISTS (SELECT 1 FROM web_messages m WHERE m.session = c.user_id "
            "AND julianday(m.at) >= julianday(:cutoff)))"
        )
    return clauses


def _delete_conversations(
    conn: sqlite3.Connection, tables: set[str], cutoff: str, candidates: list[str]
) -> tuple[int, int]:
    """Of these candidates, delete the conversations still old and not pending (checked again under the
    write lock: a patient may have written since) and what points to them; (conversations, other rows)."""
    where = " AND ".join(
        [
            "c.key IN (SELECT value FROM json_each(:keys))",
            "julianday(c.updated_at) < julianday(:cutoff)",
            *_kept_clauses(tables),
        ]
    )
    rows = conn.execute(
        f"SELECT c.key, c.channel, c.user_id FROM conversations c WHERE {where}",
        {"cutoff": cutoff, "keys": json.dumps(candidates)},
    ).fetchall()
    if not rows:
        return 0, 0
    keys = [(str(key),) for key, _, _ in rows]
    conn.executemany("DELETE FROM conversations WHERE key = ?", keys)
    # Their answered receipts (replies kept for a replay) are receipts: gone within days (see StateStore).
    other = 0
    by_channel = {
        "web": ("web_messages", "session"),
        "whatsapp": ("whatsapp_contacts", "wa_id"),
        "max": ("max_offered", "user_id"),
    }
    for channel, (table, column) in by_channel.items():
        users = [(str(user),) for _, ch, user in rows if ch == channel]
        if users and table in tables:
            other += conn.executemany(f"DELETE FROM {table} WHERE {column} = ?", users).rowcount
    if "telegram_alerts" in tables:
        other += conn.executemany("DELETE FROM telegram_alerts WHERE conversation = ?", keys).rowcount
    return len(rows), other


def _read(db: Database, sql: str, cutoff: str) -> list[tuple[object, ...]]:
    """A long read on a connection of its own: under WAL it blocks no one, and the shared connection (and
    with it the event loop) is not held while the whole table is scanned."""
    conn = sqlite3.connect(f"file:{db.path}?mode=ro", uri=True, timeout=30)
    try:
        return list(conn.execute(sql, (cutoff,)).fetchall())
    finally:
        conn.close()


def _delete_old_conversations(db: Database, tables: set[str], cutoff: str) -> tuple[int, int]:
    """The candidates read once (a read: patients' commits go on), then deleted a batch per transaction."""
    candidates = [
        str(row[0])
        for row in _read(
            db, "SELECT key FROM conversations WHERE julianday(updated_at) < julianday(?)", cutoff
        )
    ]
    gone = other = 0
    for first in range(0, len(candidates), BATCH):
        with db.transaction() as conn:
            batch = _delete_conversations(conn, tables, cutoff, candidates[first : first + BATCH])
        gone, other = gone + batch[0], other + batch[1]
        time.sleep(BREATHE)
    return gone, other


def _delete_orphan_transcripts(db: Database, cutoff: str) -> int:
    """Widget sessions whose conversation is gone (or was never saved) and whose last line is old."""
    sessions = [
        str(row[0])
        for row in _read(
            db,
            "SELECT session FROM web_messages GROUP BY session HAVING max(julianday(at)) < julianday(?)",
            cutoff,
        )
    ]
    deleted = 0
    for first in range(0, len(sessions), BATCH):
        with db.transaction() as conn:
            deleted += conn.execute(
                "DELETE FROM web_messages WHERE session IN (SELECT value FROM json_each(:sessions)) "
                "AND NOT EXISTS (SELECT 1 FROM conversations WHERE key = 'web:' || web_messages.session) "
                "AND NOT EXISTS (SELECT 1 FROM web_messages m WHERE m.session = web_messages.session "
                "AND julianday(m.at) >= julianday(:cutoff))",
                {"sessions": json.dumps(sessions[first : first + BATCH]), "cutoff": cutoff},
            ).rowcount
        time.sleep(BREATHE)
    return deleted


# What points to a conversation already gone: older than the cutoff (a PK lookup per row).
_ORPHANS = {
    "telegram_alerts": "julianday(at) < julianday(:cutoff) "
    "AND NOT EXISTS (SELECT 1 FROM conversations c WHERE c.key = telegram_alerts.conversation)",
    "whatsapp_contacts": "julianday(last_inbound_at) < julianday(:cutoff) "
    "AND NOT EXISTS (SELECT 1 FROM conversations c WHERE c.key = 'whatsapp:' || whatsapp_contacts.wa_id)",
    # A widget session whose conversation and transcript are gone: its token must not open it again.
    "web_sessions": "julianday(created_at) < julianday(:cutoff) "
    "AND NOT EXISTS (SELECT 1 FROM conversations c WHERE c.key = 'web:' || web_sessions.key) "
    "AND NOT EXISTS (SELECT 1 FROM web_messages m WHERE m.session = web_sessions.key)",
}
# Receipts: technical rows whose purpose (a retry, a replay, a redelivery) is long over.
_RECEIPTS = {
    "outbox": "state = 'done' AND julianday(created_at) < julianday(:cutoff)",
    "answered_messages": "julianday(at) < julianday(:cutoff)",
    "seen_messages": "julianday(at) < julianday(:cutoff)",
    "whatsapp_inbox": "state != 'pending' AND julianday(finished_at) < julianday(:cutoff)",
    "max_inbox": "state != 'pending' AND julianday(finished_at) < julianday(:cutoff)",
}


def _delete_where(db: Database, table: str, condition: str, cutoff: str) -> int:
    """Delete the matching rows of `table` in batches (oldest rows come first in rowid order); how many."""
    deleted = 0
    while True:
        with db.transaction() as conn:
            cur = conn.execute(
                f"DELETE FROM {table} WHERE rowid IN (SELECT rowid FROM {table} WHERE {condition} LIMIT :limit)",
                {"cutoff": cutoff, "limit": BATCH},
            )
        deleted += cur.rowcount
        if cur.rowcount < BATCH:
            return deleted
        time.sleep(BREATHE)


def prune(db: Database, now: datetime, *, conversations: timedelta, receipts: timedelta) -> Pruned:
    """One pass: delete what is older than its retention (a zero retention keeps everything of its kind)."""
    result = Pruned()
    with db.transaction() as conn:
        tables = _tables(conn)
    # Receipts first: the delivered outbox rows gone, the check of pending ones below reads a small table.
    if receipts > timedelta(0):
        cutoff = _stamp(now - receipts)
        for table, condition in _RECEIPTS.items():
            if table in tables:
                result.receipts += _delete_where(db, table, condition, cutoff)
    if conversations > timedelta(0):
        cutoff = _stamp(now - conversations)
        result.conversations, result.transcripts = _delete_old_conversations(db, tables, cutoff)
        if "web_messages" in tables:
            result.transcripts += _delete_orphan_transcripts(db, cutoff)
        for table, condition in _ORPHANS.items():
            if table in tables:
                result.transcripts += _delete_where(db, table, condition, cutoff)
    return result


async def prune_and_truncate(app: App) -> Pruned:
    """A pass of `prune` in a worker thread, then the WAL truncated; the counts logged."""
    settings = app.settings
    result = await asyncio.to_thread(
        prune,
        app.db,
        app.clock.now(),
        conversations=settings.retention_conversations,
        receipts=settings.retention_receipts,
    )
    await asyncio.to_thread(app.db.checkpoint, "TRUNCATE")
    log.info(
        "очистка (диалоги хранятся %s, квитанции %s): удалено диалогов: %d, связанных строк: %d, "
        "квитанций: %d; заявки сохранены; журнал WAL сокращён",
        _kept(settings.retention_conversations),
        _kept(settings.retention_receipts),
        result.conversations,
        result.transcripts,
        result.receipts,
    )
    return result


def _kept(keep: timedelta) -> str:
    return "всегда" if keep <= timedelta(0) else f"{keep.total_seconds() / 86400:g} дн."


async def keep_pruning(app: App, *, first: float = FIRST_PASS_AFTER, every: float = EVERY) -> None:
    """The retention task of `run`: a pass shortly after start, then one a day; runs until cancelled."""
    await asyncio.sleep(first)
    while True:
        try:
            await prune_and_truncate(app)
        except (StorageError, sqlite3.Error) as exc:  # the next day tries again; nothing is lost by waiting
            log.warning("сбой очистки старых данных: %s", exc)
        await asyncio.sleep(every)
