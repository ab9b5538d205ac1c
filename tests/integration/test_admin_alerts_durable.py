"""Administrators' alerts survive an outage of the admin chat and a crash: kept with the turn that caused
them, posted again by the timers' loop until the chat has them, once."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path

from bot.alerts import GRACE, Alert
from bot.clock import FakeClock
from bot.http.server import health
from bot.scheduler import tick
from bot.service import ALERT_WAIT
from tests.conftest import OPEN_TIME
from tests.fakes.bot_api import FakeBotApi, Sent
from tests.integration.telegram_harness import ADMIN_CHAT, Running, running_bot, telegram_settings
from tests.integration.test_telegram_admin import book, say

BOOKING = ("Хочу к лору", "да", "Пётр", "+7 912 345-67-00", "до обеда", "повторно", "да, верно")


@asynccontextmanager
async def clinic_bot(api: FakeBotApi, tmp_path: Path) -> AsyncIterator[tuple[Running, FakeClock]]:
    """The bot on the fake Bot API with a clock the test moves (the clinic is open)."""
    clock = FakeClock(OPEN_TIME)
    async with running_bot(telegram_settings(tmp_path, api), api, clock=clock) as run:
        yield run, clock


def new_lead_alerts(api: FakeBotApi) -> list[str]:
    return [s.text for s in api.to(ADMIN_CHAT) if "Новая заявка" in s.text]


async def hand_off(run: Running, text: str) -> Sent:
    """The patient asks for a person; the handoff alert in the admin chat."""
    await say(run, text)
    alerts = await run.api.wait_for(
        lambda: [s for s in run.api.to(ADMIN_CHAT) if "просит администратора" in s.text]
    )
    return alerts[0]  # type: ignore[no-any-return]


async def test_a_lead_alert_refused_by_the_admin_chat_is_posted_once_the_chat_is_back(
    bot_api: FakeBotApi, tmp_path: Path
) -> None:
    async with clinic_bot(bot_api, tmp_path) as (run, clock):
        bot_api.blocked.add(ADMIN_CHAT)  # the bot was removed from the admin chat (403), for a while
        for text in BOOKING:
            await say(run, text)
        assert any(
            "Заявка принята" in s.text for s in bot_api.to(5550002)[-2:]
        )  # the patient is not kept waiting
        assert new_lead_alerts(bot_api) == []
        assert run.app.store.alerts.pending() == 1
        assert (await tick(run.app)).alerts == 0  # the pause after a failure has not passed: not tried
        clock.advance(timedelta(minutes=1))
        assert (await tick(run.app)).alerts == 0  # still refused: kept, the pause doubles
        assert run.app.store.alerts.pending() == 1
        report = health(run.app)
        assert report["status"] == "degraded" and report["admin_alerts"] == {"pending": 1, "failing": 1}
        bot_api.blocked.discard(ADMIN_CHAT)
        clock.advance(timedelta(minutes=2))
        assert (await tick(run.app)).alerts == 1
        [alert] = new_lead_alerts(bot_api)
        assert "Пётр" in alert and "+79123456700" in alert.replace(" ", "").replace("-", "")
        assert run.app.store.alerts.pending() == 0
        assert health(run.app)["status"] == "ok"
        clock.advance(timedelta(hours=1))
        assert (await tick(run.app)).alerts == 0
        assert len(new_lead_alerts(bot_api)) == 1
        # the late alert's buttons work like any other
        sent = next(s for s in bot_api.to(ADMIN_CHAT) if "Новая заявка" in s.text)
        assert [label for label, _ in sent.buttons][:2] == ["В работу", "Записан"]


async def test_an_alert_left_by_a_crash_is_posted_by_the_next_run(
    bot_api: FakeBotApi, tmp_path: Path
) -> None:
    clock = FakeClock(OPEN_TIME)
    settings = telegram_settings(tmp_path, bot_api)
    async with running_bot(settings, bot_api, clock=clock) as run:
        await book(run)
        lead = run.app.store.leads()[0]
        # as a kill -9 right after the commit would leave it: the turn's alert written, never posted
        with run.app.db.transaction() as conn:
            run.app.store.alerts.add(
                conn, [Alert.about_lead(lead, "telegram:5550002", updated=False)], clock.now()
            )
    posted = len(new_lead_alerts(bot_api))
    async with running_bot(settings, bot_api, clock=clock) as run:
        assert (await tick(run.app)).alerts == 0  # an alert of a live process gets its grace
        assert (await tick(run.app, all_alerts=True)).alerts == 1  # the first pass of a run takes them all
        assert len(new_lead_alerts(bot_api)) == posted + 1
        assert lead.id in new_lead_alerts(bot_api)[-1]
        clock.advance(GRACE * 2)
        assert (await tick(run.app)).alerts == 0


async def test_a_relayed_message_during_an_outage_reaches_the_administrators_later(
    bot_api: FakeBotApi, tmp_path: Path
) -> None:
    async with clinic_bot(bot_api, tmp_path) as (run, clock):
        await hand_off(run, "Позовите администратора, пожалуйста")
        bot_api.blocked.add(ADMIN_CHAT)
        bot_api.message(5550002, "Я буду на связи после шести")
        await bot_api.wait_for(
            lambda: run.app.store.alerts.pending() == 1 and run.runtime.channel.pending == 0
        )
        bot_api.blocked.discard(ADMIN_CHAT)
        clock.advance(timedelta(minutes=1))
        assert (await tick(run.app)).alerts == 1
        relayed = [s for s in bot_api.to(ADMIN_CHAT) if "после шести" in s.text]
        assert len(relayed) == 1 and dict(relayed[0].buttons).get("Вернуть боту") == "hb"


async def test_a_consent_withdrawal_clears_the_patient_s_data_from_the_alerts_already_posted(
    bot_api: FakeBotApi, tmp_path: Path
) -> None:
    async with clinic_bot(bot_api, tmp_path) as (run, clock):
        handoff = await hand_off(run, "Позовите администратора, мой номер +7 912 345-67-00")
        bot_api.press(handoff, "hb", user_id=777)
        await bot_api.wait_for(lambda: handoff.edits)
        for text in BOOKING[:-2]:
            await say(run, text)
        clock.advance(timedelta(hours=3))  # silent: the unconfirmed row and its alert
        await tick(run.app)
        [lead] = run.app.store.leads()
        [alert] = [s for s in bot_api.to(ADMIN_CHAT) if lead.id in s.text]
        assert "Пётр" in alert.text
        await say(run, "отзываю согласие на обработку данных")
        await bot_api.wait_for(lambda: alert.edits and len(handoff.edits) > 1)
        assert "Пётр" not in alert.edits[-1] and "отозвал согласие" in alert.edits[-1]
        assert [label for label, _ in alert.buttons][:2] == [
            "В работу",
            "Записан",
        ]  # the status stays settable
        assert "912" not in handoff.edits[-1] and not handoff.buttons
        [notice] = [s.text for s in bot_api.to(ADMIN_CHAT) if "отозвал согласие" in s.text and "⚠️" in s.text]
        assert lead.id in notice and "очистил" in notice


async def test_a_slow_admin_chat_does_not_hold_the_patient_s_answer(
    bot_api: FakeBotApi, tmp_path: Path
) -> None:
    settings = telegram_settings(tmp_path, bot_api)
    async with running_bot(settings, bot_api) as run:
        for text in BOOKING[:-1]:
            await say(run, text)
        # the next call, the lead's alert, is told to wait 4 s (Telegram's flood control in a busy group)
        bot_api.fail_next(1, status=429, retry_after=4, method="sendMessage")
        started = time.monotonic()
        reply = await say(run, "да, верно")
        answered = time.monotonic() - started
        assert any("Заявка принята" in s.text for s in bot_api.to(5550002)[-2:]), reply.text
        assert answered < ALERT_WAIT + 1.5  # not the 4 s the admin chat asked for
        assert new_lead_alerts(bot_api) == []
        await bot_api.wait_for(
            lambda: new_lead_alerts(bot_api), timeout=10
        )  # still posted, in the background
        assert time.monotonic() - started >= 4
        await bot_api.wait_for(lambda: run.app.store.alerts.pending() == 0)
    assert len(new_lead_alerts(bot_api)) == 1
