"""`kill -9` at random moments of a loop of confirmed bookings loses no lead and duplicates none.

The CSV and the Google Sheet (the fake Sheets API on 127.0.0.1, through real gspread) end, after a restart
and a flush, with every lead the patients were told about exactly once.
"""

from __future__ import annotations

import csv
import os
import random
import select
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from tests.bot_env import bot_env
from tests.fakes.sheets_api import FakeSheetsApi, write_credentials

ROOT = Path(__file__).resolve().parents[2]
DRIVER = ROOT / "tests" / "e2e" / "booking_driver.py"
SHEET = "kill9"
BATCH = 400  # more than a round can book before its kill


def env_for(tmp_path: Path, api: FakeSheetsApi) -> dict[str, str]:
    env = bot_env(
        tmp_path / "data",
        GOOGLE_SHEET_ID=SHEET,
        GOOGLE_APPLICATION_CREDENTIALS=str(write_credentials(api, tmp_path)),
        GOOGLE_SHEETS_API_URL=api.base_url,
        SHEETS_WRITES_PER_MINUTE="100000",
    )
    return env


def read_lines(proc: subprocess.Popen[str], until: float, limit: int = 1 << 30) -> list[str]:
    """Lines the driver printed until the deadline, its end, or `limit` lines."""
    assert proc.stdout is not None
    lines: list[str] = []
    while time.monotonic() < until and len(lines) < limit:
        ready, _, _ = select.select([proc.stdout], [], [], max(0.0, until - time.monotonic()))
        if not ready:
            break
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line.strip())
    return lines


def csv_phones(tmp_path: Path) -> list[tuple[str, str]]:
    path = tmp_path / "data" / "leads.csv"
    if not path.exists():
        return []
    with open(path, encoding="utf-8", newline="") as fh:
        return [(row["ID"], row["Телефон"]) for row in csv.DictReader(fh)]


@pytest.mark.timeout(180)
def test_kill_9_loses_and_duplicates_nothing(tmp_path: Path) -> None:
    rng = random.Random(int(os.environ.get("KILL9_SEED", "9")))
    confirmed: list[str] = []
    with FakeSheetsApi() as api:
        api.add_spreadsheet(SHEET)
        env = env_for(tmp_path, api)
        start, kills = 0, 0
        for _ in range(6):
            proc = subprocess.Popen(
                [sys.executable, str(DRIVER), str(start), str(BATCH)],
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                text=True,
                cwd=tmp_path,
                env=env,
            )
            lines = read_lines(proc, time.monotonic() + 30, limit=1)
            assert lines == ["READY"], lines
            lines += read_lines(proc, time.monotonic() + rng.uniform(0.05, 0.6))
            os.kill(proc.pid, signal.SIGKILL)
            kills += 1
            assert proc.stdout is not None
            lines += [line.strip() for line in proc.stdout.read().splitlines()]
            proc.wait()
            confirmed += [line.split()[1] for line in lines if line.startswith("CONFIRMED")]
            start += BATCH  # new patients each round; a killed half-done booking is simply never confirmed
        final = subprocess.run(
            [sys.executable, str(DRIVER), str(start), "3"],
            capture_output=True,
            text=True,
            cwd=tmp_path,
            env=env,
            timeout=60,
        )
        assert final.returncode == 0, final.stderr
        confirmed += [line.split()[1] for line in final.stdout.splitlines() if line.startswith("CONFIRMED")]
        assert "BACKLOG {}" in final.stdout
        sheet_rows = api.values(SHEET, "Обращения")
    assert kills == 6 and len(confirmed) >= 3
    rows = csv_phones(tmp_path)
    ids = Counter(row_id for row_id, _ in rows)
    phones = Counter(phone for _, phone in rows)
    assert [i for i, n in ids.items() if n > 1] == []
    assert [p for p, n in phones.items() if n > 1] == []
    assert set(confirmed) <= set(phones), set(confirmed) - set(phones)
    sheet_ids = Counter(str(r[0]) for r in sheet_rows[1:])
    sheet_phones = Counter(str(r[3]) for r in sheet_rows[1:])
    assert [i for i, n in sheet_ids.items() if n > 1] == []
    assert set(confirmed) <= set(sheet_phones)
    assert set(sheet_ids) == set(ids)  # the two views agree
