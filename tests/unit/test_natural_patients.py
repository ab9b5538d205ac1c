"""Conversations as real patients write them: short, messy, several facts at once, words instead of buttons.

Each test is a failure found by driving the offline dialogue with invented patients; the whole conversation
goes through the service, and the lead row is checked where one is due.
"""

from __future__ import annotations

import pytest

from bot.bootstrap import App
from bot.dialogue.state import Slot, Stage
from bot.notify import LogNotifier
from tests.unit.test_dialogue import PATIENT, joined, leads, say


async def talk(app: App, *messages: str) -> str:
    """Send the messages in turn; the bot's last reply."""
    text = ""
    for message in messages:
        text = joined(await say(app, message))
    return text


async def test_words_for_a_repeat_visit_in_any_order(app: App) -> None:
    await talk(app, "мне к терапевту надо", "ок", "илья", "+7 912 345 67 89", "с утра")
    summary = await talk(app, "был уже у вас")
    assert "повторное" in summary and "Всё верно?" in summary
    await talk(app, "всё верно")
    [lead] = leads(app)
    assert (lead.name, lead.visit, lead.window) == ("Илья", "повторное", "до 14:00")


async def test_a_bare_ordinal_answers_the_visit_question(app: App) -> None:
    await talk(app, "хочу к эндокринологу", "да", "Наталья", "89123456789", "утро")
    summary = await talk(app, "первый")
    assert "первичное" in summary
    await talk(app, "да")
    assert leads(app)[0].visit == "первичное"


async def test_a_double_name_keeps_both_capitals(app: App) -> None:
    await talk(app, "запишите к неврологу, голова болит", "да")
    reply = await talk(app, "анна-мария")
    assert reply.startswith("Анна-Мария,")
    await talk(app, "8-912-345-67-89", "любое", "первый раз", "да")
    assert leads(app)[0].name == "Анна-Мария"


@pytest.mark.parametrize("answer", ["пофиг", "хоть когда", "не принципиально"])
async def test_any_time_in_plain_words(app: App, answer: str) -> None:
    await talk(app, "хочу к окулисту", "да", "Вадим", "89123456789")
    reply = await talk(app, answer)
    assert "были у нас" in reply
    assert app.store.load(PATIENT).booking.window == "любое"


async def test_too_short_a_number_for_the_phone_gets_the_reason(app: App) -> None:
    await talk(app, "к офтальмологу", "да", "Кира")
    reply = await talk(app, "12345")
    assert "5 цифр" in reply and "не совсем поняла" not in reply
    assert app.store.load(PATIENT).awaiting == Slot.PHONE


async def test_a_tick_emoji_confirms_the_summary(app: App) -> None:
    await talk(app, "хочу к дерматологу 🙏", "да 👍", "Алина 😊", "89123456789", "после обеда", "впервые")
    reply = await talk(app, "✅")
    assert "Заявка принята" in reply
    assert len(leads(app)) == 1


async def test_a_wave_as_the_first_message_is_greeted(app: App) -> None:
    reply = await talk(app, "👋")
    assert "виртуальный администратор" in reply and "не совсем поняла" not in reply


async def test_a_patient_named_like_the_doctor_keeps_her_name(app: App) -> None:
    await talk(app, "Это Марина, хочу к гинекологу Ивановой", "да")
    state = app.store.load(PATIENT)
    assert state.booking.name == "Марина"
    assert state.booking.doctor == "Иванова Марина Сергеевна"
    assert state.awaiting == Slot.PHONE


async def test_the_doctors_first_name_next_to_her_surname_is_not_the_patients(app: App) -> None:
    await talk(app, "запишите к врачу Иванова Марина Сергеевна")
    state = app.store.load(PATIENT)
    assert state.booking.doctor == "Иванова Марина Сергеевна" and state.booking.name == ""


async def test_a_question_about_a_service_is_answered_and_booking_offered_without_contradiction(
    app: App,
) -> None:
    replies = await say(app, "экг делаете?")
    text = joined(replies)
    assert "ЭКГ" in replies[0].text
    assert "Хотите, я запишу вас?" in text and "Хорошо, запишу вас" not in text


@pytest.mark.parametrize(
    "question", ["какие документы нужны на прием", "можно прийти без записи?", "хочу перенести запись"]
)
async def test_a_question_before_any_booking_does_not_resume_one(app: App, question: str) -> None:
    text = await talk(app, question)
    assert "Вернёмся к записи" not in text
    assert "к какому врачу" not in text


