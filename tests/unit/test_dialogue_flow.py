"""The flow of a conversation (issue 17): questions at any step, no loops, English speakers, the whole doctors
menu, a waiting handoff, and a booking in few messages. Through the service on the embedded defaults."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest

from bot.bootstrap import App
from bot.clock import FakeClock
from bot.config import load_settings
from bot.dialogue.messages import Outgoing
from bot.dialogue.state import Slot, Stage
from tests.conftest import CLOSED_TIME
from tests.unit.test_dialogue import PATIENT, button_data, joined, leads, say


async def talk(app: App, *messages: str) -> list[Outgoing]:
    """Send the messages in turn; the bot's answer to the last one."""
    replies: list[Outgoing] = []
    for message in messages:
        replies = await say(app, message)
    return replies


class Transcript:
    """Every question the bot sent, to check that none came a third time in the same words."""

    def __init__(self, app: App) -> None:
        self.app = app
        self.asked: Counter[str] = Counter()
        self.said: list[str] = []

    async def say(self, *messages: str) -> str:
        text = ""
        for message in messages:
            replies = await say(self.app, message)
            self.asked.update(r.text for r in replies if "?" in r.text)
            self.said += [r.text for r in replies]
            text = joined(replies)
        return text

    def most_repeated(self) -> int:
        return max(self.asked.values(), default=0)


# --- 5. a question at any step is answered, then the step resumes


async def test_a_question_from_the_knowledge_at_the_consent_step_is_answered(app: App) -> None:
    await talk(app, "нужно к эндокринологу")
    text = joined(await talk(app, "а какие документы с собой брать?"))
    assert "паспорт" in text and "Согласны?" in text
    await talk(app, "хорошо, согласна")
    assert app.store.load(PATIENT).consent.given_at


async def test_a_question_outside_the_knowledge_is_answered_honestly_and_the_step_resumes(app: App) -> None:
    await talk(app, "хочу к урологу")
    text = joined(await talk(app, "а лифт в здании есть?"))
    assert "нет точного ответа" in text and "200-30-40" in text
    assert "не совсем поняла" not in text.lower() and "Согласны?" in text
    assert app.store.load(PATIENT).awaiting == Slot.CONSENT


async def test_a_question_about_a_doctors_days_mid_booking_is_not_misread(app: App) -> None:
    await talk(app, "запишите к неврологу", "да")
    text = joined(await talk(app, "а Морозова по пятницам принимает?"))
    assert "нет точного ответа" in text
    state = app.store.load(PATIENT)
    assert state.booking.specialty == "Невролог" and state.awaiting == Slot.NAME


async def test_a_greeting_with_a_question_gets_the_answer(app: App) -> None:
    text = joined(await talk(app, "Здравствуйте! Пенсионерам скидка положена?"))
    assert "10%" in text


async def test_a_greeting_with_an_unknown_question_is_not_swallowed(app: App) -> None:
    text = joined(await talk(app, "Добрый день, а вайфай в холле у вас бесплатный?"))
    assert "нет точного ответа" in text


async def test_a_reworded_price_question(app: App) -> None:
    text = joined(await talk(app, "почём у вас консультация?"))
    assert "стоимост" in text


async def test_sunday_hours_in_other_words(app: App) -> None:
    text = joined(await talk(app, "а в воскресенье вы открыты?"))
    assert "воскресенье — выходной" in text


async def test_preparation_for_that_means_the_service_just_named(app: App) -> None:
    await talk(app, "надо записаться на узи брюшной полости")
    text = joined(await talk(app, "а что нужно для подготовки к этому?"))
    assert "6–8 часов" in text and "8–12" not in text


async def test_him_after_the_bot_named_a_doctor(app: App) -> None:
    await talk(app, "а кто у вас эндокринолог?")
    await talk(app, "запишите меня к ней")
    assert app.store.load(PATIENT).booking.doctor == "Лебедева Наталья Юрьевна"


# --- 6. no loops


async def test_a_rare_name_typed_twice_is_taken(app: App) -> None:
    await talk(app, "к дерматологу", "да")
    await talk(app, "Ждан")
    reply = joined(await talk(app, "Ждан"))
    state = app.store.load(PATIENT)
    assert state.booking.name == "Ждан" and state.awaiting == Slot.PHONE
    assert "Ждан" in reply


async def test_a_patient_who_keeps_the_name_to_himself_is_booked_without_it(app: App) -> None:
    await talk(app, "к хирургу", "да")
    reply = joined(await talk(app, "я бы не хотел называть имя"))
    assert "без имени" in reply and app.store.load(PATIENT).awaiting == Slot.PHONE
    summary = joined(await talk(app, "89170002233", "до обеда", "впервые"))
    assert "не указано" in summary
    done = joined(await talk(app, "да"))
    assert "Заявка принята" in done and ", !" not in done
    [lead] = leads(app)
    assert (lead.name, lead.phone, lead.window) == ("", "+79170002233", "до 14:00")


