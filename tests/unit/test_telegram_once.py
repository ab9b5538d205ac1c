"""The update log: each Telegram update id processed once, across a restart, with one write per second."""

from __future__ import annotations

from pathlib import Path

from bot.channels.telegram.once import UpdateLog
from bot.storage.db import Database


def test_redeliveries_are_skipped_across_a_restart(tmp_path: Path) -> None:
    db = Database(tmp_path / "state.sqlite3")
    log = UpdateLog(db, bot_id=1)
    assert log.first_time(100) and log.first_time(102) and log.first_time(101)  # out of order is fine
    assert not log.first_time(102)
    log.save()
    db.close()
    db = Database(tmp_path / "state.sqlite3")
    again = UpdateLog(db, bot_id=1)
    assert not again.first_time(100) and not again.first_time(102)  # the last polled batch, sent again
    assert again.first_time(103)
    assert UpdateLog(db, bot_id=2).first_time(100)  # another bot's ids are its own
    db.close()