async def test_a_holiday_question_in_dates(app: App) -> None:
    text = await talk(app, "вы работаете 1 января?")
    assert "праздничные дни" in text


async def test_asking_for_the_clinics_phone_is_not_about_deleting_data(app: App) -> None:
    text = await talk(app, "дайте ваш номер телефона")
    assert "+7 (846) 200-30-40" in text and "отозвать" not in text


async def test_a_tax_certificate_question_is_answered_not_booked(app: App) -> None:
    text = await talk(app, "нужна справка для налогового вычета")
    assert "налогового вычета" in text and "согласн" not in text.lower()


async def test_a_specialty_typo_in_the_dative(app: App) -> None:
    await talk(app, "запишите к кардиалогу")
    assert app.store.load(PATIENT).booking.specialty == "Кардиолог"


async def test_a_doctor_by_first_name_and_patronymic(app: App) -> None:
    await talk(app, "хочу к Елене Викторовне")
    assert app.store.load(PATIENT).booking.doctor == "Смирнова Елена Викторовна"


async def test_goodbye_with_a_filler_yes_in_the_middle_of_a_booking(app: App) -> None:
    await talk(app, "хочу к терапевту", "да")
    text = await talk(app, "ладно, потом, до свидания")
    assert "Всего доброго" in text
    assert app.store.load(PATIENT).closed


async def test_i_will_think_is_not_pressed_with_the_same_question(app: App) -> None:
    await talk(app, "хочу к терапевту", "да", "Нина")
    text = await talk(app, "я подумаю")
    assert "оставьте" not in text and "сохранила" in text
    text = await talk(app, "89123456789")
    assert "до 14:00 или после 14:00" in text


async def test_a_filler_before_yes_still_agrees(app: App) -> None:
    await talk(app, "к хирургу")
    text = await talk(app, "ну да")
    assert app.store.load(PATIENT).consent.given_at and "обращаться" in text


async def test_a_name_given_instead_of_the_consent_answer_is_not_asked_again(app: App) -> None:
    await talk(app, "к хирургу")
    text = await talk(app, "Михаил")
    assert "согласн" in text.lower()
    text = await talk(app, "да")
    assert text.startswith("Михаил,") and "номер телефона" in text


async def test_may_is_a_name_when_it_answers_the_name_question(app: App) -> None:
    await talk(app, "к терапевту", "да")
    text = await talk(app, "Мая")
    assert text.startswith("Мая,")


async def test_when_will_the_administrator_call_is_not_a_handoff(app: App) -> None:
    await talk(app, "хочу к лору, я Ольга, 89123456789, утром, впервые", "да", "да")
    replies = await say(app, "а когда администратор перезвонит?")
    assert replies and app.store.load(PATIENT).stage != "handoff"


async def test_a_bare_name_among_other_facts_is_taken(app: App) -> None:
    await talk(app, "к неврологу, Оля, 89123456789, утром, впервые")
    summary = await talk(app, "да")
    assert "Имя: Оля" in summary and "Всё верно?" in summary
    await talk(app, "ок")
    [lead] = leads(app)
    assert (lead.name, lead.phone, lead.service, lead.window, lead.visit) == (
        "Оля",
        "+79123456789",
        "Невролог",
        "до 14:00",
        "первичное",
    )


async def test_a_name_with_a_question_answering_the_name_question(app: App) -> None:
    await talk(app, "к лору", "да")
    text = await talk(app, "Оля, а сколько стоит прием?")
    assert "стоимость" in text and "Оля, оставьте" in text


async def test_consent_name_and_phone_in_one_message(app: App) -> None:
    await talk(app, "к лору")
    text = await talk(app, "согласна, Ирина 89123456789")
    assert "до 14:00 или после 14:00" in text
    booking = app.store.load(PATIENT).booking
    assert (booking.name, booking.phone) == ("Ирина", "+79123456789")


@pytest.mark.parametrize(
    ("correction", "asked", "value", "field", "expected"),
    [
        ("имя не то", "правильное имя", "Ольга", "name", "Ольга"),
        ("телефон неправильный", "номер телефона", "89997776655", "phone", "+79997776655"),
        ("исправьте телефон", "номер телефона", "8 999 777 66 55", "phone", "+79997776655"),
        ("врач не тот", "К какому врачу", "кардиолог", "service", "Кардиолог"),
    ],
)
async def test_a_correction_in_words_asks_for_that_field(
    app: App, correction: str, asked: str, value: str, field: str, expected: str
) -> None:
    await talk(app, "к неврологу, Оля, 89123456789, утром, впервые", "да")
    assert asked in await talk(app, correction)
    assert "Всё верно?" in await talk(app, value)
    await talk(app, "да")
    [lead] = leads(app)
    assert getattr(lead, field) == expected


