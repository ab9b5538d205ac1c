"""The administrators' chat in MAX (MAX_ADMIN_CHAT_ID): lead alerts with status buttons, a handoff answered
by a reply to its alert, «Вернуть боту»."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bot.clock import FakeClock
from bot.config import Settings
from bot.dialogue.state import Stage
from tests.integration.max_harness import ADMIN, ADMIN_CHAT, PATIENT, Harness, buttons, running, visible

KEY = f"max:{PATIENT}"


@pytest.fixture(params=["polling", "webhook"])
async def mx(request: pytest.FixtureRequest, settings: Settings, clock: FakeClock) -> AsyncIterator[Harness]:
    async with running(settings, clock, webhook=request.param == "webhook", admin_chat=ADMIN_CHAT) as harness:
        yield harness


async def book(mx: Harness) -> None:
    await mx.say("Здравствуйте, я Ольга, хочу к терапевту после обеда, впервые, 89123456789")
    await mx.say("да")
    replies = await mx.say("всё верно")
    assert "Заявка принята" in visible(replies)


async def test_a_lead_alert_with_status_buttons_sets_the_status(mx: Harness) -> None:
    await book(mx)
    [alert] = [m for m in mx.api.in_chat(ADMIN_CHAT) if "Новая заявка" in m["text"]]
    assert "Ольга" in alert["text"] and "+79123456789" in alert["text"] and "Канал: MAX" in alert["text"]
    assert "Ольга Петрова (@olga_p)" in alert["text"]
    assert [b["text"] for b in buttons(alert)] == ["В работу", "Записан", "Не дозвонились", "Отказ"]
    [pressed] = [b for b in buttons(alert) if b["text"] == "Записан"]
    await mx.deliver(mx.api.chat_press(ADMIN, ADMIN_CHAT, alert, pressed["payload"]))
    [lead] = mx.app.sinks["csv"].read_all()  # type: ignore[attr-defined]
    assert lead.status == "записан"
    answer = mx.api.answers[-1]["message"]
    assert "✅ записан — Елена Викторовна" in answer["text"]
    assert len(answer["attachments"]) == 1  # the buttons stay: the status may change again


async def test_handoff_answered_by_a_reply_then_handed_back(mx: Harness) -> None:
    await mx.say("хочу к кардиологу")
    await mx.say("позовите администратора")
    [alert] = [m for m in mx.api.in_chat(ADMIN_CHAT) if "просит администратора" in m["text"]]
    assert "Ольга Петрова (@olga_p)" in alert["text"]
    await mx.deliver(
        mx.api.chat_reply(ADMIN, ADMIN_CHAT, alert, "Здравствуйте! Это Елена, перезвоню через 5 минут.")
    )
    assert mx.api.to(PATIENT)[-1]["text"] == "Здравствуйте! Это Елена, перезвоню через 5 минут."
    # The patient's answer reaches the chat; the bot stays quiet.
    assert await mx.say("Спасибо, жду") == []
    relay = mx.api.in_chat(ADMIN_CHAT)[-1]
    assert "Спасибо, жду" in relay["text"]
    [hand_back] = buttons(relay)
    await mx.deliver(mx.api.chat_press(ADMIN, ADMIN_CHAT, relay, hand_back["payload"]))
    stored = mx.app.store.find(KEY)
    assert stored is not None and stored.state.stage != Stage.HANDOFF
    assert "Возвращено боту" in mx.api.answers[-1]["message"]["text"]
    assert await mx.say("А во сколько вы открываетесь?")  # the bot answers again


async def test_a_reply_to_no_alert_is_explained(mx: Harness) -> None:
    await mx.say("позовите администратора")
    note = {"mid": "mid.unknown", "text": "что-то", "attachments": []}
    await mx.deliver(mx.api.chat_reply(ADMIN, ADMIN_CHAT, note, "Кому это?"))
    assert "ответьте на оповещение" in mx.api.in_chat(ADMIN_CHAT)[-1]["text"]


async def test_emergency_signs_post_an_urgent_alert(mx: Harness) -> None:
    replies = await mx.say("у мужа сильная боль в груди и он задыхается")
    assert "103" in visible(replies) or "112" in visible(replies)
    urgent = [m for m in mx.api.in_chat(ADMIN_CHAT) if "СРОЧНО" in m["text"]]
    assert urgent and "Бот продолжает отвечать" in urgent[0]["text"]
