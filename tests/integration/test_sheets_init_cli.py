"""`python -m bot init-sheet` as a subprocess against the fake Sheets API: twice, and its failures."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.bot_env import bot_env
from tests.fakes.sheets_api import FakeSheetsApi, write_credentials

ROOT = Path(__file__).resolve().parents[2]
SHEET = "cli-sheet"


@pytest.fixture
def api() -> Iterator[FakeSheetsApi]:
    with FakeSheetsApi() as server:
        server.add_spreadsheet(SHEET)
        yield server


def init_sheet(tmp_path: Path, **env_vars: str) -> subprocess.CompletedProcess[str]:
    env = bot_env(tmp_path / "data")
    env.update(env_vars)
    return subprocess.run(
        [sys.executable, "-m", "bot", "init-sheet"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=60,
    )


def test_init_sheet_twice(api: FakeSheetsApi, tmp_path: Path) -> None:
    env = {
        "GOOGLE_SHEET_ID": SHEET,
        "GOOGLE_APPLICATION_CREDENTIALS": str(write_credentials(api, tmp_path)),
        "GOOGLE_SHEETS_API_URL": api.base_url,
    }
    first = init_sheet(tmp_path, **env)
    assert first.returncode == 0, first.stderr
    assert "создан лист «Обращения»" in first.stdout and "оформлен лист «Обращения»" in first.stdout
    assert "врачи из doctors.csv: 16 врачей" in first.stdout and "Таблица cli-sheet готова." in first.stdout
    writes = api.writes()
    second = init_sheet(tmp_path, **env)
    assert second.returncode == 0, second.stderr
    assert "всё уже было на месте, ничего не изменено" in second.stdout
    assert api.writes() == writes


def test_init_sheet_explains_what_is_wrong(api: FakeSheetsApi, tmp_path: Path) -> None:
    credentials = str(write_credentials(api, tmp_path))
    api.deny = True
    denied = init_sheet(
        tmp_path,
        GOOGLE_SHEET_ID=SHEET,
        GOOGLE_APPLICATION_CREDENTIALS=credentials,
        GOOGLE_SHEETS_API_URL=api.base_url,
    )
    assert denied.returncode == 1
    assert (
        "clinic-bot@clinic-test.iam.gserviceaccount.com" in denied.stderr
        and "Настройки доступа" in denied.stderr
    )
    assert denied.stderr.startswith("Таблица не подготовлена: Google не дал доступа")
    # 404 and key-file messages are checked in-process (test_sheets_sink.py); here the exit status path
    unset = init_sheet(tmp_path)
    assert (
        unset.returncode == 1
        and "GOOGLE_SHEET_ID не задан" in unset.stderr
        and "make init-sheet" in unset.stderr
    )