async def test_a_field_typed_after_what_to_fix(app: App) -> None:
    await talk(app, "к неврологу, Оля, 89123456789, утром, впервые", "да", "неправильно")
    assert "до 14:00 или после 14:00" in await talk(app, "время")
    await talk(app, "после обеда", "да")
    assert leads(app)[0].window == "после 14:00"


async def test_refusing_one_half_of_the_day_means_the_other(app: App) -> None:
    await talk(app, "к неврологу, Оля, 89123456789, утром, впервые", "да")
    assert "после 14:00" in await talk(app, "не утро, а вечер")
    await talk(app, "да")
    assert leads(app)[0].window == "после 14:00"


async def test_which_doctors_the_clinic_has(app: App) -> None:
    text = await talk(app, "какие у вас врачи есть?")
    assert "Кардиолог" in text and "Травматолог-ортопед" in text and "на дом" not in text


async def test_who_the_specialty_doctors_are(app: App) -> None:
    text = await talk(app, "кто у вас лор?")
    assert "Смирнова Елена Викторовна" in text and "Кузнецов Андрей Павлович" in text
    assert "Хотите, я запишу вас?" in text


async def test_everything_without_punctuation(app: App) -> None:
    await talk(app, "ольга 89123456789 лор утро впервые")
    assert "Имя: Ольга" in await talk(app, "да")
    await talk(app, "да")
    [lead] = leads(app)
    assert (lead.name, lead.phone, lead.service, lead.window, lead.visit) == (
        "Ольга",
        "+79123456789",
        "ЛОР",
        "до 14:00",
        "первичное",
    )


@pytest.mark.parametrize(
    ("answer", "window"),
    [
        ("как можно скорее", "любое"),
        ("в обед", "до 14:00"),
        ("после 3", "после 14:00"),
        ("morning", "до 14:00"),
    ],
)
async def test_time_answers_patients_give(app: App, answer: str, window: str) -> None:
    await talk(app, "к терапевту", "да", "Олег", "89123456789")
    assert "были у нас" in await talk(app, answer)
    assert app.store.load(PATIENT).booking.window == window


async def test_an_unclear_time_is_asked_again_with_the_choices_spelled_out(app: App) -> None:
    await talk(app, "к терапевту", "да", "Олег", "89123456789")
    text = await talk(app, "днем")
    assert "Не совсем поняла" in text and "любое время" in text


async def test_a_patient_answering_in_english_words(app: App) -> None:
    await talk(app, "hi, к лору можно?", "ok", "Kate", "89271112233", "morning", "first")
    await talk(app, "yes")
    [lead] = leads(app)
    assert (lead.name, lead.window, lead.visit) == ("Kate", "до 14:00", "первичное")
    assert "Пожалуйста" in await talk(app, "thanks")


async def test_thanks_before_yes_still_agrees(app: App) -> None:
    await talk(app, "к урологу")
    assert "обращаться" in await talk(app, "спасибо, да")
    assert app.store.load(PATIENT).consent.given_at


async def test_help_in_the_chat(app: App) -> None:
    text = await talk(app, "/help")
    assert "записать вас к врачу" in text and "по-русски" not in text


async def test_a_question_sentence_before_a_booking_is_answered(app: App) -> None:
    replies = await say(app, "где вы находитесь? хочу записаться к урологу")
    assert "Молодогвардейская" in replies[0].text
    assert "согласн" in joined(replies).lower()
    assert app.store.load(PATIENT).booking.specialty == "Уролог"


@pytest.mark.parametrize(("typed", "visit"), [("перый раз", "первичное"), ("повторый", "повторное"),
                                              ("впервыйе", "первичное"), ("повтарно", "повторное")])  # fmt: skip
async def test_a_typo_in_the_visit_answer_is_understood(app: App, typed: str, visit: str) -> None:
    await talk(app, "хочу к терапевту", "да", "Олег", "89123456789", "после обеда")
    summary = await talk(app, typed)
    assert f"Обращение: {visit}" in summary and "Всё верно?" in summary


async def test_a_word_like_first_but_about_the_time_is_not_taken_for_the_visit(app: App) -> None:
    await talk(app, "хочу к терапевту", "да", "Олег", "89123456789", "после обеда")
    reply = await talk(app, "в первой половине")
    assert "Всё верно?" not in reply and not app.store.load(PATIENT).booking.visit


