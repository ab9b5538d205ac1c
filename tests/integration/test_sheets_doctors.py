"""Doctors from the sheet "Врачи": created and seeded at start, refreshed, bad rows reported, outages survived."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.bootstrap import build_app
from bot.clock import FakeClock
from bot.config import Settings
from bot.knowledge.loader import load_knowledge
from tests.fakes.sheets_api import FakeSheetsApi, write_credentials

SHEET = "doctors-sheet"


@pytest.fixture
def api() -> Iterator[FakeSheetsApi]:
    with FakeSheetsApi() as server:
        server.add_spreadsheet(SHEET)  # a brand-new spreadsheet: only "Лист1"
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


async def test_start_creates_both_sheets_and_seeds_doctors(
    sheet_settings: Settings, api: FakeSheetsApi, clock: FakeClock
) -> None:
    local = load_knowledge(sheet_settings.knowledge_dir).doctors
    app = build_app(sheet_settings, clock=clock)
    try:
        book = api.spreadsheets[SHEET]
        assert book.sheet("Обращения") is not None and book.sheet("Врачи") is not None
        rows = api.values(SHEET, "Врачи")
        assert rows[0] == ["ФИО", "Специальность", "Услуги", "Примечание"]
        assert [r[0] for r in rows[1:]] == [d.full_name for d in local]
        assert [d.full_name for d in app.knowledge().doctors] == [d.full_name for d in local]
        writes = api.writes()
        build_app(sheet_settings, clock=clock).close()  # a second start changes nothing
        assert api.writes() == writes
    finally:
        app.close()


async def test_edits_in_the_sheet_reach_the_bot_and_bad_rows_are_reported(
    sheet_settings: Settings, api: FakeSheetsApi, clock: FakeClock
) -> None:
    app = build_app(sheet_settings, clock=clock)
    try:
        sink = app.sinks["sheets"]
        sink.call(  # type: ignore[attr-defined]
            lambda http: http.values_append(
                SHEET,
                "'Врачи'!A1",
                {"valueInputOption": "RAW"},
                {
                    "values": [
                        ["Новикова Анна Игоревна", "Невролог", "мигрень, головная боль"],
                        ["", "Хирург"],
                    ]
                },
            )
        )
        app.knowledge.reload()  # what the knowledge watcher does every few minutes
        assert any(d.full_name == "Новикова Анна Игоревна" for d in app.knowledge().doctors)
        [problem] = sink.doctor_problems  # type: ignore[attr-defined]
        assert "ФИО" in str(problem) and "Врачи" in str(problem)

        api.outage = True
        app.knowledge.reload()
        assert any(d.full_name == "Новикова Анна Игоревна" for d in app.knowledge().doctors)
    finally:
        app.close()


async def test_outage_at_start_uses_the_cached_copy(
    sheet_settings: Settings, api: FakeSheetsApi, clock: FakeClock
) -> None:
    first = build_app(sheet_settings, clock=clock)
    first.sinks["sheets"].call(  # type: ignore[attr-defined]
        lambda http: http.values_append(
            SHEET, "'Врачи'!A1", {"valueInputOption": "RAW"}, {"values": [["Только Вшите Есть", "Окулист"]]}
        )
    )
    first.knowledge.reload()
    first.close()
    api.outage = True
    restarted = build_app(sheet_settings, clock=clock)
    try:
        assert any(d.full_name == "Только Вшите Есть" for d in restarted.knowledge().doctors)
    finally:
        restarted.close()
