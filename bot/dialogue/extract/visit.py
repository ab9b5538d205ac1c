"""First or repeat visit, negations included ("ни разу не был" is a first visit, "не впервые" a repeat)."""

from __future__ import annotations

import re

from rapidfuzz import fuzz

from bot.dialogue.language import fold
from sheets.schema import Visit

_BEEN = r"(был[аи]?|бывал[аи]?|ходил[аи]?|приходил[аи]?|обращал(ся|ась|ись)|лечил(ся|ась|ись)|наблюдал(ся|ась|ись))"
_REPEAT_NEGATED = re.compile(r"\bне\s+(впервые|первый\s+раз|в\s+первый\s+раз|первичн)")
_FIRST_NEGATED = re.compile(
    r"(ни\s+разу\s+не|никогда\s+не\s+был|не\s+был[аи]?\s+(у\s+вас|раньше|ещ[её])|не\s+обращал|не\s+лечил|"
    r"не\s+ходил|не\s+приходил|не\s+бывал|не\s+был[аи]?\b)"
)
_FIRST = re.compile(
    r"\b(впервые|первый\s+раз|в\s+первый|первичн\w*|новый\s+пациент|новая\s+пациентка|первое)\b"
)
_REPEAT = re.compile(
    rf"(повторн\w*|уже\s+{_BEEN}|{_BEEN}\s+уже|уже\s+наблюда|наблюдаюсь|второй\s+раз|"
    rf"{_BEEN}\s+(у\s+вас|к\s+вам|в\s+вашей|раньше|ранее|до\s+этого)|лечил(ся|ась)\s+у\s+вас|"
    r"обращал(ся|ась)\s+(к\s+вам|раньше)|не\s+в\s+первый|прихожу\s+к\s+вам|ваш\s+пациент|"
    rf"{_BEEN}\s+(в\s+прошлом|прошл\w+|недавно|когда-то|год\s+назад|в\s+том\s+году)|"
    r"(снова|опять|ещ[её]\s+раз)\s+(к|на)\b)"
)
# Short answers that mean something only as the reply to "Вы уже были у нас?".
_FIRST_SHORT = re.compile(
    r"^(первый|первая|первое|первичка|новый|новая|нет\s+не\s+был\w*|никогда|first(\s+time)?|new(\s+patient)?)$"
)
_REPEAT_SHORT = re.compile(
    r"^(был[аи]?|бывал[аи]?|ходил[аи]?|второй|вторичн\w*|повтор|уже|да\s+был\w*|repeat|again|returning|"
    r"been\s+before|not\s+first)$"
)


# Typed in a hurry ("перый раз", "повторый"): the words a short answer is made of, matched loosely.
_FIRST_WORDS = ("впервые", "первый", "первая", "первичный", "первичное", "первично")
_REPEAT_WORDS = ("повторный", "повторное", "повторно", "повторная", "второй")


def _loosely(words: list[str], vocabulary: tuple[str, ...]) -> bool:
    return any(len(w) >= 5 and max(fuzz.ratio(w, v) for v in vocabulary) >= 85 for w in words)


def extract_visit(text: str, *, expecting: bool = False) -> str | None:
    """The visit type said in the text; with `expecting` (the bot just asked) short answers count too."""
    low = fold(text)
    if _REPEAT_NEGATED.search(low):
        return Visit.REPEAT
    if _FIRST_NEGATED.search(low):
        return Visit.FIRST
    if _REPEAT.search(low):
        return Visit.REPEAT
    if _FIRST.search(low):
        return Visit.FIRST
    if not expecting:
        # "к лору, я Оля, 8912..., да был": a short answer standing as its own part of a longer message
        for segment in re.split(r"[,;.!?\n]+", low)[1:]:
            short = " ".join(re.findall(r"[а-яa-z]+", segment))
            if short and not re.fullmatch(r"(первый|первая|первое|второй|уже|да|новый|новая)", short):
                if _FIRST_SHORT.match(short):
                    return Visit.FIRST
                if _REPEAT_SHORT.match(short):
                    return Visit.REPEAT
    if expecting:
        short = " ".join(re.findall(r"[а-яa-z]+", low)[:3])
        if _FIRST_SHORT.match(short):
            return Visit.FIRST
        if _REPEAT_SHORT.match(short):
            return Visit.REPEAT
        words = short.split()
        first, repeat = _loosely(words, _FIRST_WORDS), _loosely(words, _REPEAT_WORDS)
        if first != repeat:
            return Visit.FIRST if first else Visit.REPEAT
    return None


def loose_visit(text: str) -> str | None:
    """A short answer that is only a mistyped "впервые" or "повторно" ("впервыйе"), wherever it comes."""
    words = re.findall(r"[а-яa-z]+", fold(text))
    if not words or len(words) > 3:
        return None
    first, repeat = _loosely(words, _FIRST_WORDS), _loosely(words, _REPEAT_WORDS)
    if first == repeat:
        return None
    return Visit.FIRST if first else Visit.REPEAT
