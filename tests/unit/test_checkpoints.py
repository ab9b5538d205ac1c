"""The WAL checkpoint leaves the commit path (where it stalled the event loop) for a background thread."""

from __future__ import annotations

import asyncio
from pathlib import Path

from bot.storage.checkpoints import keep_checkpointing
from bot.storage.db import Database


def _write(db: Database, rows: int) -> None:
    for i in range(rows):
        with db.transaction() as conn:
            conn.execute(
                "INSERT INTO seen_messages(id, at) VALUES (?, ?) ON CONFLICT(id) DO UPDATE SET at = excluded.at",
                (f"m{i}", "x" * 2000),
            )


def _wal_frames(db: Database) -> tuple[int, int]:
    """(frames in the WAL, frames already copied), without copying anything (a NOOP-like PASSIVE probe)."""
    rows = db.query("PRAGMA wal_checkpoint(PASSIVE)")
    return int(rows[0][1]), int(rows[0][2])  # type: ignore[call-overload]


def test_commits_no_longer_checkpoint_and_checkpoint_catches_up(tmp_path: Path) -> None:
    db = Database(tmp_path / "state.db")
    db.checkpoint_in_background()
    assert db.query("PRAGMA wal_autocheckpoint") == [(0,)]
    main_file = tmp_path / "state.db"
    before = main_file.stat().st_size
    _write(db, 1500)  # over SQLite's 1,000-page automatic threshold
    assert main_file.stat().st_size == before  # nothing was copied out of the WAL inside the commits
    assert db.checkpoint() == 0
    assert main_file.stat().st_size > before + 1500 * 2000  # the rows are in the database file now
    assert db.query("SELECT COUNT(*) FROM seen_messages") == [(1500,)]
    db.close()
    reopened = Database(tmp_path / "state.db")
    assert reopened.query("SELECT COUNT(*) FROM seen_messages") == [(1500,)]
    reopened.close()


async def test_the_background_job_checkpoints_only_after_commits(tmp_path: Path) -> None:
    db = Database(tmp_path / "state.db")
    job = asyncio.create_task(keep_checkpointing(db, every=0.02))
    try:
        await asyncio.sleep(0.05)
        _write(db, 300)
        frames, copied = _wal_frames(db)
        for _ in range(200):
            await asyncio.sleep(0.02)
            frames, copied = _wal_frames(db)
            if frames and frames == copied:
                break
        assert frames > 0 and copied == frames
    finally:
        job.cancel()
        await asyncio.gather(job, return_exceptions=True)
        db.close()
