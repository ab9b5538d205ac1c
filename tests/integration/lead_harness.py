"""The whole application writing leads to leads.csv and to the fake Google Sheet (the lead lifecycle tests;
the fixtures `sheets_api` and `both` are in conftest.py)."""

from __future__ import annotations

from pathlib import Path

from bot.bootstrap import App, build_app
from bot.clock import FakeClock
from bot.config import Settings
from sheets.csv_sink import CsvLeadSink
from sheets.google import GoogleSheetsSink
from tests.fakes.sheets_api import FakeSheetsApi, write_credentials

SHEET = "s1"


def make_app(settings: Settings, clock: FakeClock, api: FakeSheetsApi, tmp_path: Path) -> App:
    sheet = GoogleSheetsSink(
        SHEET, write_credentials(api, tmp_path), api_url=api.base_url, cache_dir=tmp_path
    )
    return build_app(settings, clock=clock, sinks={"csv": CsvLeadSink(settings.leads_csv), "sheets": sheet})


def sheet_rows(api: FakeSheetsApi) -> list[list[str]]:
    return [[str(c) for c in row] for row in api.values(SHEET, "Обращения")[1:]]
