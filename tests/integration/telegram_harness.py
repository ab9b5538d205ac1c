"""The Telegram channel running for real (aiogram Bot + Dispatcher, long polling) against the fake Bot API."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.bootstrap import App, build_app
from bot.channels.telegram import build_admin_notifier, build_bot, setup_telegram
from bot.channels.telegram.admin import TelegramAdminNotifier
from bot.channels.telegram.setup import TelegramRuntime
from bot.clock import Clock
from bot.config import Settings, load_settings
from tests.fakes.bot_api import TOKEN, FakeBotApi

ADMIN_CHAT = -1001234567890
ADMIN = 777  # the member of the admin chat (the `bot_api` fixture)
ROOT = Path(__file__).resolve().parents[2]


def telegram_settings(tmp_path: Path, api: FakeBotApi, **extra: Any) -> Settings:
    values: dict[str, Any] = {
        "data_dir": tmp_path / "data",
        "knowledge_dir": ROOT / "knowledge",
        "prompts_dir": ROOT / "prompts",
        "telegram_bot_token": TOKEN,
        "telegram_api_url": api.url,
        "admin_chat_id": ADMIN_CHAT,
        "telegram_debounce": "0.15s",
        "quiet_hours": "",
        # The default fake does not enforce Telegram's limits; a conversation scripted at machine speed
        # would wait a second per message. The bot's budget stays paced; test_telegram_pacing sets them all.
        "telegram_chat_rate": 0,
        "telegram_group_rate": 0,
    }
    values.update(extra)
    return load_settings(**values)


@dataclass
class Running:
    app: App
    runtime: TelegramRuntime
    notifier: TelegramAdminNotifier | None
    api: FakeBotApi


@asynccontextmanager
async def running_bot(
    settings: Settings, api: FakeBotApi, *, clock: Clock | None = None, poll: bool = True
) -> AsyncIterator[Running]:
    """Build the app as `run` does, start polling (or not, for webhook mode), stop gracefully after."""
    bot = build_bot(settings, timeout=10)
    notifier = build_admin_notifier(bot, settings, clock) if clock and settings.admin_chat_id else None
    if notifier is None and settings.admin_chat_id:
        from bot.clock import SystemClock

        notifier = build_admin_notifier(bot, settings, SystemClock())
    app = build_app(settings, clock=clock, notifier=notifier)
    runtime = setup_telegram(app, bot, notifier)
    try:
        await runtime.prepare()
        if poll:
            await runtime.start_polling(polling_timeout=2)
        yield Running(app, runtime, notifier, api)
    finally:
        await runtime.stop(timeout=5)
        app.close()
