"""The administrators' chat: status buttons change the lead in the CSV, only members may press, handoff relay."""

from __future__ import annotations

import csv
from pathlib import Path

from bot.dialogue.state import Stage
from tests.fakes.bot_api import FakeBotApi, Sent
from tests.integration.telegram_harness import ADMIN, ADMIN_CHAT, Running, running_bot, telegram_settings

PATIENT = 5550002
STRANGER = 999


async def settle(run: Running, chat: int, before: int) -> Sent:
    await run.api.wait_for(lambda: len(run.api.to(chat)) > before and run.runtime.channel.pending == 0)
    return run.api.to(chat)[-1]


async def say(run: Running, text: str, chat: int = PATIENT) -> Sent:
    before = len(run.api.to(chat))
    run.api.message(chat, text, username="petr_i")
    return await settle(run, chat, before)


async def book(run: Running) -> Sent:
    """A full booking by free text; returns the admin alert."""
    for text in ("Хочу к лору", "да", "Пётр", "+7 912 345-67-00", "до обеда", "повторно", "да, верно"):
        await say(run, text)
    alerts = await run.api.wait_for(lambda: [s for s in run.api.to(ADMIN_CHAT) if "Новая заявка" in s.text])
    return alerts[-1]


def csv_status(path: Path) -> str:
    with path.open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))[-1]["Статус"]


async def test_status_buttons_change_the_csv_and_edit_the_alert(bot_api: FakeBotApi, tmp_path: Path) -> None:
    settings = telegram_settings(tmp_path, bot_api)
    async with running_bot(settings, bot_api) as run:
        alert = await book(run)
        assert csv_status(settings.leads_csv) == "новая"
        bot_api.press(alert, dict(alert.buttons)["Записан"], user_id=ADMIN)
        await bot_api.wait_for(lambda: alert.edits)
        assert "записан" in alert.edits[-1] and "Ольга" in alert.edits[-1]
        assert [label for label, _ in alert.buttons] == ["В работу", "Записан", "Не дозвонились", "Отказ"]
        await bot_api.wait_for(lambda: csv_status(settings.leads_csv) == "записан")
        changes = run.app.db.query("SELECT status, by FROM status_changes ORDER BY rowid DESC LIMIT 1")
        assert changes[0] == ("записан", "Ольга")
        assert any(a.get("text") == "Статус: записан" for a in bot_api.answered)


async def test_a_non_member_cannot_press(bot_api: FakeBotApi, tmp_path: Path) -> None:
    settings = telegram_settings(tmp_path, bot_api)
    async with running_bot(settings, bot_api) as run:
        alert = await book(run)
        bot_api.press(alert, dict(alert.buttons)["Отказ"], user_id=STRANGER)
        answer = await bot_api.wait_for(lambda: [a for a in bot_api.answered if a.get("show_alert")])
        assert "только участники" in answer[0]["text"]
        assert not alert.edits
        assert csv_status(settings.leads_csv) == "новая"
        assert run.app.store.leads()[0].status == "новая"


async def test_an_administrator_removed_from_the_chat_cannot_press_any_more(
    bot_api: FakeBotApi, tmp_path: Path
) -> None:
    settings = telegram_settings(tmp_path, bot_api)
    async with running_bot(settings, bot_api) as run:
        alert = await book(run)
        bot_api.press(alert, dict(alert.buttons)["В работу"], user_id=ADMIN)
        await bot_api.wait_for(lambda: csv_status(settings.leads_csv) == "в работе")  # the sink has it too
        bot_api.members[ADMIN_CHAT].discard(ADMIN)  # removed from the administrators' group
        bot_api.press(alert, dict(alert.buttons)["Отказ"], user_id=ADMIN)  # a press a moment later
        answer = await bot_api.wait_for(lambda: [a for a in bot_api.answered if a.get("show_alert")])
        assert "только участники" in answer[0]["text"]
        assert run.app.store.leads()[0].status == "в работе"
        assert csv_status(settings.leads_csv) == "в работе"
        assert len(bot_api.method_calls("getChatMember")) == 2  # asked again, not taken from a cache


async def test_when_telegram_cannot_confirm_membership_the_press_is_refused_politely(
    bot_api: FakeBotApi, tmp_path: Path
) -> None:
    settings = telegram_settings(tmp_path, bot_api)
    async with running_bot(settings, bot_api) as run:
        alert = await book(run)
        bot_api.press(alert, dict(alert.buttons)["В работу"], user_id=ADMIN)
        await bot_api.wait_for(lambda: run.app.store.leads()[0].status == "в работе")
        bot_api.fail_next(1, status=500, method="getChatMember")  # Telegram's outage during the check
        bot_api.press(alert, dict(alert.buttons)["Отказ"], user_id=STRANGER)
        answer = await bot_api.wait_for(lambda: [a for a in bot_api.answered if a.get("show_alert")])
        assert "Не удалось проверить" in answer[0]["text"] and "ещё раз" in answer[0]["text"]
        assert run.app.store.leads()[0].status == "в работе"
        # once Telegram answers again, a member's press works at once
        bot_api.press(alert, dict(alert.buttons)["Записан"], user_id=ADMIN)
        await bot_api.wait_for(lambda: run.app.store.leads()[0].status == "записан")


