"""A patient with an unconfirmed row comes back — after the service restarted, or pressing /start — and
completes that same row: one request, one row, one ID."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.bootstrap import App, build_app
from bot.clock import FakeClock
from bot.config import Settings
from sheets.schema import Status
from tests.integration.test_scheduler import PATIENT, clinic_time, run_until, say, setup, up_to_window


async def record_unconfirmed(app: App, clock: FakeClock) -> str:
    clock.set(clinic_time(10))
    setup(app, clock)
    await up_to_window(app)
    await run_until(app, clock, clinic_time(12, 5))
    [row] = app.sinks["csv"].read_all()
    assert row.status == Status.UNCONFIRMED
    return row.id


async def test_after_a_service_restart_the_same_row_is_completed(
    settings: Settings, clock: FakeClock
) -> None:
    first = build_app(settings, clock=clock)
    try:
        lead_id = await record_unconfirmed(first, clock)
    finally:
        first.close()
    clock.set(clinic_time(15))
    second = build_app(settings, clock=clock)  # the process restarted: only DATA_DIR is left
    try:
        assert second.store.load(PATIENT).lead_id == lead_id
        await say(second, "после обеда")
        await say(second, "впервые")
        assert "Заявка принята" in await say(second, "да")
        [row] = second.sinks["csv"].read_all()
        assert (row.id, row.status, row.window) == (lead_id, Status.NEW, "после 14:00")
    finally:
        second.close()


@pytest.mark.parametrize("restart", ["/start", "давайте заново"])
async def test_starting_over_completes_the_same_row(app: App, clock: FakeClock, restart: str) -> None:
    lead_id = await record_unconfirmed(app, clock)
    clock.set(clinic_time(15))
    await say(app, restart)  # Telegram's «Начать» after reopening the chat says /start
    await say(app, "хочу к кардиологу")
    await say(app, "после обеда")
    summary = await say(app, "впервые")
    assert "Мария" in summary and "+7 912" in summary  # the name and phone were kept over the restart
    assert "Заявка принята" in await say(app, "да")
    [row] = app.sinks["csv"].read_all()
    assert (row.id, row.status) == (lead_id, Status.NEW)
    assert "ардиолог" in row.service
    assert [lead.id for lead in app.store.leads()] == [lead_id]
    # Nothing further is recorded for that request, and the next request gets a row of its own.
    await run_until(app, clock, clinic_time(19), step=timedelta(minutes=30))
    assert len(app.sinks["csv"].read_all()) == 1
    await say(app, "хочу к терапевту")
    await say(app, "до 14")
    await say(app, "повторно")
    assert "Заявка принята" in await say(app, "да")
    ids = [lead.id for lead in app.sinks["csv"].read_all()]
    assert len(ids) == 2 and ids[0] == lead_id and ids[1] != lead_id


async def test_starting_over_then_silent_refreshes_the_same_row(app: App, clock: FakeClock) -> None:
    lead_id = await record_unconfirmed(app, clock)
    clock.set(clinic_time(15))
    await say(app, "/start")
    await say(app, "хочу к кардиологу")
    await run_until(app, clock, clinic_time(18), step=timedelta(minutes=15))
    [row] = app.sinks["csv"].read_all()
    assert (row.id, row.status) == (lead_id, Status.UNCONFIRMED)
    assert "ардиолог" in row.service  # the refreshed request, not a second row
