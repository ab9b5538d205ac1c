"""Prices, numbers and appointment times in a reply, against what the clinic's knowledge says.

A price may be said only when it is the answer to what the patient asked: its amount must be in the FAQ
answer (or the doctor's note) matched to the patient's message, not merely somewhere in the knowledge.
Prices are recognised in every usual form: "1500 ₽", "1 500 р.", "1500р", "₽1500", "1,5 тыс.",
"Цена: 1500", "Стоимость — 1500", "полторы тысячи рублей", a discount "скидка 15%". A time or a day tied to a
booking ("записала вас на пятницу в 15:30", "назначен на завтра на 10:00", "ждём вас к 9 утра") is a promise
only the code makes, so it never passes; the clinic's hours ("в субботу с 09:00 до 15:00") do.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from bot.dialogue.language import fold, lemma, morph, words
from bot.engine.reply_text import cyrillic_view, spoken_amounts, visible

__all__ = ["amounts", "booked_time", "free_of_charge", "free_problem", "invented_number", "price_problem"]

_NUM = r"\d{1,3}(?:[ \u00a0\u202f\u2009.']\d{3})+(?:,\d+)?|\d+(?:[.,]\d+)?"
_CURRENCY = (
    r"(?:руб\w*|р\b\.?|₽|rub\w*|rur|\$|usd|долл\w*|евро|€|eur|у\.\s?е\.|(?<=\d)[кk]\b|т\.\s?р\b\.?|(?<=\d)тр\b|"
    r"(?P<thousands>тыс\w*\.?(?:\s*(?:руб\w*|р\b\.?|₽))?))"
)
_AFTER = re.compile(rf"(?P<num>{_NUM})\s*{_CURRENCY}")
_BEFORE = re.compile(rf"(?:₽|\$|€|руб\.?|rub)\s*(?P<num>{_NUM})")
_CUE_WORDS = (
    r"(?:\bцен\w*|\bстоимост\w*|\bстои(?:т|ят|ть|мость)\b|\bобойд\w*|\bпрайс\w*|\bтариф\w*|\bрасценк\w*|"
    r"\bсостав(?:ит|ляет|ят|ляют)\b|\bплат\w*\s+(?:за|от)\b|\bза\s+при[её]м\b|\bскидк\w*|\bдешевле\b|"
    r"\bдороже\b|\bвсего\s+за\b)"
)
_CUE = re.compile(
    rf"{_CUE_WORDS}[^.!?;\n\d]{{0,30}}?(?P<num>{_NUM})(?!\s*(?:мин|час|ч\b|дн|день|дня|сут|недел|мес|лет|год|мест|раз|"
    r"челов|км|метр|шаг|этаж|кабинет|:\d|[.:]\d\d\b))"
)
_PERCENT = re.compile(rf"(?P<num>{_NUM})\s*(?:%|процент\w*)")
_DISCOUNT = re.compile(r"\b(скидк\w*|акци\w*|дешевле|льгот\w*)")
_MONEY_WORD = re.compile(r"\b(?:рубл\w*|руб\b|₽|копе\w*)")
_SPOKEN_THOUSANDS = re.compile(r"((?:[а-я]+\s+){1,3})(?:тысяч\w*|тыщ\w*)")
_SENTENCES = re.compile(r"[^.!?…\n]+[.!?…]*")


def _value(raw: str, thousands: bool = False) -> str:
    """ "1 500" -> "1500", "1,5" with тыс. -> "1500", "1500,00" -> "1500"."""
    text = raw.strip()
    if re.fullmatch(r"\d{1,3}(?:[ \u00a0\u202f\u2009.']\d{3})+(?:,\d+)?", text):
        text = re.sub(r"[ \u00a0\u202f\u2009.']", "", text)
    text = text.replace(",", ".")
    if len(text) > 15:
        return re.sub(r"\D", "", text)  # not an amount anyone would quote
    try:
        number = float(text)
    except ValueError:
        return re.sub(r"\D", "", text)
    if thousands:
        number *= 1000
    return str(int(number)) if number == int(number) else str(number)


def _prices(text: str) -> list[str | None]:
    """Every amount of money in the text (None: a price whose amount cannot be read)."""
    view = cyrillic_view(text)
    found: list[str | None] = []
    spans: list[tuple[int, int]] = []
    for match in _AFTER.finditer(view):
        found.append(_value(match.group("num"), bool(match.group("thousands"))))
        spans.append(match.span())
    for pattern in (_BEFORE, _CUE):
        for match in pattern.finditer(view):
            if not any(a <= match.start("num") < b for a, b in spans):
                found.append(_value(match.group("num")))
                spans.append(match.span("num"))
    for sentence in _SENTENCES.findall(view):
        for scaled in _SPOKEN_THOUSANDS.finditer(sentence):  # "около полутора тысяч", "две тыщи"
            if spoken_amounts(scaled.group(1)) and not _MONEY_WORD.search(sentence[scaled.end() :][:20]):
                found += [str(n) for n in spoken_amounts(scaled.group(0))[-1:]]
        cue = re.search(_CUE_WORDS, sentence)
        if cue and not re.search(r"\d", sentence[cue.end() :]) and not _MONEY_WORD.search(sentence):
            found += [str(n) for n in spoken_amounts(sentence[cue.end() : cue.end() + 60]) if n >= 50]
        if _DISCOUNT.search(sentence):
            found += [_value(m.group("num")) for m in _PERCENT.finditer(sentence)]
        for money in _MONEY_WORD.finditer(sentence):
            before = sentence[max(0, money.start() - 80) : money.start()]
            if re.search(r"\d\s*(?:тыс\w*\.?)?\s*$", before[-20:]):
                continue  # digits already read above
            spoken = spoken_amounts(" ".join(before.split()[-6:]))
            found.append(str(spoken[-1]) if spoken else None)
    return found


def amounts(texts: Iterable[str]) -> set[str]:
    """Every number of these texts as a price would be read ("1 500" and "1,5 тыс." are both 1500)."""
    out: set[str] = set()
    for text in texts:
        shown = fold(visible(text))
        out |= {_value(n) for n in re.findall(_NUM, shown)}
        out |= {p for p in _prices(text) if p}
        out |= {str(n) for n in spoken_amounts(shown)}
    return out


def price_problem(reply: str, asked: set[str]) -> str | None:
    """A price in the reply that is not the answer the knowledge gives to the patient's question."""
    for price in _prices(reply):
        if price is None:
            return "цена словами не из базы знаний"
        if price not in asked:
            return f"цена не из ответа на этот вопрос: {price}"
    return None


