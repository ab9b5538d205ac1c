"""A question, the safety advice or a service the doctors list lacks does not lose the request: the offer is
resumed, the service found before the advice is kept, lab tests become a callback request, and a question
told inside a long story is still answered. Through the service on the embedded defaults."""

from __future__ import annotations

from bot.bootstrap import App
from tests.unit.test_dialogue import PATIENT, joined, leads, say


async def test_the_offered_specialists_stay_after_a_question_and_a_second_yes_takes_the_first(
    app: App,
) -> None:
    first = joined(await say(app, "скачет давление, кружится голова"))
    assert "Кардиолог" in first and "Невролог" in first
    replies = await say(app, "а по субботам вы работаете?")
    text = joined(replies)
    assert "суббот" in text  # the question is answered
    labels = [b.label for r in replies for b in r.buttons]
    assert labels == ["Терапевт", "Кардиолог", "Невролог"]  # the same offer, not the whole menu
    again = await say(app, "хорошо")
    assert [b.label for r in again for b in r.buttons] == ["Терапевт", "Кардиолог", "Невролог"]
    chosen = joined(await say(app, "угу"))
    assert "Терапевт" in chosen and "согласн" in chosen
    assert app.store.load(PATIENT).booking.specialty == "Терапевт"


async def test_the_specialty_of_a_safety_question_is_kept_for_the_booking(app: App) -> None:
    advice = joined(await say(app, "третий день сильно болит живот, это не опасно?"))
    assert "103" in advice
    text = joined(await say(app, "давайте запишемся"))
    assert "Гастроэнтеролог" in text and "к какому врачу" not in text.lower()
    assert app.store.load(PATIENT).booking.specialty == "Гастроэнтеролог"


async def test_the_doctor_asked_for_with_emergency_signs_is_kept_after_the_advice(app: App) -> None:
    advice = joined(await say(app, "давит за грудиной и немеет левая рука, мне нужен кардиолог"))
    assert "скорую" in advice
    await say(app, "ладно")
    text = joined(await say(app, "хочу записаться"))
    assert "Кардиолог" in text and "согласн" in text


async def test_lab_tests_are_taken_as_a_callback_request(app: App) -> None:
    text = joined(await say(app, "нужно сдать анализ мочи"))
    assert "администратор" in text and "перезвон" in text
    for message in ("да", "да", "Игорь", "89170001122", "после 14", "впервые", "да"):
        text = joined(await say(app, message))
    assert "Заявка принята" in text
    (lead,) = leads(app)
    assert lead.service == "Анализы" and lead.phone == "+79170001122" and "анализ" in lead.comment


async def test_a_question_after_a_long_story_with_a_soft_safety_note_is_answered(app: App) -> None:
    text = joined(
        await say(
            app,
            "Здравствуйте. Дедушке 88 лет, почти не встаёт после инсульта три года назад. "
            "Может ли врач приехать к нему на дом?",
        )
    )
    assert "выезжают на дом" in text
    assert "нет точного ответа" not in text