async def test_when_will_you_call_back_is_answered_and_the_booking_goes_on(app: App) -> None:
    await talk(app, "хочу к терапевту", "да", "Олег", "89123456789", "после обеда", "впервые")
    reply = await talk(app, "а когда вы перезвоните?")
    assert "перезвонит" in reply and ("в течение 15 минут" in reply or " с " in reply)
    assert "Всё верно?" in reply  # the summary is shown again to confirm
    await talk(app, "да")
    reply = await talk(app, "во сколько мне перезвонят?")
    assert "уже у администратора" in reply
    assert len(leads(app)) == 1


@pytest.mark.parametrize(
    "text",
    [
        "Здравствуйте, хочу перенести запись на пятницу",
        "мне надо отменить приём к кардиологу завтра",
        "можно перенести мой приём на другое время?",
        "запись к лору на среду отменить нужно",
    ],
)
async def test_moving_or_cancelling_an_appointment_goes_to_an_administrator(app: App, text: str) -> None:
    reply = await talk(app, text)
    assert "администратор" in reply and "Вы согласны?" not in reply  # no new booking is started
    state = app.store.load(PATIENT)
    assert state.stage == Stage.HANDOFF and not (state.booking.specialty or state.booking.doctor)
    assert isinstance(app.notifier, LogNotifier)
    assert any(s.startswith("handoff") and "перенос или отмена" in s for s in app.notifier.sent)
    assert not leads(app)


async def test_a_new_booking_that_mentions_moving_is_still_a_booking(app: App) -> None:
    reply = await talk(app, "хочу записаться к терапевту, прошлый приём пришлось перенести")
    assert "Вы согласны?" in reply or "терапевт" in reply.lower()
    assert app.store.load(PATIENT).stage != Stage.HANDOFF


async def test_a_greeting_with_a_request_for_a_person_is_greeted_back(app: App) -> None:
    reply = await talk(app, "Здравствуйте, хочу перенести запись на пятницу")
    assert reply.startswith("Здравствуйте!")


async def test_a_bare_greeting_is_greeted_once(app: App) -> None:
    for _ in range(10):  # the greeting is one of several texts
        app.store.db.query("DELETE FROM conversations")
        reply = await talk(app, "Здравствуйте")
        greetings = ("Здравствуйте", "Добрый день", "Доброе утро", "Добрый вечер", "Привет")
        assert sum(reply.count(g) for g in greetings) == 1, reply


BOOKED = ("к лору, я Ольга, 89123456789, утром, впервые", "да", "да")


@pytest.mark.parametrize("answer", ["да, верно", "ок", "👍", "жду звонка", "хорошо", "да"])
async def test_an_acknowledgement_after_the_lead_is_answered_naturally(app: App, answer: str) -> None:
    assert "Заявка принята" in await talk(app, *BOOKED)
    text = await talk(app, answer)
    assert "не совсем поняла" not in text
    assert "уже у администратора" in text and "в течение 15 минут" in text
    assert len(leads(app)) == 1


@pytest.mark.parametrize("answer", ["нет", "всё", "нет спасибо", "нет, это всё", "больше ничего"])
async def test_nothing_more_after_the_lead_closes_the_conversation_politely(app: App, answer: str) -> None:
    await talk(app, *BOOKED)
    text = await talk(app, answer)
    assert "не совсем поняла" not in text and "Всего доброго" in text
    assert app.store.load(PATIENT).closed and len(leads(app)) == 1


async def test_another_doctor_after_the_lead_is_still_possible(app: App) -> None:
    await talk(app, *BOOKED, "ок")
    text = await talk(app, "к кардиологу, после обеда, повторно")
    assert "Кардиолог" in text and "Всё верно?" in text
    await talk(app, "да")
    _first, second = leads(app)
    assert (second.service, second.name, second.window) == ("Кардиолог", "Ольга", "после 14:00")


async def test_yes_to_the_offered_booking_starts_it(app: App) -> None:
    await talk(app, "экг делаете?")
    text = await talk(app, "да")
    assert "не совсем поняла" not in text and "Вы согласны?" in text
    await talk(app, "да", "Оля", "89123456789", "утром", "впервые", "да")
    [lead] = leads(app)
    assert (lead.service, lead.name) == ("Кардиолог", "Оля")