_FREE = re.compile(r"бесплатн\w*|даром|без\s+оплаты")


def free_of_charge(text: str) -> list[set[str]]:
    """For each "бесплатно" of the text, the content lemmas around it: what is said to be free."""
    tokens = words(cyrillic_view(text))
    out: list[set[str]] = []
    for i, token in enumerate(tokens):
        if _FREE.fullmatch(token) or (token == "без" and tokens[i + 1 : i + 2] == ["оплаты"]):
            near = tokens[max(0, i - 2) : i] + tokens[i + 1 : i + 3]
            nouns = {lemma(w) for w in near if _is_noun(w)}
            out.append(nouns - {"оплата", "клиника", "пациент", "центр", "услуга"})
    return out


def _is_noun(word: str) -> bool:
    parses = morph().parse(word)
    return bool(parses) and parses[0].tag.POS == "NOUN"


def free_problem(reply: str, free_things: set[str]) -> str | None:
    """Something said to be free that the knowledge does not call free ("консультация бесплатная")."""
    for near in free_of_charge(reply):
        if not near & free_things:
            return "цена не из базы знаний: бесплатно"
    return None


# -------------------------------------------------------------- other numbers

_PHONE_LIKE = re.compile(r"\+?\d(?:[ \t\u00a0\-‐‑–—()]{0,3}\d){6,}")
_LINK_MARK = re.compile(r"[./@:]")
_LETTER = re.compile(r"[a-zа-я]")
_TIMES_AND_DATES = re.compile(r"\d{1,2}[:.]\d{2}(?!\d)|\d{1,2}[./]\d{1,2}[./]\d{2,4}|\d{4}-\d{2}-\d{2}")


