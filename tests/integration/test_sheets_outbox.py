"""Leads through the durable outbox into the fake Google Sheet: quota, outage and restart, kill -9, admin status."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from bot.bootstrap import App, build_app
from bot.clock import FakeClock
from bot.config import Settings
from bot.dialogue.messages import Address, Incoming
from bot.notify import LogNotifier
from bot.storage.db import Database
from sheets.google import GoogleSheetsSink
from sheets.outbox import Outbox, OutboxFlusher
from sheets.schema import Lead, Status
from sheets.setup import init_sheet
from tests.fakes.sheets_api import FakeSheetsApi, write_credentials

ROOT = Path(__file__).resolve().parents[2]
SHEET = "clinic-sheet"
PATIENT = Address("telegram", "42", "@olga")


@pytest.fixture
def api() -> Iterator[FakeSheetsApi]:
    with FakeSheetsApi() as server:
        server.add_spreadsheet(SHEET, sheets=("Обращения", "Врачи"))
        yield server


@pytest.fixture
def sheet_settings(settings: Settings, api: FakeSheetsApi, tmp_path: Path) -> Settings:
    return settings.model_copy(
        update={
            "google_sheet_id": SHEET,
            "google_application_credentials": write_credentials(api, tmp_path),
            "google_sheets_api_url": api.base_url,
        }
    )


def sheet_ids(api: FakeSheetsApi) -> list[str]:
    return [row[0] for row in api.values(SHEET, "Обращения")[1:]]


async def book(app: App) -> Lead:
    for text in ("Здравствуйте, я Ольга, хочу к лору после обеда, впервые, 89123456789", "да", "да"):
        await app.service.handle(PATIENT, Incoming(text=text))
    [lead] = app.store.leads()
    return lead


async def run_until(app: App, condition: object, timeout: float = 5.0) -> None:
    """Run the flusher as `run` does until `condition()` holds."""
    task = asyncio.create_task(app.flusher.run_forever(interval=0.05))
    try:
        for _ in range(int(timeout / 0.02)):
            if condition():  # type: ignore[operator]
                return
            await asyncio.sleep(0.02)
        raise AssertionError("condition not reached")
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def test_booking_reaches_the_sheet_and_admin_status_follows(
    sheet_settings: Settings, api: FakeSheetsApi, clock: FakeClock
) -> None:
    app = build_app(sheet_settings, clock=clock)
    try:
        lead = await book(app)
        assert [x.id for x in app.sinks["csv"].read_all()] == [lead.id]  # the local view at once
        await app.flusher.flush()
        [row] = api.values(SHEET, "Обращения")[1:]
        assert row[:4] == [lead.id, lead.created, "Ольга", "+79123456789"]
        assert row[7:] == ["telegram", "@olga", row[9], "новая"]

        await app.service.set_status(lead.id, Status.BOOKED, "admin:Мария")
        await app.flusher.flush()
        assert api.values(SHEET, "Обращения")[1][10] == "записан"
        assert app.sinks["sheets"].read_all()[0].status == Status.BOOKED
    finally:
        app.close()


async def test_outage_during_booking_then_restart_writes_once(
    sheet_settings: Settings, api: FakeSheetsApi, clock: FakeClock
) -> None:
    app = build_app(sheet_settings, clock=clock)
    api.outage = True
    lead = await book(app)
    await app.flusher.flush()
    await app.flusher.flush()
    assert app.outbox.backlog() == {"sheets": {"pending": 1}}
    assert "503" in app.outbox.last_errors()[0]
    app.close()

    api.outage = False
    restarted = build_app(sheet_settings, clock=clock)  # `make run` after the outage
    try:
        await run_until(restarted, lambda: restarted.outbox.backlog() == {})
        assert sheet_ids(api) == [lead.id]
        assert [x.id for x in restarted.sinks["csv"].read_all()] == [lead.id]
    finally:
        restarted.close()


async def test_refused_sheet_parks_warns_admins_and_recovers(
    sheet_settings: Settings, api: FakeSheetsApi, clock: FakeClock
) -> None:
    notifier = LogNotifier()
    app = build_app(sheet_settings, clock=clock, notifier=notifier)
    api.deny = True
    lead = await book(app)
    await app.flusher.flush()
    assert app.outbox.backlog() == {"sheets": {"parked": 1}}
    [warning] = [t for t in notifier.sent if t.startswith("warning")]
    assert "clinic-bot@clinic-test.iam.gserviceaccount.com" in warning
    api.deny = False  # the sheet is shared at last; the service is restarted
    app.close()
    restarted = build_app(sheet_settings, clock=clock)
    try:
        await run_until(restarted, lambda: restarted.outbox.backlog() == {})
        assert sheet_ids(api) == [lead.id]
    finally:
        restarted.close()


def make_lead(n: int) -> Lead:
    return Lead(
        f"Q{n:07d}",
        "2026-11-23 10:00",
        "Анна",
        "+79123456789",
        "ЛОР",
        "любое",
        "первичное",
        "web",
        "s1",
        "=1+1",
    )


async def test_hundred_leads_under_five_writes_per_minute(api: FakeSheetsApi, tmp_path: Path) -> None:
    clock = FakeClock()
    credentials = write_credentials(api, tmp_path)
    sink = GoogleSheetsSink(SHEET, credentials, api_url=api.base_url, writes_per_minute=5)
    init_sheet(sink, [])
    api.write_quota, api.time_source = 5, lambda: clock.now().timestamp()
    appends_before = api.calls["append"]
    db = Database(tmp_path / "state.sqlite3")
    outbox = Outbox(db, ["sheets"])
    flusher = OutboxFlusher(outbox, {"sheets": sink}, clock)
    for n in range(100):
        with db.transaction() as conn:
            outbox.enqueue(conn, "append", make_lead(n), clock.now().isoformat())
        if n == 50:
            api.fail_next(1, 429)  # Google's own quota bites once anyway
        await flusher.flush()
        clock.advance(timedelta(seconds=3))
    for _ in range(60):
        if not outbox.backlog():
            break
        clock.advance(timedelta(seconds=10))
        await flusher.flush()
    db.close()
    ids = sheet_ids(api)
    assert sorted(ids) == [make_lead(n).id for n in range(100)]  # all written, none twice
    appends = api.calls["append"] - appends_before
    assert api.calls["quota_refused"] == 0  # the flusher kept the quota itself
    assert appends <= 5 * 7 and 100 / appends >= 3  # batched
    assert api.values(SHEET, "Обращения")[1][9] == "=1+1"


KILLER = """
import asyncio, os, signal, sys
from pathlib import Path
from bot.clock import SystemClock
from bot.storage.db import Database
from sheets.google import GoogleSheetsSink
from sheets.outbox import Outbox, OutboxFlusher

