"""The preferred time: before 14:00, after 14:00, or any."""

from __future__ import annotations

import re

from bot.dialogue.language import fold
from sheets.schema import Window

_ANY = re.compile(
    r"\b(в\s+любое|любое\s+время|любое|не\s+важно|неважно|вс[её]\s+равно|без\s+разницы|когда\s+угодно|"
    r"как\s+угодно|как\s+удобно\s+врачу|в\s+любой\s+день|на\s+ваше\s+усмотрение|пофиг|по\s+барабану|"
    r"хоть\s+когда|как\s+получится|не\s*принципиально|"
    r"и\s+так\s+и\s+так|оба\s+варианта|как\s+можно\s+(скорее|раньше|быстрее)|поскорее|побыстрее|"
    r"в\s+ближайшее|ближайшее\s+время|any\s*time|any)\b"
)
_MORNING = re.compile(
    r"(\bутр|с\s+утра|до\s+обеда|до\s+об[еи]д|первая\s+половина|первой\s+половине|пораньше|до\s+14|до\s+2\b|"
    r"до\s+двух|до\s+полудня|до\s+12|до\s+13|в\s+первой\s+половине|\bрано\b|к\s+обеду|"
    r"\bспозаранку|\bв\s+обед\b|в\s+обеденное|\bmorning\b|\bbefore\s+(noon|lunch|2\s*pm))"
)
_AFTERNOON = re.compile(
    r"(после\s+обеда|после\s+об[еи]д|\bвечер|после\s+работы|вторая\s+половина|второй\s+половине|после\s+14|"
    r"после\s+[2-8]\b|после\s+(двух|тр[её]х|четыр[её]х|пяти|шести)|попозже|после\s+1[4-9]|днем\s+после|"
    r"ближе\s+к\s+вечеру|\bafternoon|\bevening|\bafter\s+(lunch|2\s*pm))"
)
_HOUR = re.compile(
    r"\b(?:в|к|на|около|часов\s+в|с)\s+(\d{1,2})(?:[:.](\d{2}))?\s*(утра|вечера|дня|ч(?:ас(?:ов|а)?)?)?\b"
    r"(?!\s*(?:лет|год|мес|недел|раз|руб|р\b|кг|см|мм|числ|дн|янв|фев|мар|апр|ма[яй]|июн|июл|авг|сен|окт|ноя|дек|%|-?го|-?е))"
)


_NEGATED = re.compile(r"\bне\s+((с|до|после|ближе\s+к)\s+)?\w+")
_CANNOT = re.compile(
    r"не\s+(могу|смогу|получится|выйдет|успеваю|успею)|неудобно|не\s+удобно|никак|работаю|занят"
)
_GREETINGS = re.compile(r"(добр\w+\s+(утр\w*|вечер\w*|дн\w*)|доброго\s+времени\s+суток)")


_PREFERRED = re.compile(r"\b(?:лучше|удобнее|предпочтительн\w*|желательно)\s+([^,;.!?]+)")
_CLAUSES = re.compile(r"[,;.!?]|\s(?:а|но|лучше|зато|или\s+лучше)\s")


def _by_clauses(low: str) -> str | None:
    """Both halves named: "утром не могу, лучше после обеда" — the half not refused (or preferred) is meant."""
    preferred = _PREFERRED.search(low)
    if preferred and not _CANNOT.search(preferred.group(1)):
        chosen = extract_window(preferred.group(1))
        if chosen in (Window.MORNING, Window.AFTERNOON):
            return chosen
    wanted: set[str] = set()
    refused: set[str] = set()
    for clause in _CLAUSES.split(low):
        halves = {
            half
            for half, pattern in ((Window.MORNING, _MORNING), (Window.AFTERNOON, _AFTERNOON))
            if pattern.search(clause)
        }
        (refused if _CANNOT.search(clause) or _NEGATED.search(clause) else wanted).update(halves)
    if len(wanted - refused) == 1:
        return next(iter(wanted - refused))
    if not wanted and len(refused) == 1:
        return Window.AFTERNOON if Window.MORNING in refused else Window.MORNING
    return None


def extract_window(text: str) -> str | None:
    low = _GREETINGS.sub(" ", fold(text))
    if _ANY.search(low):
        return Window.ANY
    morning, afternoon = bool(_MORNING.search(low)), bool(_AFTERNOON.search(low))
    negated = " ".join(m.group(0) for m in _NEGATED.finditer(low))
    if (morning or afternoon) and negated:  # "не утро, а вечер", "не утром": the negated one is out
        kept = _NEGATED.sub(" ", low)
        morning, afternoon = bool(_MORNING.search(kept)), bool(_AFTERNOON.search(kept))
        if not (morning or afternoon):  # only the refused one was named: the other one is meant
            morning, afternoon = bool(_AFTERNOON.search(negated)), bool(_MORNING.search(negated))
            return Window.MORNING if morning and not afternoon else (Window.AFTERNOON if afternoon else None)
    if morning != afternoon and _CANNOT.search(low):  # "утром не могу": the other half of the day
        morning, afternoon = afternoon, morning
    if morning != afternoon:
        return Window.MORNING if morning else Window.AFTERNOON
    if morning and afternoon:
        return _by_clauses(low)
    for match in _HOUR.finditer(low):
        hour = int(match.group(1))
        suffix = match.group(3) or ""
        if suffix.startswith("вечер") or (suffix == "дня" and hour < 12):
            hour = hour + 12 if hour < 12 else hour
        elif 1 <= hour <= 6 and not suffix.startswith("утр"):
            hour += 12  # "часа в 4": the clinic is closed at four in the morning
        if 7 <= hour <= 23 or suffix:
            return Window.MORNING if hour < 14 else Window.AFTERNOON
    return None
