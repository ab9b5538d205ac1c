"""The weekly report: its slot in clinic time, one send per slot across restarts, through the fake Bot API."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import TelegramServerError

from bot.bootstrap import App
from bot.clock import FakeClock
from bot.report.weekly import _pieces, last_slot, next_slot, run_weekly_report, telegram_sender
from sheets.schema import Lead
from tests.fakes.bot_api import TOKEN, FakeBotApi

TZ = ZoneInfo("Europe/Samara")


def test_slots_are_in_clinic_time() -> None:
    # Monday 2026-11-23 08:59 Samara = 04:59 UTC: the last slot is the Monday before.
    before = datetime(2026, 11, 23, 4, 59, tzinfo=UTC)
    assert last_slot(before, TZ, 0, "09:00") == datetime(2026, 11, 16, 9, 0, tzinfo=TZ)
    assert next_slot(before, TZ, 0, "09:00") == datetime(2026, 11, 23, 9, 0, tzinfo=TZ)
    after = datetime(2026, 11, 23, 5, 0, tzinfo=UTC)
    assert last_slot(after, TZ, 0, "09:00") == datetime(2026, 11, 23, 9, 0, tzinfo=TZ)
    assert last_slot(after, TZ, 4, "18:30") == datetime(2026, 11, 20, 18, 30, tzinfo=TZ)
    assert last_slot(after, TZ, 0, "nonsense") == datetime(2026, 11, 23, 9, 0, tzinfo=TZ)


def test_long_text_is_split_on_lines() -> None:
    text = "".join(f"строка {i:04d}\n" for i in range(1000))
    pieces = _pieces(text)
    assert "".join(pieces) == text and all(len(p) <= 3500 for p in pieces) and len(pieces) > 3


@pytest.fixture
async def bot_api() -> AsyncIterator[FakeBotApi]:
    server = await FakeBotApi().start()
    yield server
    await server.stop()


async def wait_until(condition: object, timeout: float = 10.0) -> None:
    for _ in range(int(timeout / 0.05)):
        if callable(condition) and condition():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("condition not met in time")


async def test_sent_once_per_slot_across_restarts(app: App, clock: FakeClock, bot_api: FakeBotApi) -> None:
    clock.set(datetime(2026, 11, 23, 5, 30, tzinfo=UTC))  # Monday 09:30 in Samara
    app.sinks["csv"].append(
        [Lead("W1", "2026-11-20 10:15", "Ирина", "+79123456789", "УЗИ", "любое", "первичное", "web", "", "")]
    )
    bot = Bot(TOKEN, session=AiohttpSession(api=TelegramAPIServer.from_base(bot_api.url)))
    try:
        send = telegram_sender(bot, -100500)
        task = asyncio.create_task(run_weekly_report(app, send))
        await wait_until(lambda: bot_api.photos)
        task.cancel()
        texts = [params["text"] for method, params in bot_api.calls if method == "sendMessage"]
        assert (
            texts
            and texts[0].startswith("<pre>Отчёт по обращениям за 7 дн.")
            and "Всего обращений: 1" in texts[0]
        )
        assert bot_api.photos[0][0] == -100500 and bot_api.photos[0][1] > 10_000

        restarted = asyncio.create_task(run_weekly_report(app, send))
        await asyncio.sleep(0.5)
        restarted.cancel()
        assert len(bot_api.photos) == 1  # the same slot is not sent again
    finally:
        await bot.session.close()


async def test_a_slot_long_past_is_not_sent_late(app: App, clock: FakeClock) -> None:
    clock.set(datetime(2026, 11, 25, 12, 0, tzinfo=UTC))  # Wednesday: Monday's slot is two days old
    sent: list[str] = []

    async def send(text: str, png: bytes) -> None:
        sent.append(text)

    task = asyncio.create_task(run_weekly_report(app, send))
    await asyncio.sleep(0.3)
    task.cancel()
    assert sent == []


async def test_a_retry_after_a_failed_picture_does_not_send_the_table_again(bot_api: FakeBotApi) -> None:
    bot = Bot(TOKEN, session=AiohttpSession(api=TelegramAPIServer.from_base(bot_api.url)))
    try:
        send = telegram_sender(bot, -100500)
        text = "Отчёт по обращениям за 7 дн.\n" + "строка отчёта\n" * 400  # two messages of text
        bot_api.fail_next(1, status=500, method="sendPhoto")
        with pytest.raises(TelegramServerError):
            await send(text, b"\x89PNG" + b"0" * 20_000)
        assert len(bot_api.method_calls("sendMessage")) == 2 and not bot_api.photos
        await send(text, b"\x89PNG" + b"0" * 20_000)  # the loop's retry
        assert len(bot_api.method_calls("sendMessage")) == 2
        assert len(bot_api.photos) == 1
        await send(text, b"")  # next week's report: sent in full again
        assert len(bot_api.method_calls("sendMessage")) == 4
    finally:
        await bot.session.close()
