"""Fixtures of the lead lifecycle tests: the fake Google Sheet (`sheets_api`) and the application on it (`both`)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.bootstrap import App
from bot.clock import FakeClock
from bot.config import Settings
from tests.fakes.sheets_api import FakeSheetsApi
from tests.integration.lead_harness import SHEET, make_app


@pytest.fixture
def sheets_api() -> Iterator[FakeSheetsApi]:
    with FakeSheetsApi() as server:
        server.add_spreadsheet(SHEET)
        yield server


@pytest.fixture
def both(settings: Settings, clock: FakeClock, sheets_api: FakeSheetsApi, tmp_path: Path) -> Iterator[App]:
    """The application writing to leads.csv and to the fake Google Sheet."""
    app = make_app(settings, clock, sheets_api, tmp_path)
    yield app
    app.close()