class DiesAfterAppend(GoogleSheetsSink):
    def append(self, leads):
        super().append(leads)
        os.kill(os.getpid(), signal.SIGKILL)  # after the API call, before the local mark

db = Database(Path(sys.argv[1]))
sink = DiesAfterAppend(sys.argv[2], Path(sys.argv[3]), api_url=sys.argv[4])
asyncio.run(OutboxFlusher(Outbox(db, ["sheets"]), {"sheets": sink}, SystemClock()).flush())
"""


async def test_kill_9_between_append_and_mark_writes_once(api: FakeSheetsApi, tmp_path: Path) -> None:
    credentials = write_credentials(api, tmp_path)
    db_path = tmp_path / "state.sqlite3"
    db = Database(db_path)
    outbox = Outbox(db, ["sheets"])
    with db.transaction() as conn:
        for n in range(3):
            outbox.enqueue(conn, "append", make_lead(n), "2026-11-23T07:00:00")
    script = tmp_path / "killer.py"
    script.write_text(KILLER, encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    result = subprocess.run(
        [sys.executable, str(script), str(db_path), SHEET, str(credentials), api.base_url],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == -signal.SIGKILL, result.stderr
    assert sheet_ids(api) == [make_lead(n).id for n in range(3)]
    assert outbox.backlog() == {"sheets": {"pending": 3}}  # the mark never happened

    sink = GoogleSheetsSink(SHEET, credentials, api_url=api.base_url)
    flusher = OutboxFlusher(outbox, {"sheets": sink}, FakeClock())
    assert await flusher.flush() == 3
    assert outbox.backlog() == {}
    assert sheet_ids(api) == [make_lead(n).id for n in range(3)]  # checked, not appended again
    assert api.calls["append"] == 1
    db.close()


async def test_lost_response_after_an_applied_append_is_not_a_duplicate(
    api: FakeSheetsApi, tmp_path: Path
) -> None:
    clock = FakeClock()
    sink = GoogleSheetsSink(SHEET, write_credentials(api, tmp_path), api_url=api.base_url)
    db = Database(tmp_path / "state.sqlite3")
    outbox = Outbox(db, ["sheets"])
    flusher = OutboxFlusher(outbox, {"sheets": sink}, clock)
    with db.transaction() as conn:
        for n in range(2):
            outbox.enqueue(conn, "append", make_lead(n), "")
    sink.append([])  # nothing; the header comes with the first real append
    api.lose_next_response(2)  # the header write and the append both "fail" after being applied
    delivered = 0
    for _ in range(5):
        delivered += await flusher.flush()
        clock.advance(timedelta(minutes=1))
    assert delivered == 2 and api.calls["append"] == 1  # the retry found both IDs and appended nothing
    assert sheet_ids(api) == [make_lead(0).id, make_lead(1).id]
    db.close()
