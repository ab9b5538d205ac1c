"""Writers of the local record take a kernel lock beside the file, so another process waits in the kernel."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

import pytest

from bot.storage.db import Database


def held_elsewhere(lock: Path) -> bool:
    """True when another open file description cannot take the lock now (as another process would see)."""
    fd = os.open(lock, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return False
    finally:
        os.close(fd)


def test_a_write_transaction_holds_the_writers_lock_and_releases_it(tmp_path: Path) -> None:
    db = Database(tmp_path / "state.sqlite3")
    lock = tmp_path / "state.sqlite3.lock"
    assert lock.exists() and not held_elsewhere(lock)
    with db.transaction() as conn:
        conn.execute("INSERT INTO seen_messages(id, at) VALUES ('a', 'now')")
        assert held_elsewhere(lock)
    assert not held_elsewhere(lock)
    with pytest.raises(RuntimeError), db.transaction():
        assert held_elsewhere(lock)
        raise RuntimeError("rolled back")
    assert not held_elsewhere(lock)  # released on a rollback too
    assert db.query("SELECT id FROM seen_messages") == [("a",)]
    db.close()


def test_two_databases_on_one_file_take_turns(tmp_path: Path) -> None:
    first, second = Database(tmp_path / "s.sqlite3"), Database(tmp_path / "s.sqlite3")
    with first.transaction() as conn:
        conn.execute("INSERT INTO seen_messages(id, at) VALUES ('1', 'now')")
        assert held_elsewhere(tmp_path / "s.sqlite3.lock")
    with second.transaction() as conn:
        conn.execute("INSERT INTO seen_messages(id, at) VALUES ('2', 'now')")
    assert first.query("SELECT id FROM seen_messages ORDER BY id") == [("1",), ("2",)]
    first.close()
    second.close()


def test_a_file_system_without_locks_still_writes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    db = Database(tmp_path / "state.sqlite3")

    def no_locks(fd: int, operation: int) -> None:
        raise OSError(37, "No locks available")

    monkeypatch.setattr(fcntl, "flock", no_locks)
    with db.transaction() as conn:
        conn.execute("INSERT INTO seen_messages(id, at) VALUES ('a', 'now')")
    with db.transaction() as conn:  # and on, without the kernel lock
        conn.execute("INSERT INTO seen_messages(id, at) VALUES ('b', 'now')")
    assert db.query("SELECT COUNT(*) FROM seen_messages") == [(2,)]
    db.close()
