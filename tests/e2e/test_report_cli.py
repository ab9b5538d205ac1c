"""`python -m bot report` as a subprocess on a generated leads.csv: text on stdout, a PNG on disk."""

from __future__ import annotations

import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from sheets.csv_sink import CsvLeadSink
from sheets.schema import Lead
from tests.bot_env import bot_env

ROOT = Path(__file__).resolve().parents[2]


def test_report_command_prints_the_table_and_writes_the_png(tmp_path: Path) -> None:
    now = datetime.now(ZoneInfo("Europe/Samara")).replace(tzinfo=None)
    leads = [
        Lead(
            f"E{i:04d}",
            (now - timedelta(hours=3 * i + 1)).strftime("%Y-%m-%d %H:%M"),
            "Олег",
            "+79123456789",
            "УЗИ" if i % 3 else "Терапевт",
            "любое",
            "первичное",
            "telegram" if i % 2 else "whatsapp",
            "@oleg",
            "",
            "записан" if i % 4 == 0 else "новая",
        )
        for i in range(120)  # 15 days back
    ]
    CsvLeadSink(tmp_path / "data" / "leads.csv").append(leads)
    env = bot_env(
        tmp_path / "data",
        CLINIC_TIMEZONE="Europe/Samara",
    )
    out = tmp_path / "out" / "week.png"
    result = subprocess.run(
        [sys.executable, "-m", "bot", "report", "--days", "3", "--out", str(out)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=90,
    )
    assert result.returncode == 0, result.stderr
    # 3 calendar days: today plus two before; leads every 3 hours back from an hour ago.
    start = datetime.combine(now.date() - timedelta(days=2), datetime.min.time())
    expected = sum(1 for lead in leads if datetime.strptime(lead.created, "%Y-%m-%d %H:%M") >= start)
    assert f"Всего обращений: {expected}" in result.stdout
    assert "По каналам" in result.stdout and "whatsapp" in result.stdout
    assert f"Источник: файл {tmp_path / 'data' / 'leads.csv'}" in result.stdout
    services = result.stdout[result.stdout.index("По врачам и услугам") :].split("\n\n")[0].splitlines()[1:]
    assert [line.split()[0] for line in services] == ["УЗИ", "Терапевт"]  # by specialty, nothing folded
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_days_must_be_positive(capsys: pytest.CaptureFixture[str]) -> None:
    from bot.cli import main

    with pytest.raises(SystemExit) as exit_info:
        main(["report", "--days", "0"])
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and "--days" in err
    assert "ошибка: --days: нужно целое число от 1, а не 0" in err and "error" not in err


def test_no_leads_yet_says_so_and_where_they_will_appear(tmp_path: Path) -> None:
    data = tmp_path / "data"
    result = subprocess.run(
        [sys.executable, "-m", "bot", "report", "--out", str(tmp_path / "empty.png")],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=bot_env(data),
        timeout=90,
    )
    assert result.returncode == 0, result.stderr
    assert "Всего обращений: 0" in result.stdout
    assert (
        f"Заявок пока нет. Они появятся в файле {data / 'leads.csv'}, как только первый пациент подтвердит "
        "заявку." in result.stdout
    )
    assert "Источник" not in result.stdout and not (data / "leads.csv").exists()
    assert "Traceback" not in result.stderr and (tmp_path / "empty.png").read_bytes()[:4] == b"\x89PNG"
