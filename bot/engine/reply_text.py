"""A model's reply as the patient will see it: the views the reply checks read, free of disguises.

A hostile or confused model can hide a link or a drug behind characters the patient's screen does not show
(zero-width spaces, soft hyphens), behind look-alike letters of the other alphabet ("аmoксициллин" with a
Latin "a", "bіt.ly" with a Ukrainian "і"), full-width forms, or numbers written in words. Every check reads
these views instead of the raw text, so a disguise changes nothing.
"""

from __future__ import annotations

import re
import unicodedata

from bot.dialogue.extract.phone import words_to_digits
from bot.dialogue.language import fold, lemma

__all__ = ["cyrillic_view", "hidden_controls", "latin_view", "spoken_amounts", "visible"]

# Characters that reorder what is shown (a link can be written backwards): refused outright.
_BIDI = {chr(c) for c in (*range(0x202A, 0x202F), *range(0x2066, 0x206A), 0x200E, 0x200F, 0x061C)}
# Look-alike letters: Latin (and other) letters that look Cyrillic, in a word that is mostly Cyrillic.
_TO_CYRILLIC = str.maketrans(
    {
        "a": "а",
        "b": "в",
        "c": "с",
        "e": "е",
        "h": "н",
        "k": "к",
        "m": "м",
        "o": "о",
        "p": "р",
        "t": "т",
        "x": "х",
        "y": "у",
        "u": "и",
        "ё": "е",
    }
)
# Cyrillic and other letters that look Latin, for addresses written to look harmless.
_TO_LATIN = str.maketrans(
    {
        "а": "a",
        "в": "b",
        "с": "c",
        "е": "e",
        "ё": "e",
        "н": "h",
        "і": "i",
        "ї": "i",
        "ј": "j",
        "к": "k",
        "м": "m",
        "о": "o",
        "р": "p",
        "ѕ": "s",
        "т": "t",
        "х": "x",
        "у": "y",
        "ԁ": "d",
        "ԛ": "q",
        "ԝ": "w",
        "ɡ": "g",
        "ı": "i",
    }
)
# Look-alike dots and slashes that NFKC leaves alone.
_PUNCT = str.maketrans({"。": ".", "｡": ".", "·": ".", "∙": ".", "⁄": "/", "∕": "/", "＠": "@"})
_WORD = re.compile(r"[^\W_]+", re.UNICODE)
_CYRILLIC = re.compile(r"[а-яё]")
_INNER_DIGIT = re.compile(r"(?<=[а-я])[03](?=[а-я])")
_DIGIT_LIKE = re.compile(r"\b(?=[\doOоО]*\d)[\doOоО]{2,}\b")


def hidden_controls(text: str) -> bool:
    """True when the text carries characters that reorder what the patient sees."""
    return any(ch in _BIDI for ch in text)


def visible(text: str) -> str:
    """NFKC, without invisible format characters (zero-width, soft hyphen), look-alike dots and "15OO"."""
    text = unicodedata.normalize("NFKC", text)
    text = "".join(ch for ch in text if unicodedata.category(ch) != "Cf").translate(_PUNCT)
    return _DIGIT_LIKE.sub(lambda m: re.sub("[oOоО]", "0", m.group(0)), text)


def _cyrillic_word(match: re.Match[str]) -> str:
    word = match.group(0)
    cyrillic = len(_CYRILLIC.findall(word))
    if cyrillic < 2 or cyrillic == len(word):
        return word
    # "пр0пейте": a digit between letters is a letter; "1500р" keeps its digits
    return _INNER_DIGIT.sub(lambda m: "о" if m.group(0) == "0" else "з", word.translate(_TO_CYRILLIC))


def cyrillic_view(text: str) -> str:
    """Folded visible text with mixed-alphabet words written in Cyrillic only ("амоkсициллин" -> Cyrillic)."""
    return _WORD.sub(_cyrillic_word, fold(visible(text)))


def latin_view(text: str) -> str:
    """Folded visible text with Cyrillic look-alikes of Latin letters made Latin, for addresses."""
    return fold(visible(text)).translate(_TO_LATIN)


# -------------------------------------------------------------- numbers in words

_SCALE = {"тысяча": 1000, "тыща": 1000, "миллион": 1_000_000}
_HALVES = {"полтора": 1.5, "полторы": 1.5, "полтысяча": 500.0}


def spoken_amounts(text: str) -> list[int]:
    """Amounts written in words: "полторы тысячи" -> 1500, "две тысячи пятьсот" -> 2500, "пятьсот" -> 500."""
    amounts: list[int] = []
    total = 0.0
    current = 0.0
    seen = False
    for word in re.findall(r"[а-яё]+|\d+", fold(text)):
        base = lemma(word)
        spoken = _number_value(word)
        if spoken is not None:
            current += spoken
            seen = True
        elif base in _HALVES or word.startswith(("полтор", "полут")):
            current += _HALVES.get(base, 1.5)
            seen = True
        elif base in _SCALE:
            total += (current or 1) * _SCALE[base]
            current = 0
            seen = True
        elif seen:
            amounts.append(int(total + current))
            total = current = 0
            seen = False
    if seen:
        amounts.append(int(total + current))
    return amounts


def _number_value(word: str) -> int | None:
    """One number word in any case form ("пятисот" -> 500) or None."""
    digits = words_to_digits(word)
    if digits != word and digits.strip().isdigit():
        return int(digits)
    base = lemma(word)
    digits = words_to_digits(base)
    if digits != base and digits.strip().isdigit():
        return int(digits)
    return None
