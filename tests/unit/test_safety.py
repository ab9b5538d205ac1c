"""The safety check through the service: emergency signs get 103/112 at once, in any state, never a booking.

These are the development examples; `bench/safety_heldout.toml` is kept apart and only measured
(`bench/safety.py`).
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.bootstrap import App, build_app
from bot.channels.telegram.admin import lead_alert_text
from bot.clock import FakeClock
from bot.config import load_settings
from bot.dialogue.core import DialogueCore
from bot.dialogue.messages import Address, HandoffRequested, Incoming
from bot.dialogue.safety.detect import detect
from bot.dialogue.state import ConversationState
from bot.engine.port import Intent, Understanding
from bot.knowledge.loader import load_knowledge
from bot.knowledge.models import Level
from bot.knowledge.safety import DEFAULT_SAFETY
from bot.notify import LogNotifier
from bot.prompts import load_texts
from tests.conftest import OPEN_TIME
from tests.unit.test_dialogue import joined, leads, say
from tests.unit.test_knowledge_problems import folder

ROOT = Path(__file__).resolve().parents[2]

EMERGENCIES = [
    ("порой кажется, что без меня всем было бы лучше", "suicide"),
    ("так устал, лечь бы спать и не просыпаться больше", "suicide"),
    ("лучше бы меня вообще не было на свете", "suicide"),
    ("у жены сильная боль за грудиной уже 20 минут", "chest"),
    ("давящая боль в груди отдает в челюсть", "chest"),
    ("папе плохо, задыхается, не может лечь", "breathing"),
    ("дочка подавилась орешком, кашляет и хрипит", "breathing"),
    ("ребёнок посинел и не дышит", "breathing"),
    ("у деда лицо перекошено, слова не выговаривает", "stroke"),
    ("внезапно отнялась левая рука и половина лица", "stroke"),
    ("тёща упала в обморок на кухне", "unconscious"),
    ("мама потеряла сазнание", "unconscious"),
    ("у мальчика судороги на фоне температуры 39", "seizure"),
    ("кровотечение из раны никак не остановить", "bleeding"),
    ("у отца стул черного цвета и слабость", "bleeding"),
    ("я наглоталась таблеток", "overdose"),
    ("дочь 3 лет выпила жидкость для розжига", "overdose"),
    ("выпил 30 таблеток парацетамола", "overdose"),
    ("отравились всей семьей, рвет", "poisoning"),
    ("болит животик у сына 6 лет, вырвало два раза", "abdomen"),
    ("боли в животе справа и температура 38,7", "abdomen"),
    ("болит живот невыносимо", "abdomen"),
    ("у малыша 1.5 месяца температура 38", "infant_fever"),
    ("ребенку 10 месяцев, температура 39,3", "infant_fever"),
    ("после пчелы распух язык", "anaphylaxis"),
    ("крапивница по всему телу и задыхаюсь", "anaphylaxis"),
    ("сына сбила машина", "injury"),
    ("обварила руку кипятком, вся в пузырях", "injury"),
    ("бабушка упала и не может встать", "injury"),
    ("беременность 30 недель, отошли воды", "pregnancy"),
    ("я беременна и у меня кровотечение", "pregnancy"),
    ("жить не хочется совсем", "suicide"),
    ("думаю покончить с собой", "suicide"),
    ("подросток режет себя и говорит что не хочет жить", "suicide"),
    ("у ребёнка болит живот, его рвёт, темпиратура 38", "abdomen"),
    ("ЗАДЫХАЮСЬ ПОМОГИТЕ", "breathing"),
    # a second set, written after the detection was built (31 of 40 caught then), now development examples
    ("мужу плохо с сердцем, таблетки не помогают, весь серый", "chest"),
    ("ребенок засунул в рот монетку и хрипит", "breathing"),
    ("у бабули речь невнятная стала и рука висит", "stroke"),
    ("у подруги приступ эпилепсии", "seizure"),
    ("кровь из пореза на ноге никак не останавливаеться", "bleeding"),
    ("мама случайно выпила двойную дозу инсулина, ей плохо", "overdose"),
    ("ребенок наелся таблеток из аптечки", "overdose"),
    ("не хочу больше так жить, всё надоело, хочу уйти", "suicide"),
    ("муж говорит, что покончит с собой", "suicide"),
]

LOOKALIKES = [
    "не вижу смысла ехать к вам через весь город, есть филиал ближе?",
    "плохо сплю, не могу уснуть, к неврологу можно?",
    "у сына (ему 8 лет) периодически болит живот, нужен гастроэнтеролог",
    "дочке шесть лет, живот болит уже месяц после еды",
    "болит горло второй день",
    "давление скачет, хочу к кардиологу",
    "кровь сдать можно у вас?",
    "анализ крови сколько стоит",
    "температура 37.2 третий день",
    "болит живот после жирного, нет температуры, не тошнит",
    "иногда покалывает в груди, хочу обследоваться у кардиолога",
    "немеют пальцы рук по ночам, к неврологу",
    "сбила температуру, теперь кашель, к терапевту",
    "сын принял таблетку от температуры, теперь 37.5, хочу к педиатру",
    "администратор не отвечает на звонки",
    "после инсульта нужна консультация невролога",
    "ребёнку 2 года, болит ухо",
    "хочу записаться на УЗИ при беременности",
    "судороги в икрах по ночам",
    "не хочу жить в общежитии, нужна справка",
    "хочу к эндокринологу, делаю уколы инсулина",
]


@pytest.mark.parametrize(("text", "category"), EMERGENCIES)
async def test_emergency_signs_get_103_and_no_booking(app: App, text: str, category: str) -> None:
    finding = detect(text)
    assert finding is not None and finding.category == category and not finding.soft
    reply = joined(await say(app, text))
    assert "103" in reply and "112" in reply
    assert "запишу" not in reply and "телефон" not in reply.replace("телефон доверия", "")
    assert "аппендицит" not in reply and "инфаркт" not in reply  # advice, never a diagnosis


@pytest.mark.parametrize("text", LOOKALIKES)
async def test_ordinary_requests_are_not_alarmed(app: App, text: str) -> None:
    assert "103" not in joined(await say(app, text))


async def test_an_old_fainting_is_advised_and_the_booking_goes_on(app: App) -> None:
    reply = joined(await say(app, "был обморок год назад, хочу обследоваться у терапевта"))
    assert "скорую" in reply and "103" not in reply
    assert "Терапевт" in reply  # the booking carries on


@pytest.mark.parametrize(("text", "service"), [("боль в сердце, хочу к кардиологу", "Кардиолог"),
                                              ("носовое кровотечение, можно к лору?", "ЛОР")])  # fmt: skip
async def test_a_booking_for_a_milder_complaint_gets_the_numbers_and_goes_on(
    app: App, text: str, service: str
) -> None:
    reply = joined(await say(app, text))
    assert "прямо сейчас" in reply and "103" in reply
    assert service in reply and "согласн" in reply.lower()  # the booking goes on: consent is asked


async def test_suicidal_speech_gets_the_crisis_line_and_no_booking(app: App) -> None:
    reply = joined(await say(app, "не хочу больше жить, всё бессмысленно"))
    assert "8-800-2000-122" in reply and "112" in reply and "одни" in reply
    assert "запис" not in reply


async def test_words_split_across_messages_are_read_together(app: App) -> None:
    first = joined(await say(app, "болит живот справа"))
    assert "103" not in first  # abdominal pain alone is a booking
    assert "103" in joined(await say(app, "и температура 38.9"))


@pytest.mark.parametrize(
    "question", ["это опасно?", "а можно подождать до завтра?", "может до утра потерпеть"]
)
async def test_a_safety_question_after_the_advice_is_answered_with_it(app: App, question: str) -> None:
    assert "103" in joined(await say(app, "у мужа жжет в груди и холодный пот"))
    reply = joined(await say(app, question))
    assert "103" in reply and "согласи" not in reply


async def test_a_safety_question_about_mild_symptoms_gets_when_to_call(app: App) -> None:
    await say(app, "у меня болит живот второй день")
    reply = joined(await say(app, "это не опасно?"))
    assert "не могу оценить" in reply and "103" in reply


async def test_an_emergency_mid_booking_marks_the_lead_urgent_and_alerts_admins(app: App) -> None:
    await say(app, "хочу к терапевту")
    await say(app, "да")
    await say(app, "Ольга")
    await say(app, "89123456789")
    reply = joined(await say(app, "ой, у мамы перекосило лицо и рука не слушается"))
    assert "103" in reply and "напишите" in reply and "Как вам удобнее" not in reply
    assert isinstance(app.notifier, LogNotifier)
    [urgent] = [s for s in app.notifier.sent if s.startswith("URGENT")]
    assert "СРОЧНО" in urgent and "слабость" in urgent
    assert app.store.load(PATIENT_STATE).followup_sent  # no reminder pushes the booking
    await say(app, "до 14")
    await say(app, "впервые")
    await say(app, "да")
    [lead] = leads(app)
    assert lead.comment.startswith("срочно")
    assert "Комментарий: срочно" in lead_alert_text(lead)


async def test_after_the_advice_the_booking_waits_for_the_patient(app: App) -> None:
    await say(app, "запишите к неврологу")
    await say(app, "согласна")
    await say(app, "Мария")
    assert "103" in joined(await say(app, "муж упал и не реагирует"))
    calm = joined(await say(app, "хорошо, вызвали скорую"))
    assert "Берегите себя" in calm and "номер" not in calm and "телефон" not in calm
    assert "до 14:00 или после" in joined(await say(app, "+7 912 345 67 89"))  # the patient goes on


def test_the_project_safety_file_says_the_embedded_defaults() -> None:
    knowledge = load_knowledge(ROOT / "knowledge")
    assert not knowledge.problems
    assert knowledge.safety == DEFAULT_SAFETY


async def test_the_same_emergency_alerts_admins_once(app: App) -> None:
    await say(app, "у папы давит в груди")
    await say(app, "очень давит в груди, что делать")
    assert isinstance(app.notifier, LogNotifier)
    assert len([s for s in app.notifier.sent if s.startswith("URGENT")]) == 1


def test_the_llm_engine_flag_is_answered_whatever_the_words() -> None:
    knowledge = load_knowledge(ROOT / "knowledge")
    core = DialogueCore(load_texts(ROOT / "prompts"), tz=ZoneInfo("Europe/Samara"))
    state = ConversationState()
    u = Understanding(intents=frozenset({Intent.EMERGENCY}))
    step = core.decide(state, Incoming("мне совсем плохо"), u, ADDRESS, OPEN_TIME, knowledge)
    assert "103" in step.replies[0].text
    assert any(isinstance(e, HandoffRequested) and "СРОЧНО" in e.reason for e in step.effects)


def test_safety_file_overrides_numbers_and_texts(tmp_path: Path) -> None:
    safety = 'ambulance = "03"\n[advice]\nchest = "Сядьте и ждите бригаду."\n'
    knowledge = load_knowledge(folder(tmp_path, safety_toml=safety))
    assert not knowledge.problems
    core = DialogueCore(load_texts(ROOT / "prompts"), tz=ZoneInfo("Europe/Samara"))
    step = core.decide(
        ConversationState(), Incoming("болит в груди"), Understanding(), ADDRESS, OPEN_TIME, knowledge
    )
    assert (
        "скорую прямо сейчас: 03" in step.replies[0].text
        and "Сядьте и ждите бригаду." in step.replies[0].text
    )


def test_a_broken_safety_file_is_reported_with_its_line_and_the_defaults_kept(tmp_path: Path) -> None:
    safety = 'ambulance = "103"\n[texts]\nurgent = "Звоните {ambulance}\n'
    knowledge = load_knowledge(folder(tmp_path, safety_toml=safety))
    [problem] = knowledge.problems
    assert (problem.level, problem.file, problem.line) == (Level.ERROR, "safety.toml", 3)
    assert knowledge.safety.ambulance == "103" and knowledge.safety.text("urgent")


@pytest.mark.parametrize(
    ("safety", "line", "words"),
    [
        ('[texts]\nurgent = "Звоните {номер}"\n', 2, "неизвестная подстановка {номер}"),
        ('[advice]\n"грудь" = "Сядьте"\n', 2, "неизвестное имя"),
        ('ambulance = ""\n', 1, "ambulance"),
    ],
)
def test_mistakes_in_the_safety_file_are_warnings(tmp_path: Path, safety: str, line: int, words: str) -> None:
    knowledge = load_knowledge(folder(tmp_path, safety_toml=safety))
    [problem] = knowledge.problems
    assert (problem.level, problem.file, problem.line) == (Level.WARNING, "safety.toml", line)
    assert words in problem.message


async def test_without_a_safety_file_the_embedded_texts_answer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # no stray .env
    (tmp_path / "k").mkdir()
    knowledge_dir = folder(tmp_path / "k")
    settings = load_settings(
        data_dir=tmp_path / "data", knowledge_dir=knowledge_dir, prompts_dir=ROOT / "prompts"
    )
    app = build_app(settings, clock=FakeClock(datetime(2026, 11, 23, 6, 0, tzinfo=UTC)))
    try:
        assert not (knowledge_dir / "safety.toml").exists()
        reply = joined(await say(app, "муж потерял сознание"))
        assert "103" in reply and "дышит" in reply
    finally:
        app.close()


ADDRESS = Address("console", "p1", "p1")
PATIENT_STATE = ADDRESS


async def test_emergency_signs_during_a_handoff_get_the_advice_and_still_reach_the_administrators(
    app: App,
) -> None:
    await say(app, "позовите администратора")
    # an ordinary message: relayed; the bot only says once when to expect the administrator (issue 17)
    assert "ответит здесь" in joined(await say(app, "алло?"))
    reply = joined(await say(app, "ему плохо, задыхается и губы синеют"))
    assert "103" in reply and "112" in reply
    assert isinstance(app.notifier, LogNotifier)
    assert any(s.startswith("relay") and "задыхается" in s for s in app.notifier.sent)
    assert any(s.startswith("URGENT") for s in app.notifier.sent)
    assert await say(app, "вы тут?") == []  # still the administrators' conversation


async def test_a_child_at_39_is_booked_with_a_word_on_when_to_call_an_ambulance(app: App) -> None:
    reply = joined(await say(app, "у дочки третий день 39.2, ей 6 лет, хотим к педиатру"))
    assert "103" in reply and "Педиатр" in reply
