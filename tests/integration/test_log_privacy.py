"""No patient's phone, name or words in the log at INFO (152-FZ): a whole booking, a handoff with a relayed
message, a silence recorded as an unconfirmed lead and a consent withdrawal, in every channel, with the
alerts going to the log (no admin chat). The log is captured as the code writes it, before the safety-net
filter of `setup_logging`: what is checked here is that the lines themselves carry nothing of the patient."""

from __future__ import annotations

import logging
import re
from datetime import timedelta
from pathlib import Path

import pytest

from bot.clock import FakeClock
from bot.config import Settings
from bot.dialogue.messages import Address, Incoming
from bot.notify import LogNotifier
from bot.scheduler import tick
from tests.fakes.bot_api import FakeBotApi
from tests.integration.telegram_harness import running_bot, telegram_settings
from tests.integration.test_telegram_booking import say as tg_say
from tests.integration.web_harness import serving, text_of, web_settings
from tests.integration.whatsapp_harness import running, visible

NAME = "Ольга"
COMPLAINT = "заложен нос"  # in the booking; the relayed message below is another of the patient's sentences
RELAYED = "мне срочно нужна справка для бассейна"
BOOKING = [f"Я {NAME}, {COMPLAINT}, хочу к лору после обеда, впервые, 8 (912) 345-67-89", "да", "да"]
PHONE_DIGITS = "9123456789"  # the national number, in whatever form it was written or stored
SILENT = [f"Меня зовут {NAME}, хочу к терапевту", "да", "89271234567"]
SILENT_DIGITS = "9271234567"
WITHDRAW = "отзываю согласие на обработку данных"


def info_log(caplog: pytest.LogCaptureFixture) -> str:
    lines = []
    for record in caplog.records:
        if record.levelno >= logging.INFO:
            lines.append(record.getMessage())
            if record.exc_info:
                lines.append(logging.Formatter().formatException(record.exc_info))
    return "\n".join(lines)


def assert_private(caplog: pytest.LogCaptureFixture) -> None:
    text = info_log(caplog)
    assert text, "nothing was logged at all: the capture is not working"
    digits_only = re.sub(r"[\s\-()+]", "", text)
    for digits in (PHONE_DIGITS, SILENT_DIGITS):
        assert digits not in digits_only, text
    lowered = text.lower()
    for words in (NAME, COMPLAINT, RELAYED, "терапевт", "справк"):
        assert words.lower() not in lowered, f"{words!r} in the log:\n{text}"


def assert_alerts_kept(notifier: object) -> None:
    """The alerts did go to the log notifier in full (so the test did reach them)."""
    assert isinstance(notifier, LogNotifier)
    sent = "\n".join(notifier.sent)
    assert "+79123456789" in sent and NAME in sent
    assert RELAYED in sent


@pytest.fixture
def capture(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.INFO)
    return caplog


async def test_console(settings: Settings, clock: FakeClock, capture: pytest.LogCaptureFixture) -> None:
    from bot.bootstrap import build_app

    app = build_app(settings, clock=clock)
    try:
        patient = Address("console", "p1", "p1")
        for text in BOOKING:
            replies = await app.service.handle(patient, Incoming(text=text))
        assert any("Заявка принята" in r.text for r in replies)
        await app.service.handle(patient, Incoming(text="Позовите администратора"))
        await app.service.handle(patient, Incoming(text=RELAYED))
        silent = Address("console", "p2", "p2")
        for text in SILENT:
            await app.service.handle(silent, Incoming(text=text))
        clock.advance(timedelta(hours=3))
        assert (await tick(app)).unconfirmed == 1
        await app.service.handle(silent, Incoming(text=WITHDRAW))
        assert_alerts_kept(app.notifier)
    finally:
        app.close()
    assert_private(capture)


async def test_whatsapp(settings: Settings, clock: FakeClock, capture: pytest.LogCaptureFixture) -> None:
    async with running(settings, clock) as wa:
        for text in BOOKING:
            replies = await wa.say(text, name=NAME)
        assert "Заявка принята" in visible(replies)
        await wa.say("Позовите администратора", name=NAME)
        await wa.say(RELAYED, name=NAME)
        for text in SILENT:
            await wa.say(text, wa_id="79271234567", name=NAME)
        wa.clock.advance(timedelta(hours=3))
        assert (await tick(wa.app)).unconfirmed == 1
        await wa.say(WITHDRAW, wa_id="79271234567", name=NAME)
        assert_alerts_kept(wa.app.notifier)
    assert_private(capture)
    assert "whatsapp:+7912***89" in info_log(capture)  # the conversation is still told apart


async def test_web_widget(settings: Settings, clock: FakeClock, capture: pytest.LogCaptureFixture) -> None:
    async with serving(web_settings(settings), clock) as server:
        widget = await server.widget()
        await widget.start()
        for text in BOOKING:
            replies = await widget.say(text)
        assert "Заявка принята" in text_of(replies)
        await widget.say("Позовите администратора")
        await widget.ws.send_json({"type": "message", "text": RELAYED})
        await widget.next("messages")  # the patient's own message echoed; the bot stays quiet
        other = await server.widget()
        await other.start()
        for text in SILENT:
            await other.say(text)
        clock.advance(timedelta(hours=3))
        assert (await tick(server.app)).unconfirmed == 1
        await other.say(WITHDRAW)
        await widget.close()
        await other.close()
        assert_alerts_kept(server.app.notifier)
    assert_private(capture)


async def test_telegram(bot_api: FakeBotApi, tmp_path: Path, capture: pytest.LogCaptureFixture) -> None:
    clock = FakeClock()
    settings = telegram_settings(tmp_path, bot_api, admin_chat_id=None)
    async with running_bot(settings, bot_api, clock=clock) as run:
        for text in BOOKING:
            await tg_say(run, text, username="olga_k")
        assert any("Заявка принята" in sent.text for sent in bot_api.to(5550001))
        await tg_say(run, "Позовите администратора", username="olga_k")
        before = len(bot_api.to(5550001))
        bot_api.message(5550001, RELAYED, username="olga_k")
        await bot_api.wait_for(lambda: run.runtime.channel.pending == 0 and bool(run.app.notifier.sent))
        assert len(bot_api.to(5550001)) == before  # quiet during the handoff
        for text in SILENT:
            await tg_say(run, text, chat=5550002)
        clock.advance(timedelta(hours=3))
        assert (await tick(run.app)).unconfirmed == 1
        await tg_say(run, WITHDRAW, chat=5550002)
        await bot_api.wait_for(lambda: RELAYED in "\n".join(run.app.notifier.sent))  # type: ignore[attr-defined]
        assert_alerts_kept(run.app.notifier)
    assert_private(capture)
