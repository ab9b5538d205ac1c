"""A patient books in MAX (long polling and the webhook); the fake MAX Bot API receives the bot's answers."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bot.clock import FakeClock
from bot.config import Settings
from bot.dialogue.messages import Outgoing
from bot.dialogue.state import Stage
from bot.notify import LogNotifier
from tests.fakes.max_api import chat_of
from tests.integration.max_harness import PATIENT, Harness, buttons, running, visible

KEY = f"max:{PATIENT}"


@pytest.fixture(params=["polling", "webhook"])
async def mx(request: pytest.FixtureRequest, settings: Settings, clock: FakeClock) -> AsyncIterator[Harness]:
    async with running(settings, clock, webhook=request.param == "webhook") as harness:
        yield harness


async def test_full_booking_with_buttons(mx: Harness) -> None:
    replies = await mx.send(mx.api.bot_started(PATIENT))
    assert "Здоровье Самары" in visible(replies)
    replies = await mx.press(replies, "ЛОР")
    assert "согласн" in visible(replies).lower()
    assert [b["text"] for b in buttons(replies[-1])] == ["Да, согласен(на)", "Нет"]
    replies = await mx.press(replies, "Да")
    # The press was answered: the keyboard taken away, the choice shown under the text.
    answer = mx.api.answers[-1]
    assert answer["message"]["attachments"] == [] and answer["message"]["text"].endswith("✓ Да, согласен(на)")
    replies = await mx.say("Ольга")
    assert "телефон" in visible(replies)
    assert any(b["type"] == "request_contact" for b in buttons(replies[-1]))
    replies = await mx.say("8 (912) 345-67-89")
    replies = await mx.press(replies, "После 14")
    replies = await mx.press(replies, "Впервые")
    summary = visible(replies)
    assert "Ольга" in summary and "+7 912 345-67-89" in summary and "ЛОР" in summary
    replies = await mx.press(replies, "Всё верно")
    assert "Заявка принята" in visible(replies)

    [lead] = mx.app.sinks["csv"].read_all()  # type: ignore[attr-defined]
    assert (lead.name, lead.phone, lead.service, lead.window, lead.visit) == (
        "Ольга",
        "+79123456789",
        "ЛОР",
        "после 14:00",
        "первичное",
    )
    assert (lead.channel, lead.status) == ("max", "новая")
    assert lead.contact == "Ольга Петрова (@olga_p)"
    header = (mx.app.settings.leads_csv).read_text(encoding="utf-8").splitlines()
    assert ",max," in header[1]
    # "typing…" was shown in the patient's dialog for every update; nothing was refused.
    assert (chat_of(PATIENT), "typing_on") in mx.api.actions
    assert len(mx.api.actions) == 8
    assert mx.api.refused == []
    assert mx.api.auth_styles["query"] == 0 and mx.api.auth_styles["header"] > 0


async def test_booking_by_text_alone(mx: Harness) -> None:
    replies = await mx.say("Добрый день, я Анна, хочу к терапевту утром, повторно, 89271234567")
    replies = await mx.say("да")
    assert "Анна" in visible(replies) and "+7 927 123-45-67" in visible(replies)
    replies = await mx.say("всё верно")  # the button's label typed works like the button
    assert "Заявка принята" in visible(replies)
    [lead] = mx.app.sinks["csv"].read_all()  # type: ignore[attr-defined]
    assert (lead.phone, lead.window, lead.visit, lead.channel) == (
        "+79271234567",
        "до 14:00",
        "повторное",
        "max",
    )


async def test_contact_button_gives_the_phone(mx: Harness) -> None:
    await mx.say("хочу к хирургу")
    await mx.say("да")
    replies = await mx.say("Игорь")
    assert any(b["type"] == "request_contact" for b in buttons(replies[-1]))
    await mx.send(mx.api.contact(PATIENT, "79175554433"))  # MAX writes the number without the plus
    stored = mx.app.store.find(KEY)
    assert stored is not None and stored.state.booking.phone == "+79175554433"


async def test_handoff_relayed_both_ways_and_status_set_by_admin(mx: Harness) -> None:
    await mx.say("хочу к кардиологу")
    replies = await mx.say("позовите администратора")
    assert "администратор" in visible(replies).lower()
    notifier = mx.app.notifier
    assert isinstance(notifier, LogNotifier)
    assert any(s.startswith(f"handoff {KEY}") for s in notifier.sent)

    assert await mx.app.service.admin_reply(KEY, [Outgoing("Здравствуйте! Это Елена, администратор.")])
    assert mx.api.to(PATIENT)[-1]["text"] == "Здравствуйте! Это Елена, администратор."
    replies = await mx.say("Спасибо, жду звонка")
    assert replies == []
    assert notifier.sent[-1] == f"relay {KEY}: Спасибо, жду звонка"
    stored = mx.app.store.find(KEY)
    assert stored is not None and stored.state.stage == Stage.HANDOFF

    assert await mx.app.service.hand_back(KEY, "Я снова на связи. Чем могу помочь?")
    assert mx.api.to(PATIENT)[-1]["text"] == "Я снова на связи. Чем могу помочь?"
    # The patient books; the administrator sets the lead's status: the row in leads.csv follows.
    await mx.say("Запишите к кардиологу, я Ольга, 89123456789, после обеда, впервые")
    await mx.say("да")
    replies = await mx.say("всё верно")
    assert "Заявка принята" in visible(replies)
    [lead] = mx.app.sinks["csv"].read_all()  # type: ignore[attr-defined]
    assert await mx.app.service.set_status(lead.id, "в работе", "Елена") is not None
    [row] = mx.app.sinks["csv"].read_all()  # type: ignore[attr-defined]
    assert (row.id, row.status, row.channel) == (lead.id, "в работе", "max")
