"""The tester's findings about names: a patient sharing the chosen doctor's surname, a surname given as the
name, a corrected doctor after «Заявка принята», and a doctor's surname the clinic does not have."""

from __future__ import annotations

from bot.bootstrap import App
from tests.unit.test_dialogue import PATIENT, leads
from tests.unit.test_patient_leads import book, booking, talk


async def test_my_surname_equal_to_the_chosen_doctors_keeps_the_doctor(app: App) -> None:
    await talk(app, "мне бы к Морозовой на приём", "да")
    assert booking(app)[0] == "Морозова Татьяна Владимировна"
    reply = await talk(app, "Морозова Ирина, 8 927 301 22 44")
    b = app.store.load(PATIENT).booking
    assert (b.doctor, b.name, b.phone) == ("Морозова Татьяна Владимировна", "Ирина", "+79273012244")
    assert b.details.get("surname") == "Морозова"
    assert "не записываю" not in reply and "к какому врачу" not in reply.lower()


async def test_first_name_then_the_doctors_surname_keeps_the_doctor_to_the_lead(app: App) -> None:
    await book(app, "запишите к гинекологу Ивановой", name="Мария Иванова")
    lead = leads(app)[0]
    assert lead.service.startswith("Иванова Марина Сергеевна") and lead.name == "Мария"
    assert "Иванова" in lead.comment


async def test_saying_the_surname_is_mine_while_asked_for_the_name_still_drops_the_doctor(app: App) -> None:
    await talk(app, "к Морозовой", "да")
    await talk(app, "нет, Морозова — это моя фамилия, мне к хирургу")
    assert booking(app) == ("", "Хирург")


async def test_a_surname_given_after_zovut_is_recorded_as_the_name(app: App) -> None:
    await talk(app, "нужен уролог", "да")
    reply = await talk(app, "зовут меня Лебедева")
    assert app.store.load(PATIENT).booking.name == "Лебедева"
    assert "номер" in reply.lower()
    await talk(app, "89275550011")
    assert app.store.load(PATIENT).booking.phone == "+79275550011"


async def test_not_this_but_that_doctor_after_the_confirmation_rewrites_the_same_lead(app: App) -> None:
    await book(app, "хочу к неврологу", name="Зинаида")
    reply = await talk(app, "ой, мне не к неврологу надо, а к эндокринологу")
    rows = leads(app)
    assert len(rows) == 1 and rows[0].service == "Эндокринолог"
    assert "отдельн" not in reply and "Эндокринолог" in reply


async def test_mixed_up_after_the_confirmation_is_a_change_not_a_second_request(app: App) -> None:
    await book(app, "к хирургу, пожалуйста", name="Олег")
    await talk(app, "я перепутал, к урологу")
    rows = leads(app)
    assert len(rows) == 1 and rows[0].service == "Уролог"


async def test_not_knowing_then_a_doctor_is_not_taken_as_a_correction(app: App) -> None:
    await talk(app, "не знаю, а к кардиологу можно записаться?")
    assert booking(app) == ("", "Кардиолог")


async def test_a_womans_surname_when_only_the_man_works_here_offers_him_by_name(app: App) -> None:
    reply = await talk(app, "можно записаться к Соколовой?")
    assert "Соколовой" not in reply and "Соколова у нас нет" in reply
    assert "Соколов Д. И. (Кардиолог)" in reply and "имели в виду" not in reply
    await talk(app, "да")
    assert booking(app) == ("Соколов Дмитрий Игоревич", "Кардиолог")


async def test_an_unknown_surname_with_a_specialty_is_said_and_the_specialty_booked(app: App) -> None:
    reply = await talk(app, "запишите к Тарасовой, это эндокринолог")
    assert "Тарасова" in reply and "нет" in reply
    assert booking(app) == ("", "Эндокринолог")
