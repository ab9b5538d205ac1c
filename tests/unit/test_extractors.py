from pathlib import Path

import pytest

from bot.dialogue.extract.doctors import DoctorIndex
from bot.dialogue.extract.intents import detect_intents
from bot.dialogue.extract.names import extract_name
from bot.dialogue.extract.visit import extract_visit
from bot.dialogue.extract.windows import extract_window
from bot.knowledge.loader import load_knowledge

ROOT = Path(__file__).resolve().parents[2]
KNOWLEDGE = load_knowledge(ROOT / "knowledge")
DOCTORS = DoctorIndex.build(KNOWLEDGE.doctors)


@pytest.mark.parametrize(
    ("text", "expecting", "name"),
    [
        ("меня зовут Ане", False, None),
        ("Ане", True, None),
        ("Анна", True, "Анна"),
        ("анна", True, "Анна"),
        ("это Ольга Петровна", False, "Ольга"),
        ("Ольга Петровна", True, "Ольга"),
        ("Здравствуйте, я Ольга, хочу к лору", False, "Ольга"),
        ("Меня зовут Иван Петров", False, "Иван"),
        ("я хочу к лору", False, None),
        ("хочу записаться", True, None),
        ("да", True, None),
        ("Татьяна, 89123456789", True, "Татьяна"),
        ("моё имя Сергей", False, "Сергей"),
        ("Зарема", True, "Зарема"),
        ("Анна-Мария", True, "Анна-Мария"),
        ("меня зовут анна-мария", False, "Анна-Мария"),
        ("Мая", True, "Мая"),
        ("майя", True, "Майя"),
        ("до 9 мая", True, None),
        ("Лев", True, "Лев"),
        ("любовь", True, "Любовь"),
        ("Ника", True, "Ника"),
    ],
)
def test_first_names(text: str, expecting: bool, name: str | None) -> None:
    assert extract_name(text, expecting=expecting) == name


@pytest.mark.parametrize(
    ("text", "doctors"),
    [
        ("хочу к Смирновой", ("Смирнова Елена Викторовна",)),
        ("запишите к Смирновой Елене", ("Смирнова Елена Викторовна",)),
        ("к Кузнецову", ("Кузнецов Андрей Павлович",)),
        ("Иванову", ("Иванов Сергей Николаевич", "Иванова Марина Сергеевна")),
        ("к Ивановой", ("Иванова Марина Сергеевна",)),
        ("к Смирновй", ("Смирнова Елена Викторовна",)),
        ("хочу к Елене Викторовне", ("Смирнова Елена Викторовна",)),
        ("я была у Марины Сергеевны", ("Иванова Марина Сергеевна",)),
        ("я Марина Сергеевна, хочу к лору", ()),  # the patient's own name and patronymic
    ],
)
def test_doctors_by_surname_in_any_case(text: str, doctors: tuple[str, ...]) -> None:
    assert DOCTORS.match(text).doctors == doctors


@pytest.mark.parametrize(
    ("text", "specialty"),
    [
        ("хочу к лору", "ЛОР"),
        ("болит ухо", "ЛОР"),
        ("заложенность носа уже неделю", "ЛОР"),
        ("нужно УЗИ щитовидки", "Врач УЗИ"),
        ("к окулисту", "Офтальмолог"),
        ("у меня болит колено", "Травматолог-ортопед"),
        ("температура у ребёнка", "Педиатр"),
        ("сыпь на руках", "Дерматолог"),
        ("к терапевту", "Терапевт"),
        ("к гинекологу на осмотр", "Гинеколог"),
        ("мигрень замучила", "Невролог"),
        ("к кардиологу", "Кардиолог"),
        ("запишите к кардиалогу", "Кардиолог"),  # a typo in an oblique case
        ("к эндакринологу", "Эндокринолог"),
        ("хачу к неврлогу", "Невролог"),
        ("записаться к гинекологам", "Гинеколог"),
    ],
)
def test_specialty_by_name_synonym_or_complaint(text: str, specialty: str) -> None:
    assert DOCTORS.match(text).specialty == specialty


def test_complaint_shared_by_specialties_offers_a_choice() -> None:
    assert set(DOCTORS.match("скачет давление").specialty_options) == {"Терапевт", "Кардиолог"}


def test_unknown_doctor_is_never_accepted() -> None:
    match = DOCTORS.match("запишите к Пупкину")
    assert match.doctors == () and match.unknown == "Пупкин"


@pytest.mark.parametrize("text", ["хочу к врачу", "к сожалению не могу", "здравствуйте"])
def test_no_doctor_in_plain_phrases(text: str) -> None:
    match = DOCTORS.match(text)
    assert not match.doctors and not match.unknown and not match.specialty


@pytest.mark.parametrize(
    ("text", "window"),
    [
        ("утром", "до 14:00"),
        ("до обеда", "до 14:00"),
        ("с утра пораньше", "до 14:00"),
        ("часов в 10", "до 14:00"),
        ("после 14", "после 14:00"),
        ("вечером", "после 14:00"),
        ("после работы", "после 14:00"),
        ("после обеда", "после 14:00"),
        ("в 17:00", "после 14:00"),
        ("в любое время", "любое"),
        ("без разницы", "любое"),
        ("пофиг", "любое"),
        ("хоть когда", "любое"),
        ("не принципиально", "любое"),
        ("ближе к обеду", "до 14:00"),
        ("вечерком", "после 14:00"),
        ("да, всё подходит", None),
        ("любой терапевт", None),
        ("завтра", None),
        ("ребёнку в 10 лет", None),
    ],
)
def test_time_windows(text: str, window: str | None) -> None:
    assert extract_window(text) == window


