"""The bot rewriting its own row (an unconfirmed lead completed) on the whole application, CSV and the fake
Google Sheet: the administrators' status stays, wherever they set it."""

from __future__ import annotations

from bot.bootstrap import App
from bot.clock import FakeClock
from bot.notify import LogNotifier
from sheets.google import GoogleSheetsSink
from sheets.schema import Status
from tests.fakes.sheets_api import FakeSheetsApi
from tests.integration.lead_harness import SHEET, sheet_rows
from tests.integration.test_scheduler import PATIENT, clinic_time, run_until, say, setup, up_to_window


async def unconfirmed_row(app: App, clock: FakeClock) -> str:
    """The patient left a phone and went silent: the bot records «не подтверждена»; returns the ID."""
    clock.set(clinic_time(10))
    setup(app, clock)
    await up_to_window(app)
    await run_until(app, clock, clinic_time(12, 5))
    await app.flusher.flush()
    [lead] = app.store.leads()
    assert lead.status == Status.UNCONFIRMED
    return lead.id


async def patient_confirms(app: App, clock: FakeClock) -> None:
    clock.set(clinic_time(15, 0))
    await say(app, "после обеда")
    await say(app, "впервые")
    assert "Заявка принята" in await say(app, "да")
    await app.flusher.flush()


async def test_status_set_with_the_alerts_buttons_survives_the_confirmation(
    both: App, clock: FakeClock, sheets_api: FakeSheetsApi
) -> None:
    lead_id = await unconfirmed_row(both, clock)
    await both.service.set_status(lead_id, Status.IN_WORK, "admin:7")
    await both.flusher.flush()
    await patient_confirms(both, clock)
    [csv_row] = both.sinks["csv"].read_all()
    assert (csv_row.id, csv_row.window, csv_row.status) == (lead_id, "после 14:00", Status.IN_WORK)
    [row] = sheet_rows(sheets_api)
    assert (row[0], row[5], row[10]) == (lead_id, "после 14:00", Status.IN_WORK)
    [local] = both.store.leads()
    assert (local.window, local.status) == ("после 14:00", Status.IN_WORK)
    changes = both.db.query(
        "SELECT status, by FROM status_changes WHERE lead_id = ? ORDER BY rowid", (lead_id,)
    )
    assert [tuple(c) for c in changes] == [(Status.UNCONFIRMED, "bot"), (Status.IN_WORK, "admin:7")]


async def test_status_typed_into_the_sheet_survives_the_confirmation(
    both: App, clock: FakeClock, sheets_api: FakeSheetsApi
) -> None:
    lead_id = await unconfirmed_row(both, clock)
    sheet = both.sinks["sheets"]
    assert isinstance(sheet, GoogleSheetsSink)
    sheet.call(  # an administrator called the patient and picked «записан» in the sheet's dropdown
        lambda http: http.values_update(
            SHEET, "'Обращения'!K2", {"valueInputOption": "USER_ENTERED"}, {"values": [[Status.BOOKED]]}
        )
    )
    await patient_confirms(both, clock)
    [row] = sheet_rows(sheets_api)
    assert (row[0], row[5], row[6], row[10]) == (lead_id, "после 14:00", "первичное", Status.BOOKED)
    # The bot never knew of «записан»: the CSV and the local record have its own status.
    assert [lead.status for lead in both.sinks["csv"].read_all()] == [Status.NEW]


async def test_without_an_administrators_status_the_row_becomes_new(
    both: App, clock: FakeClock, sheets_api: FakeSheetsApi
) -> None:
    lead_id = await unconfirmed_row(both, clock)
    await patient_confirms(both, clock)
    assert [(r[0], r[10]) for r in sheet_rows(sheets_api)] == [(lead_id, Status.NEW)]
    assert [(x.id, x.status) for x in both.sinks["csv"].read_all()] == [(lead_id, Status.NEW)]
    assert PATIENT.key in {str(r[0]) for r in both.db.query("SELECT conversation FROM leads")}


async def confirmed_lead(app: App, clock: FakeClock) -> str:
    clock.set(clinic_time(10))
    setup(app, clock)
    await say(app, "Я Ольга, хочу к лору после обеда, впервые, 89123456789")
    await say(app, "да")
    assert "Заявка принята" in await say(app, "да")
    await app.flusher.flush()
    [lead] = app.store.leads()
    return lead.id


async def test_a_phone_corrected_after_the_confirmation_rewrites_the_row_everywhere(
    both: App, clock: FakeClock, sheets_api: FakeSheetsApi
) -> None:
    """Issue 17: «Поменяла телефон» was said while the row kept the old number and a second lead appeared."""
    lead_id = await confirmed_lead(both, clock)
    await both.service.set_status(lead_id, Status.IN_WORK, "admin:7")
    reply = await say(both, "ой, в номере ошиблась, верный 8 927 765-43-21")
    assert "Исправила" in reply
    await both.flusher.flush()
    [row] = sheet_rows(sheets_api)
    assert (row[0], row[3], row[10]) == (lead_id, "+79277654321", Status.IN_WORK)
    assert "исправлено пациентом после подтверждения: телефон" in row[9]
    [csv_row] = both.sinks["csv"].read_all()
    assert (csv_row.id, csv_row.phone) == (lead_id, "+79277654321")
    [local] = both.store.leads()
    assert (local.phone, local.status) == ("+79277654321", Status.IN_WORK)
    assert isinstance(both.notifier, LogNotifier)  # the administrators see the row again, corrected
    assert [a for a in both.notifier.sent if a.startswith(f"lead {lead_id}")][-1].count("+79277654321") == 1


async def test_a_handoff_at_the_summary_writes_the_row_unconfirmed(
    both: App, clock: FakeClock, sheets_api: FakeSheetsApi
) -> None:
    clock.set(clinic_time(10))
    setup(both, clock)
    await say(both, "Я Ольга, хочу к лору после обеда, впервые, 89123456789")
    assert "Проверьте" in await say(both, "да")
    assert "Передаю" in await say(both, "а можно сначала с живым администратором?")
    await both.flusher.flush()
    [row] = sheet_rows(sheets_api)
    assert (row[2], row[3], row[4], row[10]) == ("Ольга", "+79123456789", "ЛОР", Status.UNCONFIRMED)
    assert [lead.id for lead in both.sinks["csv"].read_all()] == [row[0]]
