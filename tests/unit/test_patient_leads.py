"""Issue 17, items 2-4, as development cases (the held-out set in bench/heldout_leads.toml is worded apart):
the patient's own name is not the doctor, a change after the confirmation rewrites that lead, a handoff
keeps what was collected, and the comment carries what the administrator needs."""

from __future__ import annotations

import pytest

from bot.bootstrap import App
from bot.dialogue.state import Stage
from bot.notify import LogNotifier
from tests.unit.test_dialogue import PATIENT, joined, leads, say


async def talk(app: App, *messages: str) -> str:
    text = ""
    for message in messages:
        text = joined(await say(app, message))
    return text


async def book(app: App, first: str, name: str = "Ольга", phone: str = "89123456789") -> str:
    """From the first message to «Заявка принята», answering only what is asked."""
    reply = await talk(app, first)
    for _ in range(8):
        low = reply.lower()
        if "заявка принята" in low:
            return reply
        if "проверьте" in low or "согласн" in low or "хотите, я запишу" in low:
            answer = "да"
        elif "обращаться" in low or "имя" in low:
            answer = name
        elif "номер телефона" in low:
            answer = phone
        elif "до 14:00" in low:
            answer = "в любое время"
        elif "впервые" in low:
            answer = "в первый раз"
        else:
            raise AssertionError(f"unexpected question: {reply}")
        reply = await talk(app, answer)
    raise AssertionError(reply)


def booking(app: App) -> tuple[str, str]:
    b = app.store.load(PATIENT).booking
    return b.doctor, b.specialty


# --- 2. the patient's own surname or patronymic ---------------------------------------------------


async def test_a_first_name_with_patronymic_is_the_patient_not_a_doctor(app: App) -> None:
    await talk(app, "Добрый день, Ольга Ивановна беспокоит. Нужен невролог")
    assert booking(app) == ("", "Невролог")
    assert app.store.load(PATIENT).booking.name == "Ольга"


async def test_ya_and_a_surname_is_the_patient_and_reaches_the_comment(app: App) -> None:
    await book(app, "Здравствуйте! Я Смирнова, можно к урологу?", name="Вера")
    [lead] = leads(app)
    assert lead.service == "Уролог" and "Смирнова" in lead.comment


async def test_a_name_and_surname_at_the_end_sign_the_message(app: App) -> None:
    await talk(app, "к педиатру хотим записаться. Петрова Анна")
    assert booking(app) == ("", "Педиатр")
    assert app.store.load(PATIENT).booking.name == "Анна"


async def test_a_signature_after_regards_is_the_patient(app: App) -> None:
    await talk(app, "Прошу записать к дерматологу. С уважением, Кузнецова")
    assert booking(app) == ("", "Дерматолог")


async def test_my_surname_said_later_drops_the_doctor_of_that_surname(app: App) -> None:
    await talk(app, "запишите к Петровой", "да")
    assert booking(app)[0] == "Петрова Ольга Александровна"
    reply = await talk(app, "ой нет, Петрова это моя фамилия, мне к окулисту")
    assert booking(app) == ("", "Офтальмолог")
    assert "Петрова О. А." in reply


async def test_my_surname_alone_drops_the_doctor_and_asks_which_one(app: App) -> None:
    await talk(app, "хочу к Кузнецову")
    assert booking(app)[0] == "Кузнецов Андрей Павлович"
    reply = await talk(app, "Кузнецова — это я")
    assert booking(app) == ("", "")
    assert "к какому врачу" in reply.lower()


async def test_not_that_doctor_at_the_summary_books_the_specialty(app: App) -> None:
    await talk(app, "к Иванову Сергею Николаевичу", "да", "Инна", "89123456789", "утром", "впервые")
    summary = await talk(app, "нет, не к Иванову, к эндокринологу")
    assert "Эндокринолог" in summary and "Иванов" not in summary.split("Проверьте")[-1]
    await talk(app, "да")
    assert leads(app)[0].service == "Эндокринолог"


async def test_a_patient_with_patronymic_may_still_ask_for_a_doctor(app: App) -> None:
    await talk(app, "Мария Сергеевна, к Ивановой можно?")
    assert booking(app)[0] == "Иванова Марина Сергеевна"