async def test_vague_times_are_never_asked_a_third_time_the_same_way(app: App) -> None:
    t = Transcript(app)
    await t.say("к гастроэнтерологу", "да", "Зоя, 89170002234")
    await t.say("ну посмотрим", "как-нибудь", "затрудняюсь")
    assert t.most_repeated() <= 2
    assert app.store.load(PATIENT).booking.window == "любое"


async def test_an_unclear_service_offers_the_therapist_and_the_administrator(app: App) -> None:
    t = Transcript(app)
    await t.say("хочу записаться", "мне бы врача", "ну хорошего", "сама не знаю")
    assert t.most_repeated() <= 2
    assert "начните с терапевта" in "\n".join(t.said) and "администратор" in t.said[-1]


async def test_facts_without_consent_do_not_loop_the_consent_question(app: App) -> None:
    t = Transcript(app)
    await t.say("к офтальмологу", "Пётр", "89170002235", "вечером", "повторно", "уже был")
    assert t.most_repeated() <= 2


async def test_a_time_at_the_visit_question_changes_the_time_and_records_no_visit(app: App) -> None:
    await talk(app, "к кардиологу", "да", "Вика 89170002236")
    await talk(app, "после 14")
    reply = joined(await talk(app, "нет, давайте с утра"))
    b = app.store.load(PATIENT).booking
    assert b.window == "до 14:00" and b.visit == "" and "впервые" in reply


async def test_a_time_given_with_the_consent_is_taken(app: App) -> None:
    await talk(app, "к педиатру")
    await talk(app, "согласна, нам лучше после обеда")
    assert app.store.load(PATIENT).booking.window == "после 14:00"


async def test_a_button_label_typed_later_works_like_the_button(app: App) -> None:
    await talk(app, "к урологу", "да", "Лев 89170002237")
    await talk(app, "любое время")
    await talk(app, "Впервые")
    assert app.store.load(PATIENT).booking.visit == "первичное"
    await talk(app, "позвать администратора")
    assert app.store.load(PATIENT).stage == Stage.HANDOFF


# --- 7. English, the whole menu, a waiting handoff, the model's time budget


async def test_an_english_speaker_is_told_in_english(app: App) -> None:
    text = joined(await talk(app, "Good morning, can I see a doctor today?"))
    assert "Russian" in text and "+7 (846) 200-30-40" in text


async def test_short_english_answers_still_work(app: App) -> None:
    await talk(app, "к лору", "да", "Анна 89170002238")
    await talk(app, "morning")
    assert app.store.load(PATIENT).booking.window == "до 14:00"


async def test_every_specialty_is_reachable_from_the_menu(app: App) -> None:
    replies = await talk(app, "Здравствуйте")
    seen = [b.label for r in replies for b in r.buttons]
    assert len(seen) <= 8 and seen[-1] == "Другие специальности"
    replies = await say(app, button=button_data(replies, "Другие"))
    seen += [b.label for r in replies for b in r.buttons]
    specialties = app.knowledge().specialties
    assert set(specialties) <= set(seen)
    await say(app, button=button_data(replies, "Гастроэнтеролог"))
    assert app.store.load(PATIENT).booking.specialty == "Гастроэнтеролог"


async def test_a_handed_off_patient_at_night_is_told_when_to_expect_an_answer(
    app: App, clock: FakeClock
) -> None:
    clock.set(CLOSED_TIME)
    await talk(app, "передайте меня администратору")
    text = joined(await talk(app, "жду"))
    assert "завтра с 08:00" in text
    assert await talk(app, "ау") == []  # not after every message
    clock.advance(timedelta(minutes=40))
    assert await talk(app, "ну что?")
    await app.service.admin_reply(PATIENT.key, [Outgoing("Здравствуйте, это администратор")])
    clock.advance(timedelta(hours=1))
    assert await talk(app, "да, слушаю") == []  # an administrator is talking now


def test_a_hung_model_is_given_eight_seconds_by_default() -> None:
    assert load_settings().llm_total_timeout == timedelta(seconds=8)


# --- 8. fewer messages


async def test_name_and_phone_are_asked_in_one_question(app: App) -> None:
    reply = await talk(app, "хочу к неврологу", "да")
    assert "номер" in joined(reply) and reply[-1].request_contact
    text = joined(await talk(app, "Лиза 8 917 000 11 22"))
    assert "до 14:00 или после 14:00" in text and "впервые" in text
    summary = joined(await talk(app, "после обеда, первый раз"))
    assert "Всё верно?" in summary


async def test_an_hour_without_morning_or_evening_is_in_the_afternoon(app: App) -> None:
    await talk(app, "к педиатру, после школы часов в 5 можно?")
    assert app.store.load(PATIENT).booking.window == "после 14:00"


async def test_not_remembering_a_first_visit_is_an_answer(app: App) -> None:
    await talk(app, "к эндокринологу", "да", "Рита 89170002239", "до обеда")
    summary = joined(await talk(app, "честно, не помню уже"))
    assert "уточнит администратор" in summary and "Подтвердите" not in summary
    await talk(app, "да")
    assert leads(app)[0].visit == ""


