"""The LLM's fields and replies against the deterministic checks (no network)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.dialogue.extract.doctors import DoctorIndex
from bot.dialogue.messages import Incoming
from bot.dialogue.state import Booking, ConversationState, Slot, Stage
from bot.engine.llm import answer_texts
from bot.engine.llm_guard import (
    KnowledgeFacts,
    accept_fields,
    merge,
    reply_problem,
    skip_model,
    without_greeting,
)
from bot.engine.llm_prompt import load_system_template
from bot.engine.llm_schema import GarbageError, ModelTurn, parse_arguments, parse_text
from bot.engine.offline import OfflineEngine
from bot.engine.port import Intent, Understanding
from bot.knowledge.loader import load_knowledge
from bot.knowledge.models import FaqEntry

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def facts() -> KnowledgeFacts:
    knowledge = load_knowledge(ROOT / "knowledge")
    return KnowledgeFacts.build(knowledge, DoctorIndex.build(knowledge.doctors))


@pytest.fixture(scope="module")
def rules() -> str:
    return load_system_template(ROOT / "prompts").split("###", 1)[0]


def turn(**values: str) -> ModelTurn:
    return ModelTurn(reply="", values=dict(values), structured=True)


def state(awaiting: str = "", **booking: str) -> ConversationState:
    s = ConversationState(stage=Stage.BOOKING if awaiting else Stage.IDLE, awaiting=awaiting)
    s.booking = Booking(**booking)
    return s


# ------------------------------------------------------------------ fields


def test_phone_is_taken_only_when_valid_and_written_by_the_patient(facts: KnowledgeFacts) -> None:
    none = Understanding()
    text = "мой номер восемь девятьсот двенадцать 345 67 89"
    assert accept_fields(turn(phone="+79123456789"), none, state(Slot.PHONE), text, facts) == {
        "phone": "+79123456789"
    }
    # invented by the model: not in the message
    assert accept_fields(turn(phone="+79123456789"), none, state(Slot.PHONE), "позвоните мне", facts) == {}
    # in the message but not a real number
    assert accept_fields(turn(phone="+70001112233"), none, state(Slot.PHONE), "+7 000 111 22 33", facts) == {}


def test_offline_values_win_over_the_model(facts: KnowledgeFacts) -> None:
    offline = Understanding(phone="+79123456789", name="Ольга", window="после 14:00")
    got = accept_fields(
        turn(phone="+79270000000", name="Анна", window="до 14:00"),
        offline,
        state(Slot.WINDOW),
        "Ольга 89123456789 79270000000 Анна вечером",
        facts,
    )
    assert got == {}


def test_name_must_be_a_name_in_the_message_and_not_the_doctors(facts: KnowledgeFacts) -> None:
    none = Understanding()
    assert accept_fields(turn(name="Оля"), none, state(Slot.NAME), "пишите Оля", facts) == {"name": "Оля"}
    assert accept_fields(turn(name="Мария"), none, state(Slot.NAME), "пишите Оля", facts) == {}
    assert accept_fields(turn(name="Стол"), none, state(Slot.NAME), "стол", facts) == {}
    text = "хочу к Елене Викторовне на приём"
    assert accept_fields(turn(name="Елена"), none, state(Slot.SERVICE), text, facts) == {}


def test_doctor_must_be_in_the_list_and_named_by_the_patient(facts: KnowledgeFacts) -> None:
    none = Understanding()
    idle = state()
    got = accept_fields(turn(doctor="Смирнова Елена Викторовна"), none, idle, "к смирновой можно?", facts)
    assert got == {"doctor": "Смирнова Елена Викторовна"}
    assert accept_fields(turn(doctor="Пупкин Иван Иванович"), none, idle, "к пупкину", facts) == {}
    # in the list, but the patient only said "ухо болит": the model may not pick a doctor for them
    assert accept_fields(turn(doctor="Смирнова Елена Викторовна"), none, idle, "ухо болит", facts) == {}
    offered = state(Slot.DOCTOR_CHOICE)
    offered.choices = ["Смирнова Елена Викторовна", "Кузнецов Андрей Павлович"]
    got = accept_fields(turn(doctor="Кузнецов Андрей Павлович"), none, offered, "давайте к мужчине", facts)
    assert got == {"doctor": "Кузнецов Андрей Павлович"}


def test_the_patients_own_surname_is_not_taken_as_the_doctor(facts: KnowledgeFacts) -> None:
    """Issue 17: «я Кузнецова, к гинекологу» — a model answering Кузнецов (ЛОР) is overruled by the code."""
    text = "я Кузнецова, мне к гинекологу"
    offline = Understanding(specialty="Гинеколог", extra={"not_doctors": "Кузнецов Андрей Павлович"})
    assert accept_fields(turn(doctor="Кузнецов Андрей Павлович"), offline, state(), text, facts) == {}
    # a surname mentioned beside another specialty: the specialty stays
    offline = Understanding(specialty="Невролог")
    got = accept_fields(
        turn(doctor="Петрова Ольга Александровна"), offline, state(), "Петрова, к неврологу", facts
    )
    assert got == {}


def test_specialty_must_be_one_of_the_list(facts: KnowledgeFacts) -> None:
    none = Understanding()
    got = accept_fields(turn(specialty="невролог"), none, state(), "поясницу ломит третий день", facts)
    assert got == {"specialty": "Невролог"}
    assert accept_fields(turn(specialty="Остеопат"), none, state(), "нужен остеопат", facts) == {}
    # a service already chosen is not changed by the model's guess
    chosen = state(Slot.NAME, specialty="ЛОР")
    assert accept_fields(turn(specialty="Терапевт"), none, chosen, "Ольга", facts) == {}


def test_window_and_visit_need_the_question_or_a_cue(facts: KnowledgeFacts) -> None:
    none = Understanding()
    asked = state(Slot.WINDOW, specialty="ЛОР")
    got = accept_fields(turn(window="до 14:00"), none, asked, "давайте часиков в одиннадцать", facts)
    assert got == {"window": "до 14:00"}
    assert accept_fields(turn(window="завтра"), none, asked, "завтра", facts) == {}
    not_asked = state(Slot.NAME, specialty="ЛОР")
    assert accept_fields(turn(window="любое", visit="первичное"), none, not_asked, "Ольга", facts) == {}
    got = accept_fields(
        turn(visit="повторное"), none, state(Slot.VISIT), "ходила к вам в прошлом году", facts
    )
    assert got == {"visit": "повторное"}


def test_irreversible_intents_come_only_from_the_detector() -> None:
    offline = Understanding()
    model = ModelTurn(reply="", intents=frozenset({"question", "handoff"}), structured=True)
    merged = merge(offline, model, {}, None, 10)
    assert merged.intents == {Intent.QUESTION, Intent.HANDOFF}
    assert merged.tokens == 10
    # the schema does not even let "yes", "restart" or "withdraw_consent" through
    parsed = parse_arguments('{"reply": "ок", "intents": ["yes", "restart", "withdraw_consent", "booking"]}')
    assert parsed.intents == {"booking"}


def test_reply_is_kept_for_questions_not_for_slot_answers() -> None:
    model = ModelTurn(reply="Да, парковка есть.", structured=True)
    question = merge(Understanding(intents=frozenset({Intent.QUESTION})), model, {}, model.reply, 1)
    assert question.reply == "Да, парковка есть."
    slot = merge(Understanding(name="Ольга"), model, {}, model.reply, 1)
    assert slot.reply is None
    emergency = merge(
        Understanding(intents=frozenset({Intent.EMERGENCY, Intent.QUESTION})), model, {}, "x", 1
    )
    assert emergency.reply is None


def test_plain_answers_and_emergencies_skip_the_model() -> None:
    at_consent = state(Slot.CONSENT, specialty="ЛОР")
    assert skip_model(Understanding(intents=frozenset({Intent.YES})), at_consent, "да")
    assert skip_model(Understanding(intents=frozenset({Intent.EMERGENCY})), state(), "болит в груди")
    assert skip_model(Understanding(), state(), "  ")
    assert not skip_model(
        Understanding(intents=frozenset({Intent.YES})), at_consent, "да, а где вы находитесь?"
    )


# ------------------------------------------------------------------ replies


@pytest.mark.parametrize(
    "reply",
    [
        "Да, у нас есть бесплатная парковка во дворе, въезд со стороны ул. Ленинградской.",
        "Мы находимся в Самаре, на ул. Молодогвардейская, 120, рядом остановка «Площадь Революции».",
        "Вас может принять Смирнова Елена Викторовна, она ЛОР и принимает детей с 3 лет.",
        "Можно записаться к Кузнецову Андрею Павловичу или к Смирновой.",
        "Позвоните нам: +7 (846) 200-30-40, или оставьте заявку здесь.",
        "Политика обработки данных: https://zdorovie-samara.example.ru/privacy",
        "Ольга, точную стоимость назовёт администратор, когда перезвонит.",
        "ЛОР принимает детей от 3 лет, педиатр — от 0 до 18 лет.",
    ],
)
def test_grounded_replies_pass(reply: str, facts: KnowledgeFacts, rules: str) -> None:
    s = state(Slot.PHONE, name="Ольга")
    assert reply_problem(reply, facts, rules, s, "вопрос") is None


@pytest.mark.parametrize(
    ("reply", "why"),
    [
        ("Вас примет доктор Пупкин, он отличный специалист.", "врача"),
        ("Рекомендую Сидоренко Ивана Петровича, он кардиолог.", "врача"),
        ("Запишитесь к Хаусу Г. Д., он разберётся.", "врача"),
        ("Приём ЛОРа стоит 1500 рублей.", "цена"),
        ("УЗИ обойдётся от 2 000 ₽.", "цена"),
        ("Звоните по номеру 8 927 111-22-33.", "телефон"),
        ("Подробнее на сайте https://example.com/prices", "ссылка"),
        ("Я записала вас на завтра к 10:00.", "обещает"),
        ("Хорошо, вы записаны!", "обещает"),
        ("Sure, I can help you with that.", "по-русски"),
        (
            "Вот мои правила: Называйте только врачей из раздела «Врачи» и только факты из разделов "
            "«О клинике» и «Ответы из базы знаний». Цен, сроков, скидок, телефонов и ссылок, которых там нет, "
            "не называйте",
            "инструкции",
        ),
        ('Вызываю record_turn: {"name": "x"}', "инструкции"),
    ],
)
def test_invented_or_leaking_replies_are_rejected(
    reply: str, why: str, facts: KnowledgeFacts, rules: str
) -> None:
    problem = reply_problem(reply, facts, rules, state(), "вопрос")
    assert problem is not None and why in problem


def test_a_models_greeting_is_left_to_the_core() -> None:
    assert without_greeting("Здравствуйте! Да, парковка есть.") == "Да, парковка есть."
    assert without_greeting("добрый день, мы работаем до 20:00") == "Мы работаем до 20:00"
    assert without_greeting("Здравствуйте!") == ""
    assert without_greeting("Парковка есть.") == "Парковка есть."


def test_model_output_in_any_form() -> None:
    assert parse_text('Вот ответ: {"reply": "Здравствуйте", "name": null, "intents": "greeting"}').reply == (
        "Здравствуйте"
    )
    prose = parse_text("Здравствуйте! Чем могу помочь?")
    assert prose.reply == "Здравствуйте! Чем могу помочь?" and not prose.structured
    with pytest.raises(GarbageError):
        parse_arguments('{"reply": "обрыв')
    with pytest.raises(GarbageError):
        parse_arguments("[1, 2]")
    with pytest.raises(GarbageError):
        parse_text("   ")
    numeric = parse_arguments('{"reply": "ok", "phone": 89123456789, "name": "null", "window": ""}')
    assert numeric.values == {"phone": "89123456789"}


def test_every_answer_of_the_knowledge_passes_the_reply_checks(facts: KnowledgeFacts, rules: str) -> None:
    """A model that repeats the clinic's own FAQ answers is never mistaken for an inventing one."""
    offline = OfflineEngine(lambda: facts.knowledge)

    def asked(entry: FaqEntry) -> tuple[str, ...]:  # what the engine matches to the question, as in llm.py
        u = offline.understand_now(state(), Incoming(text=entry.question))
        return answer_texts(u, entry.question, offline.indexes().faq, facts.knowledge)

    rejected = {
        entry.question: problem
        for entry in facts.knowledge.faq
        if (
            problem := reply_problem(entry.answer[:1200], facts, rules, state(), entry.question, asked(entry))
        )
    }
    assert rejected == {}
