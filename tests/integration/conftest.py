"""Shared fixtures: the fake Google Sheet (`sheets_api`), the application on it (`both`), the fake Bot API
(`bot_api`, the admin chat's member 777)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from bot.bootstrap import App
from bot.clock import FakeClock
from bot.config import Settings
from tests.fakes.bot_api import FakeBotApi
from tests.fakes.sheets_api import FakeSheetsApi
from tests.integration.lead_harness import SHEET, make_app
from tests.integration.telegram_harness import ADMIN, ADMIN_CHAT


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


@pytest.fixture
async def bot_api() -> AsyncIterator[FakeBotApi]:
    """The fake Bot API, with one administrator (777) in the admin chat."""
    server = await FakeBotApi().start()
    server.members[ADMIN_CHAT] = {ADMIN}
    yield server
    await server.stop()
