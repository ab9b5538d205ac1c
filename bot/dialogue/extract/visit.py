"""First or repeat visit, negations included ("ни разу не был" is a first visit, "не впервые" a repeat)."""

from __future__ import annotations

import re

from bot.dialogue.language import fold
from sheets.schema import Visit

_REPEAT_NEGATED = re.compile(r"\bне\s+(впервые|первый\s+раз|в\s+первый\s+раз|первичн)")
_FIRST_NEGATED = re.compile(
    r"(ни\s+разу\s+не|никогда\s+не\s+был|не\s+был[аи]?\s+(у\s+вас|раньше|ещ[её])|не\s+обращал|не\s+лечил|"
    r"не\s+ходил|не\s+был[аи]?\b)"
)
_FIRST = re.compile(
    r"\b(впервые|первый\s+раз|в\s+первый|первичн\w*|новый\s+пациент|новая\s+пациентка|первое)\b"
)
_REPEAT = re.compile(
    r"(повторн\w*|уже\s+был|уже\s+лечил|уже\s+обращал|уже\s+ходил|уже\s+наблюда|наблюдаюсь|"
    r"второй\s+раз|был[аи]?\s+у\s+вас|лечил(ся|ась)\s+у\s+вас|обращал(ся|ась)\s+(к\s+вам|раньше)|"
    r"не\s+в\s+первый|был[аи]?\s+раньше|прихожу\s+к\s+вам|ваш\s+пациент)"
)


def extract_visit(text: str) -> str | None:
    low = fold(text)
    if _REPEAT_NEGATED.search(low):
        return Visit.REPEAT
    if _FIRST_NEGATED.search(low):
        return Visit.FIRST
    if _REPEAT.search(low):
        return Visit.REPEAT
    if _FIRST.search(low):
        return Visit.FIRST
    return None
