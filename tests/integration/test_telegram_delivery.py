"""Telegram's hard cases: quick messages joined, 429/5xx/403, markup, media, edits, stale buttons, restart."""

from __future__ import annotations

import time
from pathlib import Path

from bot.channels.telegram.channel import TelegramChannel
from bot.dialogue.messages import Outgoing
from bot.http.health import error_log
from tests.fakes.bot_api import FakeBotApi, Sent
from tests.integration.telegram_harness import ADMIN_CHAT, Running, running_bot, telegram_settings

PATIENT = 5550003


async def settle(run: Running, chat: int, before: int) -> Sent:
    await run.api.wait_for(lambda: len(run.api.to(chat)) > before and run.runtime.channel.pending == 0)
    return run.api.to(chat)[-1]


async def say(run: Running, text: str, chat: int = PATIENT) -> Sent:
    before = len(run.api.to(chat))
    run.api.message(chat, text)
    return await settle(run, chat, before)


async def test_quick_messages_are_answered_once_together(bot_api: FakeBotApi, tmp_path: Path) -> None:
    settings = telegram_settings(tmp_path, bot_api, telegram_debounce="0.4s")
    async with running_bot(settings, bot_api) as run:
        channel: TelegramChannel = run.runtime.channel
        for text in ("Здравствуйте", "хочу к лору", "на завтра"):
            bot_api.message(PATIENT, text)
        await settle(run, PATIENT, 0)
        assert channel.handled == 1  # one dialogue turn for the three messages
        state = run.app.store.find(f"telegram:{PATIENT}").state  # type: ignore[union-attr]
        assert state.booking.specialty or state.booking.doctor  # "к лору" was understood with the greeting
        # a later message (after the window) is a new turn
        await say(run, "да")
        assert channel.handled == 2


async def test_an_edit_inside_the_debounce_window_is_read_instead(
    bot_api: FakeBotApi, tmp_path: Path
) -> None:
    """The patient fixes a typo before the bot has read the message: the fix is what the bot reads, once."""
    settings = telegram_settings(tmp_path, bot_api, telegram_debounce="0.6s")
    async with running_bot(settings, bot_api) as run:
        channel: TelegramChannel = run.runtime.channel
        first = bot_api.message(PATIENT, "Хочу к терапевту")
        bot_api.message(PATIENT, "Хочу к лору", edited=True, message_id=first["message"]["message_id"])
        reply = await settle(run, PATIENT, 0)
        await channel.drain()
        assert channel.handled == 1 and len(bot_api.to(PATIENT)) == 1  # no "you edited" note, one answer
        assert "ЛОР" in reply.text
        state = run.app.store.find(f"telegram:{PATIENT}").state  # type: ignore[union-attr]
        assert "ЛОР" in state.booking.specialty and "ерапевт" not in state.booking.specialty
        # the turn is recorded as the answer to the original update (a replay would not decide it again)
        receipt = f"telegram:{run.runtime.bot.id}:{first['update_id']}"
        assert run.app.service.answered([receipt]).receipts == {receipt}


async def test_429_is_waited_out_and_5xx_retried(bot_api: FakeBotApi, tmp_path: Path) -> None:
    settings = telegram_settings(tmp_path, bot_api)
    async with running_bot(settings, bot_api) as run:
        bot_api.fail_next(1, 429, retry_after=1, method="sendMessage")
        bot_api.fail_next(2, 502, method="sendMessage")
        started = time.monotonic()
        reply = await say(run, "Здравствуйте")
        assert reply.text
        assert time.monotonic() - started >= 1.0  # retry_after honoured
        sends = bot_api.method_calls("sendMessage")
        assert len(sends) >= 4  # 429, 502, 502, then delivered
        assert run.runtime.channel.delivery.counts["retried"] >= 3


async def test_a_blocked_patient_is_recorded_not_retried(bot_api: FakeBotApi, tmp_path: Path) -> None:
    settings = telegram_settings(tmp_path, bot_api)
    async with running_bot(settings, bot_api) as run:
        bot_api.blocked.add(PATIENT)
        bot_api.message(PATIENT, "Здравствуйте")
        await bot_api.wait_for(lambda: bot_api.method_calls("sendMessage"))
        await run.runtime.channel.drain()
        assert len([c for c in bot_api.method_calls("sendMessage") if int(c["chat_id"]) == PATIENT]) == 1
        assert PATIENT in run.runtime.channel.delivery.blocked
        assert any("blocked" in e["error"] for e in error_log(run.app).recent())
        # another patient is served as usual
        reply = await say(run, "Здравствуйте", chat=PATIENT + 1)
        assert reply.text


