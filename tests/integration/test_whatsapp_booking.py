"""A patient books on WhatsApp through the signed webhook; the fake Graph API receives the bot's answers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest

from bot.clock import FakeClock
from bot.config import Settings
from bot.dialogue.messages import Outgoing
from bot.dialogue.state import Stage
from bot.notify import LogNotifier
from tests.fakes import meta_webhook as meta
from tests.integration.whatsapp_harness import PATIENT, Harness, options, press, running, visible

KEY = f"whatsapp:{PATIENT}"


@pytest.fixture
async def wa(settings: Settings, clock: FakeClock) -> AsyncIterator[Harness]:
    async with running(settings, clock) as harness:
        yield harness


async def test_full_booking_with_buttons_and_free_text(wa: Harness) -> None:
    replies = await wa.say("Здравствуйте")
    assert "Здоровье Самары" in visible(replies)
    # Eight specialties do not fit three buttons: a list is sent.
    assert replies[-1]["interactive"]["type"] == "list"
    replies = await press(wa, replies, "ЛОР")
    assert "согласн" in visible(replies).lower()
    assert [title for _, _, title in options(replies)] == ["Да, согласен(на)", "Нет"]
    assert replies[-1]["interactive"]["type"] == "button"
    replies = await press(wa, replies, "Да")
    assert "обращаться" in visible(replies) or "имя" in visible(replies)
    replies = await wa.say("Ольга")
    assert "телефон" in visible(replies)
    replies = await wa.say("8 (912) 345-67-89")
    replies = await press(wa, replies, "После 14")
    replies = await press(wa, replies, "Впервые")
    summary = visible(replies)
    assert "Ольга" in summary and "+7 912 345-67-89" in summary and "ЛОР" in summary
    replies = await press(wa, replies, "Всё верно")
    assert "Заявка принята" in visible(replies)

    [lead] = wa.app.sinks["csv"].read_all()  # type: ignore[attr-defined]
    assert (lead.name, lead.phone, lead.service, lead.window, lead.visit) == (
        "Ольга",
        "+79123456789",
        "ЛОР",
        "после 14:00",
        "первичное",
    )
    assert (lead.channel, lead.contact, lead.status) == ("whatsapp", "+79123456789", "новая")
    # Every patient message was marked read with the typing indicator.
    assert len(wa.graph.read_receipts) == 8
    assert all(r["typing_indicator"] == {"type": "text"} for r in wa.graph.read_receipts)
    assert wa.graph.refused == []


async def test_everything_in_one_message_then_a_typed_option(wa: Harness) -> None:
    replies = await wa.say("Добрый день, я Анна, хочу к терапевту утром, повторно, 89271234567")
    replies = await wa.say("да")
    assert "Анна" in visible(replies) and "+7 927 123-45-67" in visible(replies)
    # The patient types the option's label instead of tapping it.
    replies = await wa.say("всё верно")
    assert "Заявка принята" in visible(replies)
    [lead] = wa.app.sinks["csv"].read_all()  # type: ignore[attr-defined]
    assert (lead.phone, lead.window, lead.visit) == ("+79271234567", "до 14:00", "повторное")


async def test_a_number_typed_for_a_listed_option_picks_it(wa: Harness) -> None:
    replies = await wa.say("Здравствуйте")
    rows = [title for _, _, title in options(replies)]
    assert rows[1] == "Терапевт"
    replies = await wa.say("2")
    assert "Терапевт" in visible(replies)
    stored = wa.app.store.find(KEY)
    assert stored is not None and stored.state.booking.specialty == "Терапевт"


async def test_profile_name_is_a_hint_never_taken_without_asking(wa: Harness) -> None:
    await wa.say("хочу к неврологу", name="Мария Иванова")
    replies = await wa.say("да", name="Мария Иванова")
    stored = wa.app.store.find(KEY)
    assert stored is not None
    assert stored.state.profile_name == "Мария Иванова"
    assert stored.state.booking.name == ""
    assert "обращаться" in visible(replies) or "имя" in visible(replies)


async def test_shared_contact_card_gives_the_phone(wa: Harness) -> None:
    await wa.say("хочу к хирургу")
    await wa.say("да")
    await wa.say("Игорь")
    await wa.send(meta.contact_card("+7 917 555-44-33"))
    stored = wa.app.store.find(KEY)
    assert stored is not None and stored.state.booking.phone == "+79175554433"


async def test_admin_handoff_is_relayed_both_ways(wa: Harness) -> None:
    await wa.say("хочу к кардиологу")
    replies = await wa.say("позовите администратора")
    assert "администратор" in visible(replies).lower()
    notifier = wa.app.notifier
    assert isinstance(notifier, LogNotifier)
    assert any(s.startswith(f"handoff {KEY}") for s in notifier.sent)

    # The administrator answers the alert: the patient gets it on WhatsApp.
    assert await wa.app.service.admin_reply(KEY, [Outgoing("Здравствуйте! Это Елена, администратор.")])
    assert wa.graph.texts(PATIENT)[-1] == "Здравствуйте! Это Елена, администратор."
    # The patient's answer goes to the administrators; the bot stays quiet.
    replies = await wa.say("Спасибо, жду звонка")
    assert replies == []
    assert notifier.sent[-1] == f"relay {KEY}: Спасибо, жду звонка"
    stored = wa.app.store.find(KEY)
    assert stored is not None and stored.state.stage == Stage.HANDOFF

    # Handed back: the bot speaks again.
    assert await wa.app.service.hand_back(KEY, "Я снова на связи. Чем могу помочь?")
    assert wa.graph.texts(PATIENT)[-1] == "Я снова на связи. Чем могу помочь?"


async def test_no_relay_outside_the_24_hour_window(wa: Harness, clock: FakeClock) -> None:
    await wa.say("позовите администратора")
    sent = len(wa.graph.sent)
    clock.advance(timedelta(hours=24, minutes=1))
    assert not await wa.app.service.admin_reply(KEY, [Outgoing("Извините за задержку!")])
    assert len(wa.graph.sent) == sent
    assert wa.channel.counts["window_closed"] == 1
    # The patient writes again (the handoff has timed out, so the bot answers): the window reopens.
    replies = await wa.say("алло?")
    assert replies
    assert await wa.app.service.admin_reply(KEY, [Outgoing("Перезваниваю вам сейчас.")])
    assert wa.graph.texts(PATIENT)[-1] == "Перезваниваю вам сейчас."
