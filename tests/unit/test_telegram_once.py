"""The update log: each Telegram update id processed once, across a restart, with one write per second."""

from __future__ import annotations

import asyncio
from pathlib import Path

from aiogram.types import Update

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


def _update(update_id: int, text: str = "Хочу к лору") -> Update:
    return Update.model_validate(
        {
            "update_id": update_id,
            "message": {
                "message_id": update_id,
                "date": 1_700_000_000,
                "chat": {"id": 42, "type": "private"},
                "from": {"id": 42, "is_bot": False, "first_name": "Анна"},
                "text": text,
            },
        }
    )


def test_an_update_is_kept_until_finished_and_handed_back_after_a_crash(tmp_path: Path) -> None:
    db = Database(tmp_path / "state.sqlite3")
    now = [1000.0]
    log = UpdateLog(db, bot_id=1, clock=lambda: now[0])
    assert log.admit(_update(7)) and log.admit(_update(8, "на завтра")) and log.admit(_update(9))
    assert not log.admit(_update(8))  # a redelivery
    log.finished([9])
    log.save()
    db.close()  # the process dies here: 7 and 8 were received, not answered

    db = Database(tmp_path / "state.sqlite3")
    again = UpdateLog(db, bot_id=1, clock=lambda: now[0])
    pending = [Update.model_validate_json(p) for p in again.pending()]
    assert [(u.update_id, u.message.text if u.message else "") for u in pending] == [
        (7, "Хочу к лору"),
        (8, "на завтра"),
    ]
    assert not again.first_time(8) and not again.first_time(9)  # Telegram sending the last batch again
    again.finished([7, 8])
    again.save()
    assert again.pending() == []
    db.close()


def test_updates_left_for_longer_than_max_age_are_dropped(tmp_path: Path) -> None:
    db = Database(tmp_path / "state.sqlite3")
    now = [1000.0]
    log = UpdateLog(db, bot_id=1, clock=lambda: now[0], max_age=3600)
    log.admit(_update(5))
    log.save()
    now[0] += 3601
    assert UpdateLog(db, bot_id=1, clock=lambda: now[0], max_age=3600).pending() == []
    assert db.query("SELECT COUNT(*) FROM telegram_inbox") == [(0,)]
    db.close()


async def test_the_middleware_keeps_a_deferred_update_until_the_worker_finishes(tmp_path: Path) -> None:
    db = Database(tmp_path / "state.sqlite3")
    log = UpdateLog(db, bot_id=1)
    handed_over: list[int | None] = []

    async def handler(event: object, data: dict[str, object]) -> None:
        handed_over.append(log.defer())  # what TelegramChannel.put does

    async def quick(event: object, data: dict[str, object]) -> None:
        return None

    await log(handler, _update(11), {})
    await log(quick, _update(12), {})
    await asyncio.sleep(0)  # the end of the loop's turn: written
    assert handed_over == [11]
    assert [Update.model_validate_json(p).update_id for p in UpdateLog(db, bot_id=1).pending()] == [11]
    log.finished(handed_over)  # type: ignore[arg-type]
    await asyncio.sleep(0)
    assert db.query("SELECT update_id FROM telegram_inbox") == []
    assert await log(handler, _update(11), {}) is None and handed_over == [11]  # not handled twice
    db.close()
