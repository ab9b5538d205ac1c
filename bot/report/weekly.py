"""The weekly send: the owner's report to the admin chat every REPORT_WEEKDAY at REPORT_TIME, clinic time.

The slot last sent is kept in DATA_DIR, so a restart never sends twice; a service that was down at the
slot sends it when it comes back the same day.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, time, timedelta, tzinfo
from html import escape
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bot.bootstrap import App

__all__ = ["last_slot", "next_slot", "run_weekly_report", "telegram_sender"]

log = logging.getLogger(__name__)

Send = Callable[[str, bytes], Awaitable[None]]
STATE_FILE = "weekly_report_sent.txt"
CATCH_UP = timedelta(hours=12)


def _slot_time(value: str) -> time:
    hours, _, minutes = value.strip().partition(":")
    try:
        return time(int(hours), int(minutes or 0))
    except ValueError:
        log.warning("REPORT_TIME %r — не время вида ЧЧ:ММ; отчёт уйдёт в 09:00", value)
        return time(9, 0)


def last_slot(now: datetime, tz: tzinfo, weekday: int, at: str) -> datetime:
    """The latest slot at or before `now` (aware, in the clinic's zone)."""
    local = now.astimezone(tz)
    day = local.date() - timedelta(days=(local.weekday() - weekday) % 7)
    slot = datetime.combine(day, _slot_time(at), tzinfo=tz)
    return slot if slot <= local else slot - timedelta(days=7)


def next_slot(now: datetime, tz: tzinfo, weekday: int, at: str) -> datetime:
    return last_slot(now, tz, weekday, at) + timedelta(days=7)


def _read_sent(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8").strip()
    except OSError:
        return ""


async def run_weekly_report(app: App, send: Send, *, days: int = 7) -> None:
    """Forever: wait for the next slot, render the report (in a thread), send it, remember the slot."""
    from bot.report.build import render_report  # matplotlib is loaded only by the service that sends

    settings = app.settings
    state = settings.data_dir / STATE_FILE
    rendered: tuple[datetime, str, bytes] | None = None  # kept across retries: the same report, resumed
    while True:
        now = app.clock.now()
        due = last_slot(now, settings.tz, settings.report_weekday, settings.report_time)
        if _read_sent(state) != due.isoformat() and now - due <= CATCH_UP:
            try:
                if rendered is None or rendered[0] != due:
                    text, png = await asyncio.to_thread(render_report, app, days)
                    rendered = (due, text, png)
                _, text, png = rendered
                await send(text, png)
                state.write_text(due.isoformat(), encoding="utf-8")
                log.info("недельный отчёт за %s отправлен", due.date())
            except Exception:  # the next attempt comes with the next wake-up; the service goes on
                log.exception("недельный отчёт не отправлен; повтор через 10 минут")
                await asyncio.sleep(600)
                continue
        wait = next_slot(now, settings.tz, settings.report_weekday, settings.report_time) - now
        await asyncio.sleep(min(max(wait.total_seconds(), 1.0), 3600.0))


def telegram_sender(bot: Any, chat_id: int) -> Send:
    """Send through an aiogram Bot: the table as monospace text, then the picture."""
    from aiogram.types import BufferedInputFile

    delivered: set[str] = set()  # parts of the report being sent: a retry after a failure resumes after them

    async def send(text: str, png: bytes) -> None:
        for piece in _pieces(text):
            if piece not in delivered:
                await bot.send_message(chat_id, f"<pre>{escape(piece)}</pre>", parse_mode="HTML")
                delivered.add(piece)
        if png:
            photo = BufferedInputFile(png, filename="report-week.png")
            await bot.send_photo(chat_id, photo, caption="Отчёт за неделю")
        delivered.clear()

    return send


def _pieces(text: str, limit: int = 3500) -> list[str]:
    """Whole lines per message, under Telegram's 4,096 characters once escaped."""
    pieces: list[str] = []
    current = ""
    for line in text.splitlines(keepends=True):
        if current and len(current) + len(line) > limit:
            pieces.append(current)
            current = ""
        current += line[:limit]
    if current.strip():
        pieces.append(current)
    return pieces
