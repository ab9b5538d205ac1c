"""A MAX patient and the Telegram admin chat (ADMIN_CHAT_ID): the lead alert with its status buttons, and a
handoff answered in Telegram that reaches the patient in MAX."""

from __future__ import annotations

import csv
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web

from bot.bootstrap import App, build_app
from bot.channels.max import MaxClient, MaxRuntime, setup_max
from bot.channels.telegram import build_admin_notifier, build_bot, setup_telegram
from bot.clock import SystemClock
from bot.dialogue.state import Stage
from tests.fakes.bot_api import FakeBotApi
from tests.fakes.max_api import TOKEN, FakeMaxApi
from tests.integration.max_harness import PATIENT
from tests.integration.telegram_harness import ADMIN, ADMIN_CHAT, telegram_settings

KEY = f"max:{PATIENT}"


@dataclass
class Both:
    app: App
    max: MaxRuntime
    max_api: FakeMaxApi
    bot_api: FakeBotApi

    async def say(self, text: str) -> list[dict[str, object]]:
        before = len(self.max_api.to(PATIENT))
        self.max.channel.accept([self.max_api.message_created(PATIENT, text)])
        await self.max.channel.drain()
        return self.max_api.to(PATIENT)[before:]


@asynccontextmanager
async def running(tmp_path: Path, bot_api: FakeBotApi) -> AsyncIterator[Both]:
    max_api = FakeMaxApi()
    url = await max_api.start()
    max_api.add_user(PATIENT, "Ольга", "Петрова", "olga_p")
    settings = telegram_settings(tmp_path, bot_api, max_bot_token=TOKEN, max_api_url=url)
    bot = build_bot(settings, timeout=10)
    notifier = build_admin_notifier(bot, settings, SystemClock())
    app = build_app(settings, notifier=notifier)
    telegram = setup_telegram(app, bot, notifier)
    runtime = setup_max(app, web.Application(), client=MaxClient(url, TOKEN))
    try:
        await telegram.prepare()
        await telegram.start_polling(polling_timeout=2)
        yield Both(app, runtime, max_api, bot_api)
    finally:
        await telegram.stop(timeout=5)
        await runtime.stop(timeout=1)
        await max_api.stop()
        app.close()


def csv_rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


async def test_lead_alert_in_telegram_and_its_status_button(bot_api: FakeBotApi, tmp_path: Path) -> None:
    async with running(tmp_path, bot_api) as both:
        await both.say("Здравствуйте, я Ольга, хочу к терапевту после обеда, впервые, 89123456789")
        await both.say("да")
        await both.say("всё верно")
        [alert] = await bot_api.wait_for(
            lambda: [s for s in bot_api.to(ADMIN_CHAT) if "Новая заявка" in s.text]
        )
        assert "MAX" in alert.text and "Ольга Петрова (@olga_p)" in alert.text
        bot_api.press(alert, dict(alert.buttons)["В работу"], user_id=ADMIN)
        await bot_api.wait_for(lambda: csv_rows(both.app.settings.leads_csv)[-1]["Статус"] == "в работе")
        [row] = csv_rows(both.app.settings.leads_csv)
        assert (row["Канал"], row["Контакт"]) == ("max", "Ольга Петрова (@olga_p)")


async def test_a_reply_in_telegram_reaches_the_patient_in_max(bot_api: FakeBotApi, tmp_path: Path) -> None:
    async with running(tmp_path, bot_api) as both:
        await both.say("хочу к кардиологу")
        assert "администратор" in "\n".join(str(m["text"]) for m in await both.say("позовите администратора"))
        [handoff] = await bot_api.wait_for(
            lambda: [s for s in bot_api.to(ADMIN_CHAT) if "просит администратора" in s.text]
        )
        bot_api.message(ADMIN_CHAT, "Здравствуйте! Перезвоню через 5 минут.", user_id=ADMIN,
                        chat_type="supergroup", reply_to=handoff)  # fmt: skip
        await bot_api.wait_for(
            lambda: both.max_api.to(PATIENT) and "Перезвоню" in both.max_api.to(PATIENT)[-1]["text"]
        )
        assert await both.say("Спасибо") == []
        relayed = await bot_api.wait_for(lambda: [s for s in bot_api.to(ADMIN_CHAT) if "Спасибо" in s.text])
        stored = both.app.store.find(KEY)
        assert stored is not None and stored.state.stage == Stage.HANDOFF
        bot_api.press(relayed[0], "hb", user_id=ADMIN)
        await bot_api.wait_for(lambda: "снова на связи" in both.max_api.to(PATIENT)[-1]["text"])