def test_the_fallback_texts_are_the_projects_own() -> None:
    import tomllib

    from bot.dialogue.flow_texts import FLOW_FALLBACKS
    from tests.conftest import ROOT

    replies = tomllib.loads((ROOT / "prompts" / "replies.toml").read_text(encoding="utf-8"))
    assert {key: replies.get(key) for key in FLOW_FALLBACKS} == FLOW_FALLBACKS


async def test_a_question_inside_a_first_booking_message_is_answered(app: App) -> None:
    text = joined(
        await talk(app, "Добрый день, сколько стоит приём кардиолога и можно ли к нему записаться?")
    )
    assert (
        "стоимость" in text
        and "Кардиолог" in text
        and "Согласны?" in text.replace("Вы согласны?", "Согласны?")
    )


async def test_a_doctors_days_are_not_promised_and_the_booking_is_offered(app: App) -> None:
    text = joined(await talk(app, "а Федоров в четверг принимает?"))
    assert "Расписания врачей у меня нет" in text and "Федоров Павел Андреевич" in text
    text = joined(await talk(app, "хорошо, давайте"))
    assert "Согласны?" in text.replace("Вы согласны?", "Согласны?")


async def test_the_clinics_own_hours_are_still_the_faq(app: App) -> None:
    text = joined(await talk(app, "вы в субботу работаете?"))
    assert "09:00 до 15:00" in text and "Расписания" not in text


@pytest.mark.parametrize(
    ("question", "answer_part"),
    [
        ("до скольки вы сегодня?", "до 20:00"),
        ("а если я не смогу прийти, как отменить?", "за 2 часа"),
        ("что нельзя есть перед сдачей крови?", "8–12 часов"),
        ("нужно ли голодать перед узи живота?", "6–8 часов"),
        ("кардиограмму снимаете?", "ЭКГ"),
        ("пенсионерам дешевле?", "10%"),
    ],
)
async def test_reworded_questions_find_their_answers(app: App, question: str, answer_part: str) -> None:
    assert answer_part in joined(await talk(app, question))


@pytest.mark.parametrize("typo", ["даа", "дда", "соглсен", "сагласна"])
async def test_a_mistyped_yes_to_the_consent_is_the_consent_and_not_a_name(app: App, typo: str) -> None:
    await talk(app, "мне бы к эндокринологу")
    reply = joined(await talk(app, typo))
    state = app.store.load(PATIENT)
    assert state.consent.given_at and state.booking.name == "" and "обращаться" in reply


@pytest.mark.parametrize("word", ["Антн", "впервыйе", "повторна", "Нада"])
async def test_an_unknown_word_at_the_consent_question_is_not_stored_as_the_name(app: App, word: str) -> None:
    await talk(app, "к гастроэнтерологу")
    reply = joined(await talk(app, word))
    assert "огласны" in reply and "имя" not in reply.split("(")[0].lower()
    assert app.store.load(PATIENT).booking.name == ""
    await talk(app, "да", "впервыйе")  # a typo of an answer is no name even at the name question
    assert app.store.load(PATIENT).booking.name == ""


@pytest.mark.parametrize("mind", ["ну хорошо, я согласна", "ладно уж, даю согласие"])
async def test_agreeing_after_a_refusal_resumes_the_booking_with_that_doctor(app: App, mind: str) -> None:
    await talk(app, "нужен кардиолог", "не согласна")
    assert app.store.load(PATIENT).consent.declined_at
    reply = joined(await talk(app, mind))
    assert "обращаться" in reply
    await talk(app, "Тамара", "89170002291", "после обеда", "повторно", "да")
    [lead] = leads(app)
    assert (lead.name, lead.service, lead.visit) == ("Тамара", "Кардиолог", "повторное")


@pytest.mark.parametrize(
    "vague", ["хорошо, тогда к любому кардиологу", "давайте тогда в пятницу", "ладно, тогда после обеда"]
)
async def test_a_yes_about_the_doctor_or_the_day_is_not_the_consent(app: App, vague: str) -> None:
    await talk(app, "к кардиологу можно в четверг?")
    reply = joined(await talk(app, vague))
    assert not app.store.load(PATIENT).consent.given_at and "огласны" in reply
    await talk(app, "да")
    assert app.store.load(PATIENT).consent.given_at


@pytest.mark.parametrize(("typo", "visit"), [("впервыйе", "первичное"), ("павторно", "повторное")])
async def test_a_mistyped_visit_answer_at_the_time_question_is_the_visit(
    app: App, typo: str, visit: str
) -> None:
    await talk(app, "к дерматологу", "да", "Зоя", "89170002292")
    assert app.store.load(PATIENT).awaiting == Slot.WINDOW
    reply = joined(await talk(app, typo))
    state = app.store.load(PATIENT)
    assert state.booking.visit == visit and state.booking.name == "Зоя" and "14:00" in reply
    summary = joined(await talk(app, "до обеда"))
    assert "Всё верно?" in summary and visit in summary