@pytest.mark.parametrize(
    ("text", "visit"),
    [
        ("впервые", "первичное"),
        ("ни разу не был", "первичное"),
        ("я у вас не была", "первичное"),
        ("первый раз", "первичное"),
        ("уже лечился у вас", "повторное"),
        ("повторно", "повторное"),
        ("не впервые", "повторное"),
        ("была у вас в прошлом году", "повторное"),
        ("снова болит ухо", None),
        ("был уже у вас", "повторное"),
        ("была уже", "повторное"),
        ("ходила к вам раньше", "повторное"),
        ("я у вас уже лечилась", "повторное"),
        ("раньше не был", "первичное"),
        ("первый", None),  # means something only as the answer to "были ли вы у нас?"
    ],
)
def test_first_or_repeat(text: str, visit: str | None) -> None:
    assert extract_visit(text) == visit


@pytest.mark.parametrize(
    ("text", "visit"),
    [
        ("первый", "первичное"),
        ("Первый!", "первичное"),
        ("новая", "первичное"),
        ("была", "повторное"),
        ("второй", "повторное"),
        ("утром", None),
    ],
)
def test_short_answers_to_the_visit_question(text: str, visit: str | None) -> None:
    assert extract_visit(text, expecting=True) == visit


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("да", "yes"),
        ("Да, всё верно", "yes"),
        ("согласна", "yes"),
        ("ок", "yes"),
        ("нет", "no"),
        ("нет, телефон другой", "no"),
        ("/start", "restart"),
        ("начать заново", "restart"),
        ("позовите администратора", "handoff"),
        ("хочу поговорить с живым человеком", "handoff"),
        ("сильная боль в груди", "emergency"),
        ("муж потерял сознание", "emergency"),
        ("не могу дышать", "emergency"),
        ("спасибо", "thanks"),
        ("до свидания", "goodbye"),
        ("отзываю согласие на обработку данных", "withdraw_consent"),
        ("ну да", "yes"),
        ("ага, да", "yes"),
        ("✅", "yes"),
        ("👍👍", "yes"),
        ("ну нет", "no"),
        ("нее", "no"),
        ("администратор", "handoff"),
        ("оператора пожалуйста", "handoff"),
        ("нужен живой человек", "handoff"),
        ("я подумаю", "later"),
        ("напишу позже", "later"),
        ("давайте заново", "restart"),
        ("ладно, потом, до свидания", "goodbye"),
    ],
)
def test_intents(text: str, intent: str) -> None:
    assert intent in detect_intents(text)


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("когда администратор перезвонит?", "handoff"),
        ("результаты можно забрать в регистратуре?", "handoff"),
        ("сначала скажите, где вы находитесь", "restart"),
        ("можно прийти без записи?", "booking"),
        ("хочу перенести запись на другой день", "booking"),
        ("не знаю", "no"),
    ],
)
def test_phrases_that_do_not_mean_an_intent(text: str, intent: str) -> None:
    assert intent not in detect_intents(text)


@pytest.mark.parametrize(
    ("text", "specialty"),
    [
        ("у меня болит спина уже неделю", "Невролог"),
        ("боль в ухе", "ЛОР"),
        ("колено опухло", "Травматолог-ортопед"),
        ("болит голова", "Невролог"),
        ("ноет плечо", "Травматолог-ортопед"),
        ("сильно болят глаза", "Офтальмолог"),
    ],
)
def test_complaints_in_other_words(text: str, specialty: str) -> None:
    assert DOCTORS.match(text).specialty == specialty


def test_a_complaint_for_a_specialty_the_clinic_lacks() -> None:
    assert DOCTORS.match("болит зуб").missing_specialty == "стоматолог"


@pytest.mark.parametrize(
    ("text", "specialty"),
    [
        ("Моему сыну 5 лет, у него температура 38 и кашель", "Педиатр"),
        ("у дочки болит ухо", "Педиатр"),
        ("к лору с ребенком", "ЛОР"),  # a named specialty wins
    ],
)
def test_children_go_to_the_paediatrician_unless_a_specialist_is_named(text: str, specialty: str) -> None:
    assert DOCTORS.match(text).specialty == specialty


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("к неврологу, Оля, 89123456789, утром, впервые", "Оля"),
        ("согласна, Ирина 89123456789", "Ирина"),
        ("Вера, 8 912 345 67 89", "Вера"),
        ("Здравствуйте, хочу к лору", None),
        ("Утром, впервые", None),
        ("Отлично, спасибо", None),
        ("к Ивановой, Марина Сергеевна", None),
    ],
)
def test_a_bare_name_between_commas(text: str, name: str | None) -> None:
    assert extract_name(text) == name


@pytest.mark.parametrize(
    ("text", "window"),
    [
        ("не утро, а вечер", "после 14:00"),
        ("не после обеда, лучше с утра", "до 14:00"),
        ("не утром", "после 14:00"),
        ("утром не могу", "после 14:00"),
        ("утром работаю", "после 14:00"),
        ("утром или вечером", None),
    ],
)
def test_a_refused_half_of_the_day(text: str, window: str | None) -> None:
    assert extract_window(text) == window


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("ольга 89123456789 лор утро впервые", "Ольга"),
        ("Анна хочу к лору", "Анна"),
        ("Мама болеет", None),
        ("Слава богу, всё хорошо", None),
        ("Привет", None),
    ],
)
def test_a_message_that_starts_with_a_first_name(text: str, name: str | None) -> None:
    assert extract_name(text) == name
