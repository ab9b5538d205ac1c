"""The dialogue core and the offline engine through the service, on the embedded defaults."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.bootstrap import App
from bot.clock import FakeClock
from bot.dialogue.messages import Address, Incoming, Outgoing
from bot.dialogue.state import Stage
from tests.conftest import CLOSED_TIME

PATIENT = Address("console", "p1", "p1")


async def say(
    app: App, text: str = "", *, button: str | None = None, who: Address = PATIENT
) -> list[Outgoing]:
    return await app.service.handle(who, Incoming(text=text, button=button))


def joined(replies: list[Outgoing]) -> str:
    return "\n".join(r.text for r in replies)


def button_data(replies: list[Outgoing], label_part: str) -> str:
    for reply in replies:
        for button in reply.buttons:
            if label_part in button.label:
                return button.data
    raise AssertionError(f"no button with {label_part!r} in {replies}")


def leads(app: App) -> list:
    return app.sinks["csv"].read_all()


async def test_everything_at_once_books_in_three_messages(app: App) -> None:
    first = await say(app, "Здравствуйте, я Ольга, хочу к лору после обеда, впервые, 89123456789")
    assert "политик" in joined(first) or "согласн" in joined(first).lower()
    summary = await say(app, "да")
    text = joined(summary)
    assert "Ольга" in text and "+7 912 345-67-89" in text and "ЛОР" in text and "после 14:00" in text
    done = await say(app, "да")
    assert "в течение 15 минут" in joined(done)
    [lead] = leads(app)
    assert (lead.name, lead.phone, lead.service, lead.window, lead.visit, lead.channel, lead.status) == (
        "Ольга",
        "+79123456789",
        "ЛОР",
        "после 14:00",
        "первичное",
        "console",
        "новая",
    )
    assert lead.created == "2026-11-23 10:00"


async def test_step_by_step_booking_with_buttons(app: App) -> None:
    await say(app, "Добрый день")
    replies = await say(app, "хочу записаться к Смирновой")
    replies = await say(app, button=button_data(replies, "Да"))
    assert "зовут" in joined(replies) or "обращаться" in joined(replies)
    replies = await say(app, "Мария")
    assert replies[-1].request_contact
    replies = await say(app, "+7 912 3456789")
    replies = await say(app, button=button_data(replies, "До 14"))
    replies = await say(app, button=button_data(replies, "Уже"))
    assert "Смирнова Елена Викторовна (ЛОР)" in joined(replies)
    await say(app, button=button_data(replies, "Всё верно"))
    [lead] = leads(app)
    assert lead.service == "Смирнова Елена Викторовна (ЛОР)"
    assert (lead.window, lead.visit) == ("до 14:00", "повторное")


async def test_consent_is_kept_with_time_and_version(app: App) -> None:
    await say(app, "хочу к терапевту")
    await say(app, "согласна")
    state = app.store.load(PATIENT)
    assert state.consent.given_at.startswith("2026-11-23T06:00")
    assert state.consent.version == "2025-09-01"


async def test_declined_consent_keeps_nothing_personal(app: App) -> None:
    await say(app, "я Анна, 89123456789, хочу к лору")
    replies = await say(app, "нет")
    assert "+7 (846) 200-30-40" in joined(replies)
    state = app.store.load(PATIENT)
    assert state.booking.phone == "" and state.booking.name == "" and state.consent.declined_at
    assert "89123456789" not in state.to_json()
    assert leads(app) == []


async def test_question_in_the_middle_of_a_booking_resumes_it(app: App) -> None:
    await say(app, "хочу к неврологу")
    await say(app, "да")
    replies = await say(app, "а парковка у вас есть?")
    text = joined(replies)
    assert "парковк" in text.lower()
    assert "имя" in text.lower() or "обращаться" in text.lower()
    await say(app, "Игорь")
    assert app.store.load(PATIENT).booking.name == "Игорь"


async def test_ambiguous_surname_asks_which_doctor(app: App) -> None:
    replies = await say(app, "запишите к Иванову")
    text = joined(replies)
    assert "Иванов Сергей Николаевич" in text and "Иванова Марина Сергеевна" in text
    await say(app, "к гинекологу")
    assert app.store.load(PATIENT).booking.doctor == "Иванова Марина Сергеевна"


async def test_unknown_doctor_is_refused_politely(app: App) -> None:
    replies = await say(app, "хочу к Пупкину")
    assert "Пупкин" in joined(replies) and "нет" in joined(replies)
    state = app.store.load(PATIENT)
    assert state.booking.doctor == "" and state.booking.specialty == ""


async def _book_until_summary(app: App) -> None:
    await say(app, "хочу к лору, я Ольга, 89123456789, утром, впервые")
    await say(app, "да")


async def test_correction_in_words_at_the_summary(app: App) -> None:
    await _book_until_summary(app)
    replies = await say(app, "нет, телефон другой: 8 927 123-45-67")
    assert "+7 927 123-45-67" in joined(replies)
    await say(app, "да")
    assert leads(app)[0].phone == "+79271234567"


async def test_correction_by_buttons(app: App) -> None:
    await _book_until_summary(app)
    replies = await say(app, "нет")
    replies = await say(app, button=button_data(replies, "Время"))
    replies = await say(app, "вечером")
    assert "после 14:00" in joined(replies)
    await say(app, "всё верно")
    assert leads(app)[0].window == "после 14:00"


async def test_restart_keeps_what_is_stored(app: App) -> None:
    await _book_until_summary(app)
    await say(app, "да")
    await say(app, "хочу ещё к кардиологу")
    replies = await say(app, "/start")
    assert "сначала" in joined(replies)
    assert app.store.load(PATIENT).booking.specialty == ""
    assert len(leads(app)) == 1


async def test_a_second_request_after_the_first(app: App) -> None:
    await _book_until_summary(app)
    await say(app, "да")
    await say(app, "ещё хочу записаться к дерматологу")
    replies = await say(app, "после обеда, повторно")
    assert "Дерматолог" in joined(replies)
    await say(app, "да")
    first, second = leads(app)
    assert first.id != second.id and second.service == "Дерматолог" and second.name == "Ольга"


async def test_outside_working_hours_promises_the_next_morning(app: App, clock: FakeClock) -> None:
    clock.set(CLOSED_TIME)  # Sunday 23:30 in Samara
    await _book_until_summary(app)
    replies = await say(app, "да")
    assert "завтра с 08:00" in joined(replies)


async def test_emergency_gets_103_at_once(app: App) -> None:
    replies = await say(app, "у мамы сильная боль в груди и трудно дышать")
    assert "103" in joined(replies) and "112" in joined(replies)


async def test_handoff_silences_the_bot_until_handed_back(app: App, clock: FakeClock) -> None:
    replies = await say(app, "позовите администратора")
    assert "администратор" in joined(replies).lower()
    # The bot does not take part any more, but says once when to expect the administrator (issue 17)
    waiting = joined(await say(app, "алло?"))
    assert "ответит здесь" in waiting and "?" not in waiting
    assert await say(app, "ну что там") == []
    assert app.store.load(PATIENT).stage == Stage.HANDOFF
    await app.service.hand_back(PATIENT.key)
    assert await say(app, "где вы находитесь?")
    clock.advance(timedelta(minutes=1))


async def test_handoff_times_out(app: App, clock: FakeClock) -> None:
    await say(app, "соедините с оператором")
    clock.advance(app.settings.handoff_timeout + timedelta(minutes=1))
    assert await say(app, "где вы находитесь?")


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "🙂🙂🙂",
        "\x00\x07\x1b[31m",
        "<b>жирный</b> <script>alert(1)</script>",
        "Hello, I need a doctor",
        "я" * 10_000,
        '=HYPERLINK("http://x")',
        "'; DROP TABLE leads; --",
        "1" * 500,
        "ʕ•ᴥ•ʔ 你好 مرحبا",
    ],
)
async def test_bad_input_gets_a_polite_answer(app: App, text: str) -> None:
    replies = await say(app, text)
    assert replies and all(r.text.strip() for r in replies)


async def test_unsupported_media_is_answered(app: App) -> None:
    replies = await app.service.handle(PATIENT, Incoming(unsupported="voice"))
    assert "текст" in joined(replies)


async def test_stale_button_is_handled(app: App) -> None:
    replies = await say(app, button="doc:ffffffffff")
    assert replies


async def test_formula_text_stays_text_in_csv(app: App, settings) -> None:
    await say(app, "хочу к лору, =cmd|' /C calc'!A0")
    await say(app, "да")
    await say(app, "Ольга")
    await say(app, "89123456789")
    await say(app, "утром")
    await say(app, "впервые")
    await say(app, "да")
    raw = settings.leads_csv.read_text(encoding="utf-8")
    assert ",+79123456789," in raw
    assert "\n=" not in raw and ",=" not in raw


async def test_a_specialty_the_clinic_lacks_is_said_plainly(app: App) -> None:
    replies = await say(app, "хочу к стоматологу")
    assert "стоматолог" in joined(replies) and "нет" in joined(replies)
    assert app.store.load(PATIENT).booking.specialty == ""


async def test_patient_surname_equal_to_a_doctors_is_the_patients_name(app: App) -> None:
    await say(app, "к терапевту")
    await say(app, "да")
    await say(app, "Иванова Мария")
    state = app.store.load(PATIENT)
    assert state.booking.name == "Мария" and state.booking.specialty == "Терапевт" and not state.choices


async def test_a_greeting_is_not_a_time_window(app: App) -> None:
    await say(app, "Добрый вечер! Хочу к лору")
    assert app.store.load(PATIENT).booking.window == ""


async def test_two_facts_per_message_book_within_six_messages(app: App) -> None:
    messages = ["Здравствуйте! Хочу к Кузнецову после 14", "да", "Пётр, 89991234567", "повторно", "да"]
    sent = 0
    for text in messages:
        replies = await say(app, text)
        sent += 1
        if leads(app):
            break
    assert leads(app) and sent <= 6
    assert "Заявка принята" in joined(replies)


async def test_answer_comes_before_the_booking_note(app: App) -> None:
    replies = await say(app, "можно записаться на узи брюшной полости? и как к нему готовиться?")
    assert "натощак" in replies[0].text
    assert any("УЗИ" in r.text and "согласн" in r.text.lower() for r in replies[1:])


@pytest.mark.parametrize(
    "agreement", ["да", "согласна", "не против", "Да, согласен на обработку", "конечно", "ок"]
)
async def test_consent_phrasings(app: App, agreement: str) -> None:
    await say(app, "к урологу")
    await say(app, agreement)
    assert app.store.load(PATIENT).consent.given_at
