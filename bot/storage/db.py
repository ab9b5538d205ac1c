"""The local record: one SQLite file in DATA_DIR (WAL), shared by the state store and the outbox."""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from bot.errors import StorageError

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None  # type: ignore[assignment]

SCHEMA = """
CREATE TABLE IF NOT EXISTS conversations (
    key TEXT PRIMARY KEY,
    channel TEXT NOT NULL,
    user_id TEXT NOT NULL,
    contact TEXT NOT NULL DEFAULT '',
    state TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    due_at TEXT NOT NULL DEFAULT '',
    revision INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS conversations_due ON conversations(due_at) WHERE due_at != '';
CREATE TABLE IF NOT EXISTS leads (
    id TEXT PRIMARY KEY,
    conversation TEXT NOT NULL,
    row TEXT NOT NULL,
    status TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS leads_conversation ON leads(conversation);
CREATE TABLE IF NOT EXISTS status_changes (
    lead_id TEXT NOT NULL,
    status TEXT NOT NULL,
    by TEXT NOT NULL DEFAULT '',
    at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS outbox (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    sink TEXT NOT NULL,
    op TEXT NOT NULL,
    lead_id TEXT NOT NULL,
    payload TEXT NOT NULL,
    state TEXT NOT NULL DEFAULT 'pending',
    attempts INTEGER NOT NULL DEFAULT 0,
    next_at TEXT NOT NULL DEFAULT '',
    error TEXT NOT NULL DEFAULT '',
    created_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS outbox_pending ON outbox(sink, state, seq);
CREATE TABLE IF NOT EXISTS seen_messages (
    id TEXT PRIMARY KEY,
    at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS answered_messages (
    receipt TEXT PRIMARY KEY,
    conversation TEXT NOT NULL,
    turn TEXT NOT NULL,
    replies TEXT NOT NULL,
    at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS answered_messages_at ON answered_messages(at);
"""

# Columns added since a table was first created: (table, column, declaration), added to older files on open.
COLUMNS = (("conversations", "revision", "INTEGER NOT NULL DEFAULT 0"),)


def _missing_columns(conn: sqlite3.Connection) -> list[tuple[str, str, str]]:
    missing = []
    for table, column, declaration in COLUMNS:
        have = {str(row[1]) for row in conn.execute(f"PRAGMA table_info({table})")}
        if column not in have:
            missing.append((table, column, declaration))
    return missing


def _migrate(conn: sqlite3.Connection) -> None:
    """Add the columns an older file lacks; under the write lock, as another process may be doing the same."""
    if not _missing_columns(conn):
        return
    conn.execute("BEGIN IMMEDIATE")
    try:
        for table, column, declaration in _missing_columns(conn):  # again: the lock is held now
            conn.execute(f"ALTER TABLE {table} ADD COLUMN {column} {declaration}")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


class WritersLock:
    """One writer at a time across the processes sharing the file (Telegram workers), waited for in the kernel.

    SQLite alone would make the second writer sleep and poll (1, 2, 5, 10… ms) while it blocks the event
    loop; an advisory `flock` wakes it the moment the other commit ends (tens of microseconds). Not held
    around anything that awaits. Where `fcntl` does not exist (Windows) SQLite's own lock is all there is.
    """

    def __init__(self, path: Path) -> None:
        self._fd: int | None = None
        if fcntl is not None:
            try:
                self._fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
            except OSError:  # a read-only folder is reported by the write itself
                self._fd = None

    def __enter__(self) -> None:
        if self._fd is not None and fcntl is not None:
            try:
                fcntl.flock(self._fd, fcntl.LOCK_EX)
            except OSError:  # a file system without locks (some network mounts): SQLite's lock still holds
                self.close()

    def __exit__(self, *exc: object) -> None:
        if self._fd is not None and fcntl is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


class Database:
    """A connection used from the event loop thread; `transaction()` groups writes atomically."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self.conn = sqlite3.connect(path, timeout=30, isolation_level=None, check_same_thread=False)
            self.conn.execute("PRAGMA journal_mode=WAL")
            # WAL with NORMAL survives kill -9; transactions holding a lead ask for FULL (power loss too).
            self.conn.execute("PRAGMA synchronous=NORMAL")
            self.conn.execute("PRAGMA busy_timeout=30000")
            self.conn.executescript(SCHEMA)
            _migrate(self.conn)
        except (sqlite3.Error, OSError) as exc:
            raise StorageError(
                f"cannot open the local record {path}: {exc}; check that DATA_DIR exists, is writable "
                "and the disk is not full"
            ) from exc
        self._lock = threading.RLock()
        self._writers = WritersLock(path.with_name(path.name + ".lock"))
        self.commits = 0  # counts transactions, so the checkpointer knows when there is work
        self._checkpointer: sqlite3.Connection | None = None

    @contextmanager
    def transaction(self, *, durable: bool = False) -> Iterator[sqlite3.Connection]:
        """One atomic write; `durable` syncs it to disk before returning (a confirmed lead)."""
        with self._lock, self._writers:
            try:
                if durable:
                    self.conn.execute("PRAGMA synchronous=FULL")
                self.conn.execute("BEGIN IMMEDIATE")
                try:
                    yield self.conn
                except BaseException:
                    self.conn.execute("ROLLBACK")
                    raise
                self.conn.execute("COMMIT")
                self.commits += 1
            except sqlite3.OperationalError as exc:
                raise StorageError(f"cannot write the local record {self.path}: {exc}") from exc
            finally:
                if durable:
                    self.conn.execute("PRAGMA synchronous=NORMAL")

    def query(self, sql: str, params: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
        with self._lock:
            return list(self.conn.execute(sql, params).fetchall())

    # --- checkpoints ---------------------------------------------------------------------------------

    def checkpoint_in_background(self) -> None:
        """Stop SQLite from checkpointing inside a commit; `checkpoint()` is then called from a thread.

        A checkpoint copies the WAL into the database file and syncs it: up to a few hundred ms on a slow
        disk. Left to SQLite it runs inside whichever commit crossed 1,000 pages, on the event loop, and
        stalls every conversation; `run` moves it to a worker thread (`keep_checkpointing`).
        """
        with self._lock:
            self.conn.execute("PRAGMA wal_autocheckpoint=0")

    def checkpoint(self, mode: str = "PASSIVE") -> int:
        """A PASSIVE checkpoint on a connection of its own (writers are never blocked); thread-safe.
        `TRUNCATE` (the daily retention pass) also waits for readers and empties the WAL file.

        Returns how many WAL frames are still not in the database file (0 when it caught up)."""
        if mode not in {"PASSIVE", "TRUNCATE"}:
            raise ValueError(f"unknown checkpoint mode {mode!r}")
        if self._checkpointer is None:
            self._checkpointer = sqlite3.connect(
                self.path, timeout=30, isolation_level=None, check_same_thread=False
            )
            self._checkpointer.execute("PRAGMA synchronous=NORMAL")
        if mode == "TRUNCATE":  # it holds new writers back while it waits: a second at most, else skipped
            self._checkpointer.execute("PRAGMA busy_timeout=1000")
        try:
            _busy, frames, copied = self._checkpointer.execute(f"PRAGMA wal_checkpoint({mode})").fetchone()
        finally:
            if mode == "TRUNCATE":
                self._checkpointer.execute("PRAGMA busy_timeout=30000")
        return max(0, int(frames) - int(copied))

    def close(self) -> None:
        with self._lock:
            if self._checkpointer is not None:
                self._checkpointer.close()
                self._checkpointer = None
            self.conn.close()
            self._writers.close()
