"""The alert book: which conversation an alert in the admin chat is about, across processes."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from bot.channels.telegram.admin import AlertBook
from bot.storage.db import Database

ADMIN_CHAT = -100500


async def test_a_press_that_outruns_the_record_of_its_alert_still_finds_the_conversation(
    tmp_path: Path,
) -> None:
    # another process (a worker) has sent the alert and records it a moment later, in its own connection
    front, worker = AlertBook(Database(tmp_path / "state.db")), AlertBook(Database(tmp_path / "state.db"))

    async def record_later() -> None:
        await asyncio.sleep(0.3)
        worker.add(ADMIN_CHAT, 42, "telegram:5550003", "", "relay", "2026-11-23T10:00:00+04:00")

    recording = asyncio.create_task(record_later())
    assert front.conversation(ADMIN_CHAT, 42) is None
    assert await front.await_conversation(ADMIN_CHAT, 42) == "telegram:5550003"
    await recording


async def test_an_unknown_message_is_not_waited_on_without_patience(tmp_path: Path) -> None:
    book = AlertBook(Database(tmp_path / "state.db"))
    started = time.monotonic()
    assert await book.await_conversation(ADMIN_CHAT, 7, patience=0.0) is None
    assert time.monotonic() - started < 0.05
    started = time.monotonic()
    assert await book.await_conversation(ADMIN_CHAT, 7, patience=0.3) is None
    assert 0.25 <= time.monotonic() - started < 1.0
