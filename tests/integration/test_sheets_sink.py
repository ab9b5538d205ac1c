"""The Google Sheets sink and init-sheet against the fake Sheets API, through real gspread + google-auth."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.errors import SinkError
from bot.knowledge.models import Doctor
from sheets.google import GoogleSheetsSink
from sheets.schema import LEAD_HEADER, Lead, Status
from sheets.setup import init_sheet
from tests.fakes.sheets_api import FakeSheetsApi, write_credentials

SHEET = "sheet-1"
DOCTORS = [
    Doctor("Смирнова Елена Викторовна", "ЛОР", ("болит ухо", "насморк"), "взрослые и дети"),
    Doctor("Иванов Сергей Николаевич", "Терапевт", ("простуда",)),
]


def lead(lead_id: str, **changes: str) -> Lead:
    fields = dict(
        id=lead_id,
        created="2026-11-23 10:00",
        name="Анна",
        phone="+79123456789",
        service="Смирнова Елена Викторовна (ЛОР)",
        window="до 14:00",
        visit="первичное",
        channel="telegram",
        contact="@anna",
        comment="болит ухо",
    )
    fields.update(changes)
    return Lead(**fields)


@pytest.fixture
def api() -> Iterator[FakeSheetsApi]:
    with FakeSheetsApi() as server:
        server.add_spreadsheet(SHEET)
        yield server


@pytest.fixture
def sink(api: FakeSheetsApi, tmp_path: Path) -> GoogleSheetsSink:
    return GoogleSheetsSink(SHEET, write_credentials(api, tmp_path), api_url=api.base_url, cache_dir=tmp_path)


def test_init_sheet_creates_everything_and_second_run_changes_nothing(
    api: FakeSheetsApi, sink: GoogleSheetsSink
) -> None:
    first = init_sheet(sink, DOCTORS)
    assert any("Обращения" in c for c in first.changes)
    book = api.spreadsheets[SHEET]
    leads = book.sheet("Обращения")
    assert leads is not None and leads.frozen_rows == 1
    assert api.values(SHEET, "Обращения") == [list(LEAD_HEADER)]
    assert api.values(SHEET, "Врачи")[1] == [
        "Смирнова Елена Викторовна",
        "ЛОР",
        "болит ухо, насморк",
        "взрослые и дети",
    ]
    statuses = [v["userEnteredValue"] for v in leads.validations[0]["rule"]["condition"]["values"]]
    assert statuses == [str(s) for s in Status]
    assert 3 in leads.text_columns  # Телефон stays text even if typed by hand
    assert len(leads.conditional_formats) == len(Status)
    assert any(
        f.get("cell", {}).get("userEnteredFormat", {}).get("textFormat", {}).get("bold")
        for f in leads.formats
    )
    summary = api.values(SHEET, "Сводка", render="FORMULA")
    assert summary[1][1].startswith("=COUNTA('Обращения'!A2:A)")
    assert any(row and row[0] == "telegram" and row[1].startswith("=COUNTIF") for row in summary)

    writes_before = api.writes()
    second = init_sheet(sink, DOCTORS)
    assert second.changes == []
    assert api.writes() == writes_before
    assert len(leads.conditional_formats) == len(Status)


def test_init_sheet_never_touches_data_rows(api: FakeSheetsApi, sink: GoogleSheetsSink) -> None:
    init_sheet(sink, DOCTORS)
    sink.append([lead("AAAA2222")])
    doctors_sheet = api.spreadsheets[SHEET].sheet("Врачи")
    assert doctors_sheet is not None
    doctors_sheet.developer_metadata.clear()  # force the formats to be applied again
    before_leads, before_doctors = api.values(SHEET, "Обращения"), api.values(SHEET, "Врачи")
    init_sheet(sink, [Doctor("Другой Врач Петрович", "Хирург")])
    assert api.values(SHEET, "Обращения") == before_leads
    assert api.values(SHEET, "Врачи") == before_doctors


def test_hostile_text_stays_text_and_phone_stays_e164(api: FakeSheetsApi, sink: GoogleSheetsSink) -> None:
    hostile = lead(
        "HOST1234",
        name='=IMPORTXML("http://evil","//a")',
        comment="+1 и -2 @all",
        contact="@user",
    )
    sink.append([hostile])
    row = api.values(SHEET, "Обращения")[1]
    assert row[2] == '=IMPORTXML("http://evil","//a")'
    assert row[3] == "+79123456789"
    assert row[9] == "+1 и -2 @all"
    assert api.values(SHEET, "Обращения", render="FORMULA")[1][2] == row[2]  # not a formula cell
    assert sink.read_all() == [hostile]


def test_user_entered_would_have_broken_it(api: FakeSheetsApi, sink: GoogleSheetsSink) -> None:
    """The fake parses USER_ENTERED like the Sheets UI, so the RAW test above proves something."""
    sink.call(
        lambda http: http.values_update(
            SHEET,
            "'Лист1'!A1",
            {"valueInputOption": "USER_ENTERED"},
            {"values": [["+79123456789", "=1+1", "-x"]]},
        )
    )
    assert api.values(SHEET, "Лист1") == [["79123456789", "#ERROR!", "#ERROR!"]]


def test_append_creates_header_skips_known_ids_and_updates_status(
    api: FakeSheetsApi, sink: GoogleSheetsSink
) -> None:
    sink.append([lead("A2345678"), lead("B2345678")])
    sink.append([lead("B2345678"), lead("C2345678"), lead("C2345678")])
    ids = [row[0] for row in api.values(SHEET, "Обращения")]
    assert ids == ["ID", "A2345678", "B2345678", "C2345678"]
    assert api.calls["append"] == 2
    assert sink.update_status("B2345678", Status.BOOKED) is True
    assert sink.update_status("NOPE0000", Status.BOOKED) is False
    assert {x.id: x.status for x in sink.read_all()}["B2345678"] == Status.BOOKED
    sink.upsert(lead("C2345678", name="Мария"))
    sink.upsert(lead("D2345678"))
    assert [x.name for x in sink.read_all()] == ["Анна", "Анна", "Мария", "Анна"]


def admin_sets(sink: GoogleSheetsSink, row: int, status: str) -> None:
    """An administrator picks a status in the sheet itself (the bot does not know)."""
    sink.call(
        lambda http: http.values_update(
            SHEET, f"'Обращения'!K{row}", {"valueInputOption": "USER_ENTERED"}, {"values": [[status]]}
        )
    )


@pytest.mark.parametrize("status", [Status.IN_WORK, Status.BOOKED, Status.NOT_REACHED, "перезвонить в пн"])
def test_upsert_keeps_a_status_the_administrators_set_in_the_sheet(
    api: FakeSheetsApi, sink: GoogleSheetsSink, status: str
) -> None:
    sink.append([lead("A2345678", status=Status.UNCONFIRMED), lead("B2345678", status=Status.UNCONFIRMED)])
    admin_sets(sink, 2, status)
    before = api.writes()
    sink.upsert(lead("A2345678", window="после 14:00", status=Status.NEW))
    sink.upsert(lead("B2345678", window="после 14:00", status=Status.NEW))
    assert api.writes() - before == 2  # one write per row, as before
    rows = {x.id: x for x in sink.read_all()}
    assert (rows["A2345678"].window, rows["A2345678"].status) == ("после 14:00", status)
    assert (rows["B2345678"].window, rows["B2345678"].status) == ("после 14:00", Status.NEW)
    sink.replace(lead("A2345678", name="Мария", status=Status.UNCONFIRMED))
    assert {x.id: (x.name, x.status) for x in sink.read_all()}["A2345678"] == ("Мария", status)


def test_errors_say_what_to_do(api: FakeSheetsApi, sink: GoogleSheetsSink, tmp_path: Path) -> None:
    api.deny = True
    with pytest.raises(SinkError) as denied:
        sink.read_all()
    assert not denied.value.retryable
    assert "clinic-bot@clinic-test.iam.gserviceaccount.com" in str(denied.value)
    api.deny = False

    wrong = GoogleSheetsSink("no-such-sheet", sink.credentials_file, api_url=api.base_url)
    with pytest.raises(SinkError, match="GOOGLE_SHEET_ID") as missing:
        wrong.read_all()
    assert not missing.value.retryable

    for status in (429, 503):
        api.fail_next(1, status)
        with pytest.raises(SinkError) as transient:
            sink.read_all()
        assert transient.value.retryable

    absent = GoogleSheetsSink(SHEET, tmp_path / "nope.json", api_url=api.base_url)
    with pytest.raises(SinkError, match=r"файла ключа .* нет") as no_file:
        absent.read_all()
    assert not no_file.value.retryable

    broken_path = tmp_path / "broken.json"
    broken_path.write_text("{not json", encoding="utf-8")
    with pytest.raises(SinkError, match="не читается как JSON"):
        GoogleSheetsSink(SHEET, broken_path, api_url=api.base_url).read_all()

    info = json.loads(Path(sink.credentials_file or "").read_text(encoding="utf-8"))
    info["private_key"] = info["private_key"].replace("MII", "XXX", 1)
    bad_key = tmp_path / "bad-key.json"
    bad_key.write_text(json.dumps(info), encoding="utf-8")
    with pytest.raises(SinkError, match="не ключ сервисного аккаунта"):
        GoogleSheetsSink(SHEET, bad_key, api_url=api.base_url).read_all()


def test_unknown_key_is_refused_by_the_token_endpoint(api: FakeSheetsApi, tmp_path: Path) -> None:
    from tests.fakes.sheets_api import service_account_info

    path = tmp_path / "stranger.json"
    path.write_text(
        json.dumps(service_account_info(f"{api.base_url}/token", "stranger@x.iam")), encoding="utf-8"
    )
    with pytest.raises(SinkError, match="Google не принял ключ сервисного аккаунта") as refused:
        GoogleSheetsSink(SHEET, path, api_url=api.base_url).read_all()
    assert not refused.value.retryable


def test_doctors_from_sheet_with_last_good_copy(
    api: FakeSheetsApi, sink: GoogleSheetsSink, tmp_path: Path
) -> None:
    init_sheet(sink, DOCTORS)
    sink.call(
        lambda http: http.values_append(
            SHEET,
            "'Врачи'!A1",
            {"valueInputOption": "RAW"},
            {"values": [["", "Хирург"], ["Петров Пётр Петрович", ""]]},
        )
    )
    doctors = sink.read_doctors()
    assert doctors is not None and [d.full_name for d in doctors] == [d.full_name for d in DOCTORS]
    assert doctors[0].services == ("болит ухо", "насморк")
    assert len(sink.doctor_problems) == 2  # the two bad rows are reported, not fatal

    api.outage = True
    fresh = GoogleSheetsSink(SHEET, sink.credentials_file, api_url=api.base_url, cache_dir=tmp_path)
    assert fresh.read_doctors() == doctors  # the last good copy from DATA_DIR
    no_cache = GoogleSheetsSink(
        SHEET, sink.credentials_file, api_url=api.base_url, cache_dir=tmp_path / "empty"
    )
    assert no_cache.read_doctors() is None  # doctors.csv then