async def test_handoff_round_trip(bot_api: FakeBotApi, tmp_path: Path) -> None:
    settings = telegram_settings(tmp_path, bot_api)
    async with running_bot(settings, bot_api) as run:
        await say(run, "Здравствуйте, у меня вопрос про анализы")
        await say(run, "Позовите администратора, пожалуйста")
        alerts = await bot_api.wait_for(
            lambda: [s for s in bot_api.to(ADMIN_CHAT) if "просит администратора" in s.text]
        )
        handoff = alerts[0]
        assert "вопрос про анализы" in handoff.text  # the recent messages come with it
        assert dict(handoff.buttons).get("Вернуть боту") == "hb"
        # the administrator answers by replying to the alert: the patient gets it
        before = len(bot_api.to(PATIENT))
        bot_api.message(ADMIN_CHAT, "Здравствуйте! Анализы сдаются натощак, с 8 до 11.", user_id=ADMIN,
                    chat_type="supergroup", reply_to=handoff)  # fmt: skip
        await bot_api.wait_sent(PATIENT, before + 1)
        assert bot_api.to(PATIENT)[-1].text == "Здравствуйте! Анализы сдаются натощак, с 8 до 11."
        await bot_api.wait_for(lambda: any("Отправлено пациенту" in s.text for s in bot_api.to(ADMIN_CHAT)))
        # the patient's next message goes to the administrators, the bot stays quiet
        before = len(bot_api.to(PATIENT))
        bot_api.message(PATIENT, "Спасибо! А в субботу можно?")
        relayed = await bot_api.wait_for(
            lambda: [s for s in bot_api.to(ADMIN_CHAT) if "в субботу можно" in s.text]
        )
        await run.runtime.channel.drain()
        assert len(bot_api.to(PATIENT)) == before
        key = f"telegram:{PATIENT}"
        assert run.app.store.find(key).state.stage == Stage.HANDOFF  # type: ignore[union-attr]
        # «Вернуть боту» on the relayed message
        bot_api.press(relayed[0], "hb", user_id=ADMIN)
        await bot_api.wait_sent(PATIENT, before + 1)
        assert "снова на связи" in bot_api.to(PATIENT)[-1].text
        await bot_api.wait_for(lambda: relayed[0].edits)
        assert "Возвращено боту" in relayed[0].edits[-1]
        reply = await say(run, "Где вы находитесь?")
        assert reply.text and run.app.store.find(key).state.stage != Stage.HANDOFF  # type: ignore[union-attr]


async def test_report_command_in_admin_chat(bot_api: FakeBotApi, tmp_path: Path) -> None:
    settings = telegram_settings(tmp_path, bot_api)
    async with running_bot(settings, bot_api) as run:
        await book(run)
        before = len(bot_api.to(ADMIN_CHAT))
        bot_api.message(ADMIN_CHAT, "/report 7", user_id=ADMIN, chat_type="supergroup")
        await bot_api.wait_for(lambda: bot_api.photos, timeout=20)
        texts = [s.text for s in bot_api.to(ADMIN_CHAT)[before:]]
        assert any("<pre>" not in t and t for t in texts)
        assert bot_api.photos[0][1] > 1000  # a PNG was uploaded


async def test_a_private_admin_chat_gets_admin_help_not_a_patient_conversation(
    bot_api: FakeBotApi, tmp_path: Path
) -> None:
    """ADMIN_CHAT_ID may be an administrator's own private chat: the bot does not start booking them."""
    settings = telegram_settings(tmp_path, bot_api, admin_chat_id=ADMIN)
    async with running_bot(settings, bot_api) as run:
        bot_api.message(ADMIN, "привет, как дела?", user_id=ADMIN)
        replies = await bot_api.wait_for(lambda: bot_api.to(ADMIN))
        assert "Кнопки под заявкой" in replies[0].text
        assert run.app.store.find(f"telegram:{ADMIN}") is None  # no patient conversation was started
        alert_count = len(bot_api.to(ADMIN))
        for text in ("Хочу к лору", "да", "Пётр", "+7 912 345-67-00", "до обеда", "повторно", "да, верно"):
            await say(run, text)  # a patient in their own chat is served as always
        alerts = await bot_api.wait_for(
            lambda: [s for s in bot_api.to(ADMIN)[alert_count:] if "Новая заявка" in s.text]
        )
        assert "+79123456700" in alerts[0].text