async def test_a_doctor_asked_with_title_is_the_doctor(app: App) -> None:
    await talk(app, "хочу на приём к доктору Морозовой")
    assert booking(app)[0] == "Морозова Татьяна Владимировна"


async def test_a_womans_surname_is_not_a_typo_of_a_male_doctor(app: App) -> None:
    await talk(app, "к Кузнецовой на приём к гинекологу")
    assert booking(app) == ("", "Гинеколог")


# --- 3. after the patient gave everything -----------------------------------------------------------


async def test_a_new_phone_after_the_confirmation_rewrites_the_lead(app: App) -> None:
    await book(app, "к хирургу")
    [before] = leads(app)
    reply = await talk(app, "номер сменился: 8 927 123 45 67")
    assert "+7 927 123-45-67" in reply
    [after] = leads(app)
    assert (after.id, after.phone, after.created) == (before.id, "+79271234567", before.created)
    assert "исправлено пациентом" in after.comment and "телефон" in after.comment
    assert app.store.load(PATIENT).booking.phone == "+79271234567"  # for a next booking too


async def test_phone_named_wrong_after_the_confirmation_is_asked_then_rewritten(app: App) -> None:
    await book(app, "к кардиологу")
    reply = await talk(app, "телефон не тот указала")
    assert "номер" in reply.lower()
    await talk(app, "89271234567")
    [lead] = leads(app)
    assert lead.phone == "+79271234567"


async def test_a_window_changed_after_the_confirmation(app: App) -> None:
    await book(app, "к урологу")
    await talk(app, "а давайте лучше утром")
    [lead] = leads(app)
    assert lead.window == "до 14:00"


async def test_another_doctor_after_the_confirmation_is_a_second_lead(app: App) -> None:
    await book(app, "к урологу")
    await talk(app, "и ещё к неврологу запишите", "в любое время", "впервые", "да")
    assert [lead.service for lead in leads(app)] == ["Уролог", "Невролог"]


async def test_a_handoff_at_the_summary_records_the_unconfirmed_lead(app: App) -> None:
    await talk(app, "к гастроэнтерологу", "да", "Инга", "89123456780", "после обеда", "впервые")
    reply = await talk(app, "позовите, пожалуйста, администратора, хочу кое-что уточнить")
    assert "Передаю" in reply and "сначала" not in reply
    state = app.store.load(PATIENT)
    assert state.stage == Stage.HANDOFF and state.booking.phone == "+79123456780"
    [lead] = leads(app)
    assert (lead.status, lead.phone, lead.service) == ("не подтверждена", "+79123456780", "Гастроэнтеролог")
    assert "попросил(а) администратора до подтверждения" in lead.comment
    assert isinstance(app.notifier, LogNotifier)
    assert any("handoff" in a and lead.id in a for a in app.notifier.sent)
    await app.service.hand_back(PATIENT.key)
    await talk(app, "да")
    [confirmed] = leads(app)
    assert (confirmed.id, confirmed.status) == (lead.id, "новая")


async def test_restart_still_starts_again(app: App) -> None:
    await talk(app, "к гастроэнтерологу", "да")
    reply = await talk(app, "давайте сначала")
    assert "начнём сначала" in reply and booking(app) == ("", "")


async def test_a_handoff_before_the_phone_records_nothing(app: App) -> None:
    await talk(app, "к гастроэнтерологу", "да")
    await talk(app, "Полина", "свяжите с живым оператором")
    assert app.store.load(PATIENT).stage == Stage.HANDOFF
    assert leads(app) == []
    assert isinstance(app.notifier, LogNotifier)  # the administrator still sees what was said
    [handoff] = [a for a in app.notifier.sent if a.startswith("handoff")]
    assert "собрано: Гастроэнтеролог, Полина" in handoff


# --- 4. what the administrator needs ------------------------------------------------------------------


async def test_a_home_visit_for_a_grandfather_who_cannot_walk(app: App) -> None:
    await book(app, "дедушке 80 лет, сам не дойдёт, нужен выезд терапевта")
    [lead] = leads(app)
    assert lead.service == "Терапевт"
    assert "на дом" in lead.comment and "80 лет" in lead.comment and "лежачий" in lead.comment


async def test_urgency_in_plain_words(app: App) -> None:
    await book(app, "мне к гинекологу, и побыстрее бы")
    assert "срочно" in leads(app)[0].comment


