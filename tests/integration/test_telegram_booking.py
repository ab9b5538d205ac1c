"""A patient books through the real aiogram bot and the fake Bot API: by buttons, by free text, by contact."""

from __future__ import annotations

import csv
from pathlib import Path

from tests.fakes.bot_api import FakeBotApi, Sent
from tests.integration.telegram_harness import ADMIN_CHAT, Running, running_bot, telegram_settings

PATIENT = 5550001


def leads(path: Path) -> list[dict[str, str]]:
    if not path.exists():
        return []
    with path.open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


async def settle(run: Running, chat: int, before: int) -> Sent:
    """Wait until the bot answered (something new in the chat and no chat worker busy); the last reply."""
    channel = run.runtime.channel
    await run.api.wait_for(lambda: len(run.api.to(chat)) > before and channel.pending == 0)
    return run.api.to(chat)[-1]


async def say(run: Running, text: str, chat: int = PATIENT, **kw: object) -> Sent:
    """Send a patient message and return the bot's last reply to it."""
    before = len(run.api.to(chat))
    run.api.message(chat, text, **kw)  # type: ignore[arg-type]
    return await settle(run, chat, before)


async def press(run: Running, sent: Sent, label: str, chat: int = PATIENT) -> Sent:
    before = len(run.api.to(chat))
    run.api.press(sent, dict(sent.buttons)[label])
    return await settle(run, chat, before)


def find_button(sent: Sent, *words: str) -> str:
    for label, _ in sent.buttons:
        if all(w.lower() in label.lower() for w in words):
            return label
    raise AssertionError(f"no button with {words} in {sent.buttons}")


async def test_start_greets_and_menu_is_set(bot_api: FakeBotApi, tmp_path: Path) -> None:
    settings = telegram_settings(tmp_path, bot_api)
    async with running_bot(settings, bot_api) as run:
        reply = await say(run, "/start")
        assert "Здравствуйте" in reply.text or "Добрый день" in reply.text
        assert {c["command"] for c in bot_api.commands} >= {"start", "help"} or bot_api.method_calls(
            "setMyCommands"
        )
        commands = [c["commands"] for c in bot_api.method_calls("setMyCommands")]
        assert any(any(x["command"] == "report" for x in cmds) for cmds in commands)
        await say(run, "Где вы находитесь?")  # text waits for more in the debounce window: "typing…" shown
        assert (PATIENT, "typing") in bot_api.actions


async def test_full_booking_by_buttons_and_contact(bot_api: FakeBotApi, tmp_path: Path) -> None:
    settings = telegram_settings(tmp_path, bot_api)
    async with running_bot(settings, bot_api) as run:
        await say(run, "Здравствуйте", username="anna_k")
        reply = await say(run, "Хочу записаться к лору", username="anna_k")
        assert reply.buttons, reply.text
        reply = await press(run, reply, find_button(reply, "согласен"))
        assert "зовут" in reply.text.lower() or "обращаться" in reply.text.lower()
        reply = await say(run, "Анна", username="anna_k")
        assert reply.asks_contact, reply.reply_markup
        before = len(bot_api.to(PATIENT))
        bot_api.contact(PATIENT, "79123456789")
        reply = await settle(run, PATIENT, before)
        assert reply.buttons, reply.text
        reply = await press(run, reply, find_button(reply, "14:00"))
        reply = await press(run, reply, find_button(reply, "Впервые"))
        assert "912 345-67-89" in reply.text and "Анна" in reply.text
        reply = await press(run, reply, find_button(reply, "верно"))
        assert any("Заявка принята" in s.text for s in bot_api.to(PATIENT)[-2:])
        await run.runtime.channel.drain()
        rows = await bot_api.wait_for(lambda: leads(settings.leads_csv))
        assert rows[0]["Телефон"] == "+79123456789"
        assert rows[0]["Канал"] == "telegram"
        assert rows[0]["Контакт"].lstrip("'") == "@anna_k"  # the CSV guards a leading @ against formulas
        assert run.app.store.leads()[0].contact == "@anna_k"
        assert rows[0]["Статус"] == "новая"
        alert = await bot_api.wait_for(
            lambda: [s for s in bot_api.to(ADMIN_CHAT) if "Новая заявка" in s.text]
        )
        assert "+79123456789" in alert[0].text and "t.me/anna_k" in alert[0].text
        assert [label for label, _ in alert[0].buttons] == ["В работу", "Записан", "Не дозвонились", "Отказ"]
        assert all(q for q in bot_api.answered)  # every press answered
        assert len(bot_api.answered) == len(bot_api.method_calls("answerCallbackQuery")) >= 4


async def test_free_text_booking_contact_is_chat_id(bot_api: FakeBotApi, tmp_path: Path) -> None:
    settings = telegram_settings(tmp_path, bot_api)
    async with running_bot(settings, bot_api) as run:
        await say(run, "Здравствуйте, хочу к терапевту")
        replies = [
            "да, согласна",
            "Мария",
            "89123456780",
            "после обеда",
            "впервые",
            "да, всё верно",
        ]
        for text in replies:
            await say(run, text)
        rows = await bot_api.wait_for(lambda: leads(settings.leads_csv))
        assert rows[0]["Имя"] == "Мария"
        assert rows[0]["Контакт"] == str(PATIENT)
        assert rows[0]["Время приёма"] == "после 14:00"


async def test_a_sparse_bot_api_server_still_gets_a_full_booking(bot_api: FakeBotApi, tmp_path: Path) -> None:
    """A local Bot API server or proxy that lacks the menu and webhook methods and answers sent messages with
    their id only: the bot starts, every reply is sent in full, buttons still work, the lead is written."""
    bot_api.missing = {"setmycommands", "getwebhookinfo", "deletewebhook", "sendchataction"}
    bot_api.bare_results = True
    settings = telegram_settings(tmp_path, bot_api)
    async with running_bot(settings, bot_api) as run:
        await say(run, "Здравствуйте")
        reply = await say(run, "Хочу записаться к лору")
        reply = await press(run, reply, find_button(reply, "согласен"))
        reply = await say(run, "Анна")
        reply = await say(run, "+7 912 345-67-89")
        reply = await press(run, reply, find_button(reply, "14:00"))
        reply = await press(run, reply, find_button(reply, "Впервые"))
        assert "912 345-67-89" in reply.text and "Анна" in reply.text
        reply = await press(run, reply, find_button(reply, "верно"))
        await run.runtime.channel.drain()
        rows = await bot_api.wait_for(lambda: leads(settings.leads_csv))
        assert rows[0]["Телефон"] == "+79123456789" and rows[0]["Статус"] == "новая"
        assert run.runtime.channel.delivery.counts["failed"] == 2  # the two command menus only
