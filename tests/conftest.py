"""Shared fixtures: an application on the embedded defaults in a temporary data folder, with a fake clock."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.bootstrap import App, build_app
from bot.clock import FakeClock
from bot.config import Settings, load_settings

ROOT = Path(__file__).resolve().parent.parent
# Monday 2026-11-23 10:00 in Samara (UTC+4): the clinic is open.
OPEN_TIME = datetime(2026, 11, 23, 6, 0, tzinfo=UTC)
# Sunday night: the clinic is closed.
CLOSED_TIME = datetime(2026, 11, 22, 19, 30, tzinfo=UTC)


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    for name in (
        "TELEGRAM_BOT_TOKEN",
        "OPENAI_API_KEY",
        "GOOGLE_SHEET_ID",
        "WHATSAPP_TOKEN",
        "ADMIN_CHAT_ID",
        "MAX_BOT_TOKEN",
        "MAX_WEBHOOK_URL",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)  # no stray .env from the developer's checkout
    return load_settings(
        data_dir=tmp_path / "data",
        knowledge_dir=ROOT / "knowledge",
        prompts_dir=ROOT / "prompts",
    )


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(OPEN_TIME)


@pytest.fixture
def app(settings: Settings, clock: FakeClock) -> Iterator[App]:
    application = build_app(settings, clock=clock)
    yield application
    application.close()