async def test_no_to_the_offered_booking_is_respected(app: App) -> None:
    await talk(app, "экг делаете?")
    text = await talk(app, "нет")
    assert "не совсем поняла" not in text and "пишите" in text
    booking = app.store.load(PATIENT).booking
    assert not booking.specialty and not leads(app)


@pytest.mark.parametrize(
    "answer", ["не надо, передумал", "отмените запись", "передумала, не буду записываться"]
)
async def test_changing_ones_mind_mid_booking_stops_it(app: App, answer: str) -> None:
    await talk(app, "к лору", "да", "Ольга")
    text = await talk(app, answer)
    assert "не записываю" in text and "номер телефона" not in text
    state = app.store.load(PATIENT)
    assert state.stage == Stage.IDLE and not state.booking.specialty and state.closed
    assert not leads(app)
    assert "Пожалуйста" in await talk(app, "спасибо")


async def test_cancelling_at_the_summary_writes_no_lead(app: App) -> None:
    await talk(app, "к лору, я Ольга, 89123456789, утром, впервые", "да")
    text = await talk(app, "нет, не надо, передумала")
    assert "не записываю" in text
    assert not leads(app)


@pytest.mark.parametrize(
    ("answer", "window"),
    [
        ("утром не могу, лучше после обеда", "после 14:00"),
        ("утром не могу лучше после обеда", "после 14:00"),
        ("можно утром, но лучше вечером", "после 14:00"),
        ("вечером занята, давайте с утра", "до 14:00"),
        ("до обеда никак, после обеда да", "после 14:00"),
    ],
)
async def test_both_halves_of_the_day_named_with_one_refused_or_preferred(
    app: App, answer: str, window: str
) -> None:
    await talk(app, "к терапевту", "да", "Олег", "89123456789")
    assert "были у нас" in await talk(app, answer)
    assert app.store.load(PATIENT).booking.window == window


@pytest.mark.parametrize(
    ("question", "answer_part"),
    [("принимаете детей?", "педиатр"), ("как подготовиться к узи брюшной полости", "натощак")],
)
async def test_a_question_mid_booking_that_names_a_service_keeps_the_chosen_doctor(
    app: App, question: str, answer_part: str
) -> None:
    await talk(app, "к урологу Орлову", "да")
    text = await talk(app, question)
    assert answer_part in text and "Хорошо, запишу вас" not in text and "обращаться" in text
    await talk(app, "Игорь", "89123456789", "утром", "впервые", "да")
    [lead] = leads(app)
    assert lead.service == "Орлов Виктор Геннадьевич (Уролог)"


async def test_another_doctor_named_mid_booking_still_replaces_the_first(app: App) -> None:
    await talk(app, "к урологу", "да")
    await talk(app, "а можно лучше к хирургу?")
    assert app.store.load(PATIENT).booking.specialty == "Хирург"


@pytest.mark.parametrize(
    ("complaint", "specialty"),
    [
        ("высыпания на руках, чешется", "Дерматолог"),
        ("заложен нос уже неделю", "ЛОР"),
        ("подвернул ногу", "Травматолог-ортопед"),
        ("кружится голова", "Невролог"),
    ],
)
async def test_a_complaint_in_the_patients_own_words_finds_the_doctor(
    app: App, complaint: str, specialty: str
) -> None:
    text = await talk(app, "Здравствуйте", complaint)
    assert "не совсем поняла" not in text and specialty in text
    assert app.store.load(PATIENT).booking.specialty == specialty


async def test_a_complaint_nothing_fits_gets_the_specialists_and_the_therapist_first(app: App) -> None:
    replies = await say(app, "что-то колет в боку второй день")
    text = joined(replies)
    assert "не совсем поняла" not in text and "терапевта" in text
    assert replies[-1].buttons[0].label == "Терапевт"
    await talk(app, "терапевт", "да", "Ольга", "89123456789", "утром", "впервые", "да")
    [lead] = leads(app)
    assert lead.service == "Терапевт"


@pytest.mark.parametrize("text", ["хочу сдать анализы крови", "можно у вас сдать анализы?"])
async def test_laboratory_tests_go_to_an_administrator(app: App, text: str) -> None:
    reply = await talk(app, text)
    assert "администратор" in reply and "+7 (846) 200-30-40" in reply
    assert "не совсем поняла" not in reply and "Вы согласны?" not in reply
    # no doctor is guessed: the request is the tests, taken as a callback request if the patient agrees
    assert app.store.load(PATIENT).booking.specialty == "Анализы"


