"""Russian text helpers: normalisation, tokens and lemmas (pymorphy3), cached."""

from __future__ import annotations

import re
import unicodedata
from functools import cache, lru_cache

import pymorphy3

_WORD = re.compile(r"[а-яёa-z0-9]+(?:-[а-яёa-z0-9]+)*", re.IGNORECASE)
_FUNCTION_POS = {"PREP", "CONJ", "PRCL", "INTJ", "NPRO"}
MAX_TEXT = 2000  # longer messages are understood by their first part
# Words pymorphy's first guess lemmatises wrongly for this domain ("данные" is not a form of "дать").
_LEMMA_OVERRIDES = {"данные": "данные"}


@cache
def morph() -> pymorphy3.MorphAnalyzer:
    return pymorphy3.MorphAnalyzer()


def clean(text: str) -> str:
    """Drop control characters and markup noise, fold ё, collapse spaces; keep it short enough to parse."""
    text = unicodedata.normalize("NFC", text[: MAX_TEXT * 2])
    text = "".join(ch if unicodedata.category(ch)[0] != "C" else " " for ch in text)
    return " ".join(text.split())[:MAX_TEXT]


def fold(text: str) -> str:
    return text.casefold().replace("ё", "е")


def words(text: str) -> list[str]:
    return _WORD.findall(fold(text))


@lru_cache(maxsize=50_000)
def lemma(word: str) -> str:
    if word in _LEMMA_OVERRIDES:
        return _LEMMA_OVERRIDES[word]
    parses = morph().parse(word)
    return fold(parses[0].normal_form) if parses else word


@lru_cache(maxsize=50_000)
def is_function_word(word: str) -> bool:
    parses = morph().parse(word)
    return bool(parses) and parses[0].tag.POS in _FUNCTION_POS


def lemmas(text: str) -> list[str]:
    return [lemma(w) for w in words(text)]


def content_lemmas(text: str) -> list[str]:
    return [lemma(w) for w in words(text) if not is_function_word(w)]


def has_cyrillic(text: str) -> bool:
    return any("а" <= ch <= "я" or ch == "ё" for ch in text.casefold())


def has_letters(text: str) -> bool:
    return any(ch.isalpha() for ch in text)