def invented_number(reply: str, known: set[str], said: str) -> str | None:
    """A number of three digits or more that neither the knowledge nor the patient gave (a bare price)."""
    shown = _TIMES_AND_DATES.sub(" ", fold(visible(reply)))
    # phones and links have their own checks
    shown = " ".join(t for t in shown.split() if not (_LINK_MARK.search(t) and _LETTER.search(t)))
    shown = _PHONE_LIKE.sub(" ", shown)
    said_numbers = amounts([said]) | set(re.findall(r"\d+", said))
    for raw in re.findall(_NUM, shown):
        value = _value(raw)
        digits = re.sub(r"\D", "", value)
        if len(digits) >= 3 and value not in known and digits not in known and value not in said_numbers:
            return f"число не из базы знаний: {value}"
    return None


# -------------------------------------------------------------- booked times

_CLOCK = r"(?:[01]?\d|2[0-3])(?:[:.][0-5]\d)?"
_SPOKEN_HOURS = (
    r"(?:час|два|двум|три|трем|трём|четыре|пять|пяти|шесть|шести|семь|семи|восемь|восьми|девять|девяти|"
    r"десять|десяти|одиннадцать|одиннадцати|двенадцать|двенадцати|полдень|полдню|пол\w+го|половин\w+)"
)
_DAY = (
    r"(?:завтра|послезавтра|сегодня|понедельник\w*|вторник\w*|сред[уаые]|четверг\w*|пятниц\w*|суббот\w*|"
    r"воскресень\w*|\d{1,2}[./]\d{1,2}(?:[./]\d{2,4})?|\d{1,2}\s+(?:январ|феврал|март|апрел|ма[яе]|июн|июл|"
    r"август|сентябр|октябр|ноябр|декабр)\w*)"
)
_RANGE = re.compile(
    rf"(?:(?:в|по)\s+(?:будн\w*|рабоч\w+\s+дн\w*|{_DAY})\s*,?\s*)?"
    rf"(?:(?:с|от)\s+{_CLOCK}\s*(?:ч\w*\.?\s*)?(?:(?:до|-|–|—)\s*{_CLOCK})?|{_CLOCK}\s*[-–—]\s*{_CLOCK}|"
    rf"(?:до|после)\s+{_CLOCK}(?:\s*ч\w*\.?)?)"
)
_POINT = re.compile(
    rf"(?:\b\d{{1,2}}:\d{{2}}\b|\b(?:в|к|на|около|на\s+время)\s+{_CLOCK}\s*(?:ч\b\.?|час\w*|утра|вечера|дня|ночи)?"
    rf"|\b(?:в|к|на)\s+{_SPOKEN_HOURS}\b|\b(?:{_CLOCK}|{_SPOKEN_HOURS})\s*(?:утра|вечера|дня|ночи)\b|\b{_DAY}(?!\w))"
)
_PROMISE = re.compile(
    r"\b(?:записал\w*|записан\w*|запиш(?:у|ем|ет)\b|записыва\w*|запис\w+\s+(?:на|в|к)\b|назнач\w*|"
    r"заброниров\w*|бронир\w*|зарезерв\w*|резерв\w*|подтвер\w*|жд(?:у|ем|ём|ет|ёт|ут)\b|ожида(?:ем|ю|ет|ют)\b|"
    r"приходите|подходите|приезжайте|подойдите|подъезжайте|заходите|зайдите|загляните|"
    r"приход\w*\s+(?:в|к)\b|прийти|подойти|прием\w*\s+(?:в|на)\b|"
    r"при[её]м\s+(?:в|на|состоится|будет)|примут|примет\s+вас|вас\s+примет|принять\s+вас|свободн\w*|"
    r"окошк\w*|окн[оа]\b|слот\w*|есть\s+(?:время|запись|места)|ваш\w*\s+(?:при[её]м|запись|визит)|"
    r"визит\w*\s+(?:в|на)\b|состоится|запись\s*[:—-]|ваш\w*\s+время|при[её]м\w*\s*[:—-]|"
    r"время\s+(?:при[её]ма|визита|записи))"
)


def booked_time(reply: str) -> str | None:
    """A day or time the reply ties to a booking or a visit, or None."""
    for sentence in _SENTENCES.findall(cyrillic_view(reply)):
        rest = _RANGE.sub(" ", sentence)
        point = _POINT.search(rest)
        if point and _PROMISE.search(rest):
            return f"обещает время приёма: {point.group(0).strip()}"
    return None