async def test_two_specialists_in_one_message_are_booked_one_after_the_other(app: App) -> None:
    text = await talk(app, "хочу к лору и к неврологу")
    assert "ЛОР" in text and "Невролог" in text
    await talk(app, "да", "Ольга", "89123456789", "утром", "впервые")
    text = await talk(app, "да")
    assert "Заявка принята" in text and "вторая заявка" in text and "до 14:00 или после 14:00" in text
    await talk(app, "после обеда", "повторно")
    text = await talk(app, "да")
    assert "Заявка принята" in text
    first, second = leads(app)
    assert (first.service, first.window, first.visit) == ("ЛОР", "до 14:00", "первичное")
    assert (second.service, second.window, second.visit) == ("Невролог", "после 14:00", "повторное")
    assert second.name == "Ольга" and second.phone == "+79123456789"


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("уролог Ольга +7 917 111-22-33", "Ольга"),
        ("к новиковой людмила 89605553322 лучше утром", "Людмила"),
        ("болит голова постоянно светлана +7 917 111-22-33", "Светлана"),
    ],
)
async def test_a_name_among_the_contacts_without_punctuation(app: App, text: str, name: str) -> None:
    await talk(app, text)
    text = await talk(app, "да")
    assert "обращаться" not in text
    assert app.store.load(PATIENT).booking.name == name


async def test_the_doctors_first_name_after_her_surname_is_still_not_the_patients(app: App) -> None:
    await talk(app, "к неврологу морозовой Татьяна 89123456789")
    assert app.store.load(PATIENT).booking.name == ""


async def test_i_want_answers_the_offered_booking(app: App) -> None:
    await talk(app, "экг делаете?")
    assert "Вы согласны?" in await talk(app, "хочу")


async def test_a_service_named_after_the_greeting_is_the_answer_not_a_price_question(app: App) -> None:
    text = await talk(app, "Здравствуйте", "на узи")
    assert "стоимость" not in text and "Вы согласны?" in text
    assert app.store.load(PATIENT).booking.specialty == "Врач УЗИ"


@pytest.mark.parametrize(
    ("text", "visit"),
    [
        ("на узи к Козлову. я Елена. 89870001122. да, была в прошлом году", "повторное"),
        ("к неврологу, я Елена, 89123456789, с утра, да был", "повторное"),
        ("к неврологу, я Елена, 89123456789, с утра, нет не была", "первичное"),
    ],
)
async def test_the_visit_among_other_facts(app: App, text: str, visit: str) -> None:
    await talk(app, text)
    assert app.store.load(PATIENT).booking.visit == visit


@pytest.mark.parametrize(
    ("question", "answer_part"),
    [
        ("за сколько приходить до приема", "10–15 минут"),
        ("можно без записи прийти?", "подождать свободного врача"),
    ],
)
async def test_questions_sharing_a_topic_word_get_their_own_answer(
    app: App, question: str, answer_part: str
) -> None:
    assert answer_part in await talk(app, question)


@pytest.mark.parametrize(
    ("question", "doctor"),
    [
        ("есть ли у вас узи", "Козлов Игорь Валерьевич"),
        ("а эндокринолог у вас есть?", "Лебедева Наталья Юрьевна"),
    ],
)
async def test_whether_the_clinic_has_a_specialist_is_answered_from_the_doctors_list(
    app: App, question: str, doctor: str
) -> None:
    text = await talk(app, question)
    assert doctor in text and "стоимость" not in text and "Хотите, я запишу вас?" in text


async def test_whether_the_clinic_has_a_specialist_mid_booking_keeps_the_booking(app: App) -> None:
    await talk(app, "к Лебедевой")
    text = await talk(app, "есть ли у вас узи?")
    assert "Козлов Игорь Валерьевич" in text and "огласны?" in text
    assert app.store.load(PATIENT).booking.doctor == "Лебедева Наталья Юрьевна"


async def test_a_question_at_the_consent_is_not_taken_for_a_name(app: App) -> None:
    await talk(app, "на узи к Козлову")
    assert "паспорт" in await talk(app, "нужен ли паспорт")
    assert "обращаться" in await talk(app, "да")
    assert app.store.load(PATIENT).booking.name == ""


async def test_the_consent_question_is_not_repeated_word_for_word(app: App) -> None:
    first = await talk(app, "мне к терапевту")
    again = await talk(app, "Ольга")
    assert "Вы согласны?" in first and "Согласны?" in again and again != first
    await talk(app, "да", "89123456789", "любое", "впервые", "да")
    assert leads(app)[0].name == "Ольга"
