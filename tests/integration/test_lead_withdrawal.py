"""A patient withdraws consent: an unconfirmed row loses the personal data everywhere (CSV, the Google Sheet
through the outbox, the local record), once, even across a restart; a confirmed lead too; the
administrators are told."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from bot.bootstrap import App
from bot.clock import FakeClock
from bot.config import Settings
from bot.notify import LogNotifier
from sheets.schema import WITHDRAWN_COMMENT, Lead, Status
from tests.fakes.sheets_api import FakeSheetsApi
from tests.integration.lead_harness import SHEET, make_app
from tests.integration.test_scheduler import clinic_time, run_until, say, setup, up_to_window

WITHDRAW = "отзываю согласие на обработку данных"


def sheet_leads(sheets_api: FakeSheetsApi) -> list[Lead]:
    return [Lead.from_row([str(c) for c in row]) for row in sheets_api.values(SHEET, "Обращения")[1:]]


def alerts(app: App) -> list[str]:
    assert isinstance(app.notifier, LogNotifier)
    return app.notifier.sent


def local_text(app: App) -> str:
    """Everything the local record keeps about leads and conversations, as one text."""
    parts = [str(r[0]) for r in app.db.query("SELECT row FROM leads")]
    parts += [str(r[0]) for r in app.db.query("SELECT payload FROM outbox")]
    parts += [str(r[0]) for r in app.db.query("SELECT state FROM conversations")]
    return "\n".join(parts)


async def unconfirmed_row(app: App, clock: FakeClock) -> str:
    clock.set(clinic_time(10))
    setup(app, clock)
    await up_to_window(app)
    await run_until(app, clock, clinic_time(12, 5))
    await app.flusher.flush()
    [lead] = app.store.leads()
    assert lead.status == Status.UNCONFIRMED and lead.phone == "+79123456789"
    return lead.id


def assert_forgotten(lead: Lead, lead_id: str, status: str = Status.REFUSED) -> None:
    assert lead.id == lead_id
    assert (lead.name, lead.phone, lead.contact) == ("", "", "")
    assert (lead.comment, lead.status) == (WITHDRAWN_COMMENT, status)
    assert lead.service == "ЛОР" and lead.channel == "console"  # the request itself stays, anonymous


async def test_withdrawal_removes_the_personal_data_of_the_unconfirmed_row(
    both: App, clock: FakeClock, sheets_api: FakeSheetsApi
) -> None:
    lead_id = await unconfirmed_row(both, clock)
    clock.set(clinic_time(13))
    writes = sheets_api.writes()
    reply = await say(both, WITHDRAW)
    assert "согласие отозвано" in reply.lower()
    await both.flusher.flush()
    [csv_row] = both.sinks["csv"].read_all()
    [sheet_row] = sheet_leads(sheets_api)
    [local] = both.store.leads()
    for lead in (csv_row, sheet_row, local):
        assert_forgotten(lead, lead_id)
    assert sheets_api.writes() - writes == 1  # one rewrite of the row
    assert "79123456789" not in local_text(both) and "Мария" not in local_text(both)
    notices = [a for a in alerts(both) if "отозвал согласие" in a]
    assert len(notices) == 1 and lead_id in notices[0] and "79123456789" not in notices[0]
    # Said again: nothing more is written or told.
    outbox_items = both.db.query("SELECT COUNT(*) FROM outbox")[0][0]
    await say(both, WITHDRAW)
    await both.flusher.flush()
    assert both.db.query("SELECT COUNT(*) FROM outbox")[0][0] == outbox_items
    assert len([a for a in alerts(both) if "отозвал согласие" in a]) == 1
    assert sheets_api.writes() - writes == 1
    # No timer brings the row back.
    await run_until(both, clock, clinic_time(20), step=timedelta(minutes=30))
    [sheet_row] = sheet_leads(sheets_api)
    assert_forgotten(sheet_row, lead_id)


async def test_withdrawal_reaches_the_sheet_after_an_outage_and_a_restart(
    settings: Settings, clock: FakeClock, sheets_api: FakeSheetsApi, tmp_path: Path
) -> None:
    first = make_app(settings, clock, sheets_api, tmp_path)
    try:
        sheets_api.outage = True  # the sheet is down from the start: even the unconfirmed row waits
        clock.set(clinic_time(10))
        setup(first, clock)
        await up_to_window(first)
        await run_until(first, clock, clinic_time(12, 5))
        [lead] = first.store.leads()
        await say(first, WITHDRAW)
        await first.flusher.flush()
        assert first.outbox.backlog()["sheets"]["pending"] == 2  # the append, then the rewrite
        assert "79123456789" not in local_text(first)  # the waiting append no longer carries the phone
    finally:
        first.close()
    sheets_api.outage = False
    clock.advance(timedelta(minutes=30))
    second = make_app(settings, clock, sheets_api, tmp_path)
    try:
        second.outbox.retry_now("sheets")
        await second.flusher.flush()
        assert second.outbox.backlog() == {}
        [sheet_row] = sheet_leads(sheets_api)
        assert_forgotten(sheet_row, lead.id)
        values = "\n".join(",".join(map(str, row)) for row in sheets_api.values(SHEET, "Обращения"))
        assert "79123456789" not in values
    finally:
        second.close()


async def test_the_administrators_status_stays_but_the_personal_data_goes(
    both: App, clock: FakeClock, sheets_api: FakeSheetsApi
) -> None:
    lead_id = await unconfirmed_row(both, clock)
    await both.service.set_status(lead_id, Status.NOT_REACHED, "admin:7")
    clock.set(clinic_time(13))
    await say(both, WITHDRAW)
    await both.flusher.flush()
    for lead in (*both.sinks["csv"].read_all(), *sheet_leads(sheets_api), *both.store.leads()):
        assert_forgotten(lead, lead_id, status=Status.NOT_REACHED)


async def test_a_confirmed_lead_loses_the_personal_data_too_and_the_administrators_are_told(
    both: App, clock: FakeClock, sheets_api: FakeSheetsApi
) -> None:
    """Issue 17: «данные удалены» was said while the confirmed row kept the name and phone as «новая»."""
    clock.set(clinic_time(10))
    await say(both, "Я Ольга, хочу к лору после обеда, впервые, 89123456789")
    await say(both, "да")
    assert "Заявка принята" in await say(both, "да")
    await both.flusher.flush()
    [confirmed] = both.store.leads()
    assert confirmed.phone == "+79123456789"
    await say(both, WITHDRAW)
    await both.flusher.flush()
    for lead in (*both.sinks["csv"].read_all(), *sheet_leads(sheets_api), *both.store.leads()):
        assert_forgotten(lead, confirmed.id)
    assert "79123456789" not in local_text(both) and "Ольга" not in local_text(both)
    [notice] = [a for a in alerts(both) if "отозвал согласие" in a]
    assert confirmed.id in notice and "подтверждённой" in notice and "79123456789" not in notice


async def test_a_refusal_before_any_data_tells_nobody(both: App, clock: FakeClock) -> None:
    await say(both, "хочу к терапевту")
    await say(both, "нет, не согласен")
    await say(both, WITHDRAW)
    assert not [a for a in alerts(both) if "отозвал согласие" in a]
    assert both.store.leads() == []
