import subprocess
import sys
from datetime import time, timedelta
from pathlib import Path

import pytest

from bot.config import load_settings
from bot.errors import ConfigError


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    for name in ("FOLLOWUP_DELAY", "QUIET_HOURS", "HTTP_PORT", "CLINIC_TIMEZONE", "WEB_ALLOWED_ORIGINS"):
        monkeypatch.delenv(name, raising=False)


def test_defaults_are_the_embedded_ones() -> None:
    settings = load_settings()
    assert settings.data_dir == Path("data") and settings.knowledge_dir == Path("knowledge")
    assert settings.followup_delay == timedelta(minutes=30) and settings.unconfirmed_delay == timedelta(
        hours=2
    )
    assert settings.quiet_hours == (time(21, 0), time(9, 0))
    assert not (settings.telegram_enabled or settings.llm_enabled or settings.sheets_enabled)


@pytest.mark.parametrize(
    ("raw", "expected"), [("45s", 45), ("30m", 1800), ("2h", 7200), ("90", 90), ("1.5s", 1.5)]
)
def test_durations(monkeypatch: pytest.MonkeyPatch, raw: str, expected: float) -> None:
    monkeypatch.setenv("FOLLOWUP_DELAY", raw)
    assert load_settings().followup_delay.total_seconds() == expected


def test_empty_quiet_hours_turn_them_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QUIET_HOURS", "")
    assert load_settings().quiet_hours is None


def test_dotenv_is_read(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("WEB_ALLOWED_ORIGINS=https://a.ru, https://b.ru/\nHTTP_PORT=9000\n")
    settings = load_settings()
    assert settings.web_allowed_origins == ("https://a.ru", "https://b.ru") and settings.http_port == 9000


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("FOLLOWUP_DELAY", "soon"),
        ("QUIET_HOURS", "ночью"),
        ("HTTP_PORT", "eighty"),
        ("CLINIC_TIMEZONE", "Mars/Base"),
    ],
)
def test_bad_values_name_the_variable(monkeypatch: pytest.MonkeyPatch, name: str, value: str) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError) as error:
        load_settings()
    assert name in str(error.value) and "\n" not in str(error.value)


def test_bad_value_fails_the_command_with_one_line(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bot", "chat", "--user", "x"],
        input="",
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", "FOLLOWUP_DELAY": "soon", "DATA_DIR": str(tmp_path)},
    )
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0 and "FOLLOWUP_DELAY" in result.stderr
