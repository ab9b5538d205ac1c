"""First names with pymorphy3: only a name in the nominative is taken ("меня зовут Ане" is not a name)."""

from __future__ import annotations

import re
from functools import lru_cache

from bot.dialogue.extract.intents import typo_of
from bot.dialogue.language import fold, morph

_INTRO = re.compile(
    r"(?:меня\s+зовут|зовут\s+меня|мо[её]\s+имя|имя\s*[:\-—]?|я\s*[-—,]?|это|с\s+вами\s+говорит)\s+"
    r"([А-ЯЁа-яё][а-яё]+(?:-[А-ЯЁа-яё][а-яё]+)?)",
    re.IGNORECASE,
)
# "меня зовут Смирнова": a surname given as the name is what the patient wants to be called.
_CALLED = re.compile(r"(?:меня\s+зовут|зовут\s+меня)\s+([А-ЯЁа-яё]{2,}(?:-[А-ЯЁа-яё]+)?)", re.IGNORECASE)
_WORD = re.compile(r"[А-ЯЁа-яё]+(?:-[А-ЯЁа-яё]+)?")
_SEGMENTS = re.compile(r"[,;.!?\n]+|\s[-—–]\s")
# Words pymorphy may read as names that people use as ordinary words in these messages.
_NOT_NAMES = {
    "ли",
    "надежда",
    "любовь",
    "вера",
    "роза",
    "мая",
    "слава",
    "лев",
    "ян",
    "марс",
    "ком",
    "гуля",
    "ника",
    "лора",
    "утро",
    "вечер",
    "лор",
    "элла",
    "алла",
    "август",
    "май",
    "зоя",
    "ася",
    "нина",
    "тома",
    "нада",  # "нада к врачу": «надо» typed by ear
}
# Answers to the bot's questions: a typo of one ("Дда", "Впервыйе") is that answer, never the patient's name.
_ANSWERS = ("да", "нет", "ок", "согласен", "согласна", "конечно", "хорошо", "ладно", "впервые", "повторно")
_ALWAYS_NAMES = {
    "мая",
    "майя",
    "надежда",
    "любовь",
    "вера",
    "роза",
    "слава",
    "лев",
    "ника",
    "элла",
    "алла",
    "зоя",
    "ася",
    "нина",
    "тома",
}


def capitalise_name(word: str) -> str:
    """ "анна-мария" -> "Анна-Мария": each part of a double name capitalised, the rest lower case."""
    return "-".join(part[:1].upper() + part[1:].lower() for part in word.split("-"))


@lru_cache(maxsize=50_000)
def _name_parse(word: str, *, strict: bool) -> str | None:
    """The name in the nominative if `word` is a first name written in the nominative."""
    key = fold(word)
    if typo_of(key, _ANSWERS):
        return None
    if not strict and key in _ALWAYS_NAMES:
        return capitalise_name(word)
    parses = morph().parse(key)
    names = [p for p in parses if "Name" in p.tag]
    if not names:
        return None
    if strict and key in _NOT_NAMES:
        return None
    if strict and parses[0].score > 0.5 and "Name" not in parses[0].tag and key not in _ALWAYS_NAMES:
        return None
    if not any(p.tag.case == "nomn" for p in names):
        return None
    return capitalise_name(word)


def name_anywhere(text: str) -> str | None:
    """A word that can only be a first name, wherever it stands: "к урологу Ольга +7 917 111-22-33" (used
    when the message also carries the phone, so a bare name among the facts is the patient's)."""
    for token in _WORD.findall(text):
        if len(token) >= 3 and (name := _name_parse(token, strict=True)):
            return name
    return None


def extract_name(text: str, *, expecting: bool = False) -> str | None:
    """A first name introduced in the text ("я Ольга", "меня зовут Анна"), or, when the bot just asked for
    the name, the first name-like word of a short answer ("Ольга Петровна" -> "Ольга"); failing those, a
    surname after "меня зовут" ("меня зовут Смирнова")."""
    return _first_name(text, expecting=expecting) or _called_surname(text)


@lru_cache(maxsize=20_000)
def _is_surname(key: str) -> bool:
    return any("Surn" in p.tag and p.tag.case == "nomn" for p in morph().parse(key)[:4])


def _called_surname(text: str) -> str | None:
    match = _CALLED.search(text)
    if not match or not _is_surname(fold(match.group(1))):
        return None
    for word in _WORD.findall(text[match.end() :])[:2]:  # "меня зовут Петрова Ольга": the first name wins
        name = _name_parse(word, strict=False)
        if name:
            return name
    return capitalise_name(match.group(1))


def _first_name(text: str, *, expecting: bool) -> str | None:
    for match in _INTRO.finditer(text):
        name = _name_parse(match.group(1), strict=False)
        if name:
            return name
    # A name alone between commas among other facts: "к лору, Оля, 89123456789, утром", "Ирина 8912..."
    for segment in _SEGMENTS.split(text):
        tokens = _WORD.findall(segment)
        if len(tokens) == 1 and not re.search(r"[A-Za-z]", segment):
            key = fold(tokens[0])
            if key in _ALWAYS_NAMES:
                return capitalise_name(tokens[0])
            name = _name_parse(tokens[0], strict=True)
            if name:
                return name
    first = _WORD.match(text.lstrip())
    if first and (name := _name_parse(first.group(0), strict=True)):
        return name  # "ольга 89123456789 лор утро": a message that starts with a first name
    if not expecting:
        return None
    tokens = _WORD.findall(text)
    if (not tokens and not re.search(r"[A-Za-z]", text)) or len(tokens) > 4:
        return None
    for token in tokens[:3]:
        name = _name_parse(token, strict=len(tokens) > 1)
        if name:
            return name
    latin = re.fullmatch(r"\s*([A-Za-z]{2,20})[\s.!]*", text)
    if latin:  # "Olga": a name written in Latin letters is still the patient's name
        return latin.group(1).capitalize()
    if len(tokens) == 1 and 2 <= len(tokens[0]) <= 20:
        word = tokens[0]
        parses = morph().parse(fold(word))
        known = morph().word_is_known(fold(word))
        # An unusual name pymorphy does not know ("Зарема") is accepted when it is all there is.
        if (
            not known
            and not typo_of(fold(word), _ANSWERS)
            and not any({"Surn", "Patr"} & set(str(p.tag).replace(" ", ",").split(",")) for p in parses)
        ):
            return capitalise_name(word)
    return None
