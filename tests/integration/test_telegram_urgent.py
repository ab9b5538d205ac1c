"""Emergency signs mid-booking, through Telegram: the admin chat gets an urgent alert and the lead says «срочно»."""

from __future__ import annotations

import csv
from pathlib import Path

from tests.fakes.bot_api import FakeBotApi
from tests.integration.telegram_harness import ADMIN_CHAT, Running, running_bot, telegram_settings
from tests.integration.test_telegram_admin import settle

PATIENT = 5550031


async def say(run: Running, text: str) -> str:
    """The patient writes; every message the bot sends back, joined."""
    before = len(run.api.to(PATIENT))
    run.api.message(PATIENT, text, username="petr_i")
    await settle(run, PATIENT, before)
    return "\n".join(sent.text for sent in run.api.to(PATIENT)[before:])


async def test_an_emergency_mid_booking_is_urgent_for_the_administrators(
    bot_api: FakeBotApi, tmp_path: Path
) -> None:
    settings = telegram_settings(tmp_path, bot_api)
    async with running_bot(settings, bot_api) as run:
        for text in ("Хочу к терапевту", "да", "Пётр"):
            await say(run, text)
        advice = await say(run, "у отца сильно давит в груди и холодный пот")
        assert "103" in advice and "112" in advice
        urgent = await bot_api.wait_for(lambda: [s for s in bot_api.to(ADMIN_CHAT) if "СРОЧНО" in s.text])
        assert "боль или давление в груди" in urgent[0].text and "давит в груди" in urgent[0].text
        # Not a patient asking for a person: the bot goes on answering until an administrator replies.
        assert "неотложное состояние" in urgent[0].text and "просит администратора" not in urgent[0].text
        assert "Бот продолжает отвечать" in urgent[0].text
        for text in ("+7 912 345-67-31", "до обеда", "впервые", "да"):
            await say(run, text)
        leads = await bot_api.wait_for(
            lambda: [s for s in bot_api.to(ADMIN_CHAT) if "Новая заявка" in s.text]
        )
        assert "Комментарий: срочно" in leads[-1].text
        with settings.leads_csv.open(encoding="utf-8", newline="") as f:
            [row] = list(csv.DictReader(f))
        assert row["Комментарий"].startswith("срочно")
