"""Phones in any human form, validated and normalised to E.164 with phonenumbers."""

from __future__ import annotations

import re
from dataclasses import dataclass

import phonenumbers

_UNITS = {
    "ноль": 0,
    "нуль": 0,
    "один": 1,
    "одна": 1,
    "два": 2,
    "две": 2,
    "три": 3,
    "четыре": 4,
    "пять": 5,
    "шесть": 6,
    "семь": 7,
    "восемь": 8,
    "девять": 9,
}
_TEENS = {
    "десять": 10,
    "одиннадцать": 11,
    "двенадцать": 12,
    "тринадцать": 13,
    "четырнадцать": 14,
    "пятнадцать": 15,
    "шестнадцать": 16,
    "семнадцать": 17,
    "восемнадцать": 18,
    "девятнадцать": 19,
}
_TENS = {
    "двадцать": 20,
    "тридцать": 30,
    "сорок": 40,
    "пятьдесят": 50,
    "шестьдесят": 60,
    "семьдесят": 70,
    "восемьдесят": 80,
    "девяносто": 90,
}
_HUNDREDS = {
    "сто": 100,
    "двести": 200,
    "триста": 300,
    "четыреста": 400,
    "пятьсот": 500,
    "шестьсот": 600,
    "семьсот": 700,
    "восемьсот": 800,
    "девятьсот": 900,
}
_NUMBER_WORDS = {**_UNITS, **_TEENS, **_TENS, **_HUNDREDS}
_CANDIDATE = re.compile(r"(?<![\w])(\+?\s*\d[\d\s\-\(\)\.]{3,}\d)(?![\w])")
_DIGITS = re.compile(r"\d")
_DATE = re.compile(r"\d{4}-\d{1,2}-\d{1,2}|\d{1,2}[./]\d{1,2}[./]\d{2,4}|\d{1,2}[:.]\d{2}")


@dataclass(frozen=True, slots=True)
class PhoneResult:
    e164: str | None = None
    problem: str | None = None  # Russian, for the patient


def words_to_digits(text: str) -> str:
    """ "восемь девятьсот двенадцать триста сорок пять" -> "8 912 345"; other words untouched."""
    out: list[str] = []
    group: list[int] = []

    def flush() -> None:
        if group:
            out.append(str(sum(group)))
            group.clear()

    for token in re.split(r"(\s+|[,;.])", text):
        key = token.casefold().replace("ё", "е")
        value = _NUMBER_WORDS.get(key)
        if value is None:
            if token.strip():
                flush()
                out.append(token)
            elif not group:
                out.append(token)
            continue
        # a new number starts when the place is already taken ("сорок пять" continues, "пять пять" does not)
        if group and (
            value >= min(group)
            or (value < 10 and min(group) < 10)
            or (value < 100 and min(group) < 100 and value >= 10)
        ):
            flush()
            out.append(" ")
        group.append(value)
    flush()
    return "".join(out)


def _digits(count: int) -> str:
    """ "1 цифра", "4 цифры", "5 цифр"."""
    if count % 10 == 1 and count % 100 != 11:
        return f"{count} цифра"
    if count % 10 in (2, 3, 4) and count % 100 not in (12, 13, 14):
        return f"{count} цифры"
    return f"{count} цифр"


def _validate(raw: str) -> PhoneResult:
    digits = "".join(_DIGITS.findall(raw))
    plus = raw.strip().startswith("+")
    if not plus and len(digits) == 11 and digits[0] == "8":
        candidate = "+7" + digits[1:]
    elif not plus and len(digits) == 10:
        candidate = "+7" + digits
    elif not plus and len(digits) == 11 and digits[0] == "7":
        candidate = "+" + digits
    else:
        candidate = ("+" if plus else "") + digits
    if len(digits) < 10:
        return PhoneResult(problem=f"в номере {_digits(len(digits))}, а нужно 11")
    if len(digits) > 15:
        return PhoneResult(problem=f"в номере слишком много цифр ({len(digits)})")
    try:
        number = phonenumbers.parse(candidate, "RU")
    except phonenumbers.NumberParseException:
        return PhoneResult(problem="не получается разобрать номер")
    if not phonenumbers.is_valid_number(number):
        if not plus and len(digits) == 10 and digits[0] in "78":
            return PhoneResult(problem="в номере 10 цифр — похоже, одной не хватает")
        if number.country_code == 7 and len(digits) not in (10, 11):
            return PhoneResult(problem=f"в российском номере 11 цифр, а здесь {len(digits)}")
        return PhoneResult(
            problem="такого номера не существует — возможно, опечатка в коде оператора или города"
        )
    return PhoneResult(e164=phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164))


def extract_phone(text: str, *, expecting: bool = False) -> PhoneResult:
    """The first valid phone in the text; or the reason a phone-like run of digits is not one.

    With `expecting` (the bot just asked for the phone) a short run of digits is a phone with digits missing,
    not an age or a number of days."""
    converted = words_to_digits(text) if re.search(r"[а-яё]", text, re.IGNORECASE) else text
    problem: str | None = None
    for match in _CANDIDATE.finditer(converted):
        raw = match.group(1)
        digit_count = len(_DIGITS.findall(raw))
        short = digit_count < (4 if expecting else 6)
        if (short and not raw.strip().startswith("+")) or _DATE.fullmatch(raw.strip()):
            continue  # times, dates, ages, not phones
        result = _validate(raw)
        if result.e164:
            return result
        problem = problem or result.problem
    return PhoneResult(problem=problem)


def normalise_phone(raw: str) -> str | None:
    """A shared contact's phone (may lack '+') to E.164, or None."""
    return _validate(raw if raw.strip().startswith(("+", "8")) else "+" + raw.strip()).e164 if raw else None


def all_phones(text: str) -> list[str]:
    """Every valid phone of the text, in order, without repeats ("мой 8917..., муж 8927...")."""
    converted = words_to_digits(text) if re.search(r"[а-яё]", text, re.IGNORECASE) else text
    found: list[str] = []
    for match in _CANDIDATE.finditer(converted):
        raw = match.group(1)
        if len(_DIGITS.findall(raw)) < 10 or _DATE.fullmatch(raw.strip()):
            continue
        e164 = _validate(raw).e164
        if e164 and e164 not in found:
            found.append(e164)
    return found