async def test_patient_text_never_breaks_the_markup_and_long_text_is_split(
    bot_api: FakeBotApi, tmp_path: Path
) -> None:
    settings = telegram_settings(tmp_path, bot_api)
    async with running_bot(settings, bot_api) as run:
        await say(run, "Здравствуйте")
        await say(run, "Позовите администратора <b>срочно</b> & <script>alert(1)</script>")
        alert = await bot_api.wait_for(lambda: [s for s in bot_api.to(ADMIN_CHAT) if "просит" in s.text])
        assert "&lt;script&gt;" in alert[0].text and "&amp;" in alert[0].text
        sent = await run.runtime.channel.send(PATIENT + 5, [Outgoing("Очень длинно. " * 700)])
        assert sent
        pieces = bot_api.to(PATIENT + 5)
        assert len(pieces) == 3 and all(len(p.text) <= 4096 for p in pieces)


async def test_media_gets_a_polite_text_answer(bot_api: FakeBotApi, tmp_path: Path) -> None:
    settings = telegram_settings(tmp_path, bot_api)
    async with running_bot(settings, bot_api) as run:
        before = len(bot_api.to(PATIENT))
        bot_api.message(
            PATIENT, None, extra={"voice": {"file_id": "v1", "file_unique_id": "u", "duration": 3}}
        )
        reply = await settle(run, PATIENT, before)
        assert "текст" in reply.text.lower()


async def test_edits_and_stale_buttons(bot_api: FakeBotApi, tmp_path: Path) -> None:
    settings = telegram_settings(tmp_path, bot_api)
    async with running_bot(settings, bot_api) as run:
        await say(run, "Здравствуйте")
        consent = await say(run, "Хочу записаться к терапевту")
        assert consent.buttons
        yes = next(d for label, d in consent.buttons if "огласен" in label)
        before = len(bot_api.to(PATIENT))
        bot_api.press(consent, yes)
        await settle(run, PATIENT, before)
        assert consent.edits and "✓" in consent.edits[-1]  # the choice is shown in place of the buttons
        handled = run.runtime.channel.handled
        bot_api.press(consent, yes)  # the same (now stale) keyboard pressed again
        stale = await bot_api.wait_for(
            lambda: [a for a in bot_api.answered if "неактуальны" in str(a.get("text"))]
        )
        assert stale
        await run.runtime.channel.drain()
        assert run.runtime.channel.handled == handled
        assert len(bot_api.answered) == len(bot_api.method_calls("answerCallbackQuery")) >= 2
        # the patient edits their latest message: asked to write the fix anew, the dialogue is not re-run
        before = len(bot_api.to(PATIENT))
        name = bot_api.message(PATIENT, "Анька")
        await settle(run, PATIENT, before)
        before = len(bot_api.to(PATIENT))
        handled = run.runtime.channel.handled
        bot_api.message(PATIENT, "Анна", edited=True, message_id=name["message"]["message_id"])
        note = await settle(run, PATIENT, before)
        assert "исправили" in note.text and run.runtime.channel.handled == handled
        state = run.app.store.find(f"telegram:{PATIENT}").state  # type: ignore[union-attr]
        assert state.booking.name == "Анька"
        # an edit of an old message is ignored
        handled = run.runtime.channel.handled
        before = len(bot_api.to(PATIENT))
        bot_api.message(PATIENT, "ерунда", edited=True, message_id=1)
        await bot_api.wait_for(lambda: not bot_api.updates)
        await run.runtime.channel.drain()
        assert run.runtime.channel.handled == handled and len(bot_api.to(PATIENT)) == before


async def test_restart_in_the_middle_of_a_booking(bot_api: FakeBotApi, tmp_path: Path) -> None:
    settings = telegram_settings(tmp_path, bot_api)
    async with running_bot(settings, bot_api) as run:
        for text in ("Хочу к лору", "да", "Ирина"):
            await say(run, text)
        asked_phone = bot_api.to(PATIENT)[-1]
        assert "телефон" in asked_phone.text.lower()
        before = len(bot_api.to(PATIENT))
        last_update = bot_api.message(PATIENT, "89123450011")
        await settle(run, PATIENT, before)
    count = len(bot_api.to(PATIENT))
    async with running_bot(settings, bot_api) as run:
        bot_api.add_update(dict(last_update))  # Telegram redelivers an update: not answered twice
        reply = await say(run, "после 14")
        assert reply.text and run.runtime.channel.handled == 1  # only "после 14" was processed
        texts = [s.text.lower() for s in bot_api.to(PATIENT)[count:]]
        assert not any("как к вам обращаться" in t or "номер телефона" in t for t in texts)
        state = run.app.store.find(f"telegram:{PATIENT}").state  # type: ignore[union-attr]
        assert state.booking.name == "Ирина" and state.booking.phone == "+79123450011"
        assert state.booking.window == "после 14:00"