async def test_a_date_in_words_is_written_with_its_weekday(app: App) -> None:
    await book(app, "можно на 1 декабря к хирургу?")
    assert "вторник, 01.12" in leads(app)[0].comment


async def test_a_closed_day_is_said_mid_booking_and_kept(app: App) -> None:
    await talk(app, "к окулисту", "да")
    reply = await talk(app, "Ирина, а можно на воскресенье?")
    assert "не работает" in reply and "в воскресенье" in reply
    assert "клиника не работает" in app.store.load(PATIENT).booking.details["day"]


async def test_a_spare_phone_does_not_replace_the_first(app: App) -> None:
    await talk(app, "к лору", "да", "Галя", "89123456789")
    await talk(app, "и запишите запасной номер 8 903 111 22 33")
    b = app.store.load(PATIENT).booking
    assert b.phone == "+79123456789" and b.details["phone2"] == "+79031112233"


async def test_a_repeat_patients_surname_like_a_doctors_goes_to_the_comment(app: App) -> None:
    await book(app, "моя фамилия Орлова, была у вас в прошлом году, хочу к кардиологу")
    [lead] = leads(app)
    assert lead.service == "Кардиолог" and "Орлова" in lead.comment


async def test_a_childs_age_goes_to_the_comment(app: App) -> None:
    await book(app, "сынок, 3 года, сопли не проходят, к лору")
    assert "3 года" in leads(app)[0].comment


async def test_a_question_after_the_confirmation_changes_nothing(app: App) -> None:
    await book(app, "к урологу")
    [before] = leads(app)
    await talk(app, "а вы по утрам в субботу работаете?")
    assert leads(app) == [before]


async def test_another_doctor_named_as_such_after_the_confirmation_is_a_new_request(app: App) -> None:
    await book(app, "к урологу")
    reply = await talk(app, "мне ещё другой врач нужен, невролог")
    assert "Исправила" not in reply
    assert [lead.service for lead in leads(app)] == ["Уролог"]
    assert booking(app) == ("", "Невролог")


async def test_the_summary_shows_what_the_administrator_will_read(app: App) -> None:
    await talk(app, "внучке 5 лет, к педиатру, желательно в пятницу", "да", "Роза", "89123456789", "утром")
    summary = await talk(app, "впервые")
    assert "Для администратора: внучке 5 лет; желаемый день: пятница" in summary


async def test_a_name_corrected_in_one_message_after_the_confirmation(app: App) -> None:
    await book(app, "к урологу", name="Света")
    await talk(app, "поменяйте имя на Светлана, пожалуйста")
    assert leads(app)[0].name == "Светлана"


async def test_thanking_someone_by_name_after_the_confirmation_keeps_the_name(app: App) -> None:
    await book(app, "к урологу", name="Вера")
    await talk(app, "спасибо большое, Марина")
    assert leads(app)[0].name == "Вера"


async def test_a_maiden_name_for_the_record_goes_to_the_comment(app: App) -> None:
    await book(app, "к урологу, в карте я на фамилию Зайцева", name="Вера")
    [lead] = leads(app)
    assert lead.service == "Уролог" and "Зайцева" in lead.comment


@pytest.mark.parametrize(
    "words", ["сотрите мои персональные данные, пожалуйста", "прошу больше не обрабатывать мои данные"]
)
async def test_a_withdrawal_in_other_words_after_the_confirmation_strips_the_lead(
    app: App, words: str
) -> None:
    await book(app, "к урологу", name="Вера")
    reply = await talk(app, words)
    assert "отозвано" in reply
    [lead] = leads(app)
    assert (lead.name, lead.phone, lead.status) == ("", "", "отказ")


async def test_a_question_about_the_hours_is_not_a_day_asked_for(app: App) -> None:
    await talk(app, "а в воскресенье вы открыты?", "хочу к лору", "да", "Оля", "89123456789")
    await talk(app, "а сегодня до скольки работаете?")
    assert "day" not in app.store.load(PATIENT).booking.details


async def test_not_that_doctor_at_the_consent_question_is_no_refusal(app: App) -> None:
    await talk(app, "запишите к Петровой")
    reply = await talk(app, "нет, не к Петровой")
    state = app.store.load(PATIENT)
    assert not state.consent.declined_at and booking(app) == ("", "")
    assert "к какому врачу" in reply.lower()
