"""What the administrator needs besides the form's fields: a home visit, a bedridden patient, an age, a day
asked for, urgency. Short phrases for the lead's `Комментарий`; the day is resolved by the core (it knows
the date and the clinic's hours)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.dialogue.language import fold

_HOME = re.compile(
    r"(на\s+дом\b|на\s+дому\b|\bдомой\s+(врача|доктора|терапевта|педиатра)|\bвыезд\w*|\bвыехать\b|"
    r"\b(вызов|вызвать|вызывать|пригласить)\w*\s+(\w+\s+)?(врача|доктора|терапевта|педиатра|специалиста))"
)
_BEDRIDDEN = re.compile(
    r"(лежач\w*|не\s+вста[её]т|не\s+ходит(?!\s+(в|на)\s)|не\s+ходяч\w*|маломобильн\w*|прикован\w*|"
    r"не\s+(может|сможет|в\s+состоянии)\s+(сам\w*\s+)?(ходить|встать|прийти|дойти|приехать|добраться)|"
    r"(сам\w*\s+)?не\s+(дойд[её]т|доберет\w*|добер[её]т\w*))"
)
# "маме 85 лет", "сыну 4 года", "ребёнку 8 месяцев", "мне 67 лет".
_AGE = re.compile(
    r"(?:\b(ребенку|ребенок|сыну|сын|дочке|дочери|дочь|дочка|маме|мама|папе|папа|бабушке|бабушка|дедушке|"
    r"дедушка|мужу|жене|внуку|внучке|мне|ему|ей)\s+)?(?:\w+\s+)?(\d{1,3})\s*"
    r"(лет|год|года|годик|годика|месяц|месяца|месяцев|мес)\b"
)
_URGENT = re.compile(
    r"(срочн\w*|как\s+можно\s+(скорее|быстрее|раньше)|поскорее|побыстрее|неотложн\w*|сегодня\s+же|"
    r"очень\s+надо\s+сегодня)"
)
# (weekday, the word anywhere, an abbreviation only after "в", "на"...)
_WEEKDAYS = (
    (0, r"\bпонедельник\w*", r"пн"),
    (1, r"\bвторник\w*", r"вт"),
    (2, r"(?<=\bв\s)сред[уаеы]\b|(?<=\bна\s)сред[уаеы]\b|\bсреда\b", r"ср"),
    (3, r"\bчетверг\w*", r"чт"),
    (4, r"\bпятниц\w*", r"пт"),
    (5, r"\bсуббот\w*", r"сб"),
    (6, r"\bвоскресень\w*", r"вс"),
)
_DAY_CONTEXT = r"(?:\b(?:в|во|на|к|до|с|или|и)\s+(?:эт\w+\s+|следующ\w+\s+|ближайш\w+\s+)?)"
_RELATIVE = re.compile(r"\b(послезавтра|завтра|сегодня)\b")
_DATE = re.compile(r"\b(\d{1,2})[./](\d{1,2})\b(?![./]\d{3,})")
_MONTHS = (
    "январ",
    "феврал",
    "март",
    "апрел",
    "ма[йя]",
    "июн",
    "июл",
    "август",
    "сентябр",
    "октябр",
    "ноябр",
    "декабр",
)
_DATE_WORDS = re.compile(r"\b(\d{1,2})\s+(" + "|".join(_MONTHS) + r")\w*")


@dataclass(frozen=True, slots=True)
class Details:
    home: bool = False
    bedridden: bool = False
    age: str = ""  # "маме 85 лет"
    urgent: bool = False
    day: str = ""  # "wd:5" (a weekday), "rel:1" (days from today), "date:28.11"

    def __bool__(self) -> bool:
        return bool(self.home or self.bedridden or self.age or self.urgent or self.day)


_WEEKDAY_PATTERNS = tuple(
    (weekday, re.compile(f"{word}|{_DAY_CONTEXT}{short}\\b")) for weekday, word, short in _WEEKDAYS
)
# A cheap test before the patterns: most messages name no day, no age, no home visit.
_ANY_CUE = re.compile(
    r"(\d|понедельн|вторн|сред|четверг|пятниц|суббот|воскрес|\bпн\b|\bвт\b|\bср\b|\bчт\b|\bпт\b|\bсб\b|"
    r"\bвс\b|завтра|сегодня|прийти|приех|добрат|может|дом|выезд|вызов|вызва|пригласить|лежач|ход|вста|прикован|маломобил|дойд|добер|"
    r"срочн|скорее|быстрее|раньше|неотлож)"
)


def _day(low: str) -> str:
    for weekday, pattern in _WEEKDAY_PATTERNS:
        if pattern.search(low):
            return f"wd:{weekday}"
    relative = _RELATIVE.search(low)
    if relative:
        return "rel:" + str({"сегодня": 0, "завтра": 1, "послезавтра": 2}[relative.group(1)])
    words_date = _DATE_WORDS.search(low)
    if words_date:
        month = next(i for i, m in enumerate(_MONTHS, 1) if re.match(m, words_date.group(2)))
        day = int(words_date.group(1))
        if 1 <= day <= 31:
            return f"date:{day:02d}.{month:02d}"
    date = _DATE.search(low)
    if date and 1 <= int(date.group(1)) <= 31 and 1 <= int(date.group(2)) <= 12:
        return f"date:{int(date.group(1)):02d}.{int(date.group(2)):02d}"
    return ""


def extract_details(text: str) -> Details:
    low = fold(text)
    if not _ANY_CUE.search(low):
        return Details()
    age = ""
    match = _AGE.search(low)
    if match and 0 < int(match.group(2)) <= 120:
        who = match.group(1) or ""
        who = "" if who in ("ему", "ей") else who
        age = f"{who} {match.group(2)} {match.group(3)}".strip()
    return Details(
        home=bool(_HOME.search(low)),
        bedridden=bool(_BEDRIDDEN.search(low)),
        age=age,
        urgent=bool(_URGENT.search(low)),
        day=_day(low),
    )
