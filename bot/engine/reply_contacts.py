"""Addresses and phones in a text: links, e-mails, messenger handles and phone numbers in any disguise.

The same functions read the knowledge (what the clinic publishes) and a model's reply, so a reply passes
only with contacts the knowledge literally has: a shortener (`bit.ly`, `vk.cc`), another domain, a
`t.me/…` or `wa.me/…` other than the clinic's, an `@handle` or an e-mail the clinic never wrote, a phone
spelt in words. Obfuscations a patient would still follow ("evil [.] com", "bit . ly", "evil точка com",
look-alike letters, invisible characters) are undone first (`reply_text`).
"""

from __future__ import annotations

import re

import phonenumbers

from bot.dialogue.extract.phone import words_to_digits
from bot.dialogue.language import fold
from bot.engine.reply_text import latin_view, visible

__all__ = ["contacts", "link_key", "markup_problem", "phone_numbers"]

# Top-level domains a patient would follow even when written with spaces around the dot.
_SPACED_TLDS = (
    "com|net|org|ru|su|io|ly|cc|info|biz|xyz|site|online|app|link|club|shop|top|pro|рф|ру|ком|орг|нет"
)
_OBFUSCATED_DOT = re.compile(r"\s*[\[({]\s*(?:\.|dot|точка|тчк)\s*[\])}]\s*")
_WORD_DOT = re.compile(rf"(?<=[a-z0-9-])\s+(?:dot|точка)\s+(?=(?:{_SPACED_TLDS})\b|[a-z])")
_SPACED_DOT = re.compile(rf"(?<=[a-z0-9-])(?:\s+\.\s*|\s*\.\s+)(?=(?:{_SPACED_TLDS})(?![\w-]))")
_SPACED_SLASH = re.compile(r"(?<=[a-z0-9])\s*/\s+(?=[a-z0-9_])|(?<=[a-z0-9])\s+/\s*(?=[a-z0-9_])")
_SCHEMES = "https?|ftp|tg|mailto|tel|sms|javascript|vbscript|data|intent|viber|whatsapp|skype|file|max"
_TAIL = r"[^\s<>\"'»«)\]]*"
_SCHEME_LINK = re.compile(rf"\b(?:{_SCHEMES}):(?://)?[^\s<>\"'»«)\]]+")
_EMAIL = re.compile(r"[a-z0-9._%+-]+@(?:[a-z0-9-]+\.)+[a-z]{2,}")
_LATIN_DOMAIN = re.compile(
    rf"(?<![\w@.-])(?:[a-z0-9](?:[a-z0-9-]{{0,61}}[a-z0-9])?\.)+(?:[a-z]{{2,24}}|xn--[a-z0-9-]+)(?![\w-])"
    rf"(?:[/?#]{_TAIL})?"
)
_CYRILLIC_DOMAIN = re.compile(
    rf"(?<![\w@.-])(?:[а-яa-z0-9-]+\.)+(?:рф|рус|сайт|онлайн|орг|ком|москва|дети|укр|бел|срб|қаз)(?![\w-])"
    rf"(?:[/?#]{_TAIL})?"
)
_HANDLE = re.compile(r"(?<![\w.@])@\s?([a-z0-9_]{3,32})(?![\w@])")
_MARKDOWN_LINK = re.compile(r"\[[^\]\n]{0,200}\]\(\s*([^)\s]*)[^)]*\)")
_HTML = re.compile(r"<\s*/?\s*(?:a|script|iframe|img|form|button|svg|object|embed)\b|\bhref\s*=", re.I)
_SEPARATORS = r"[ \t\u00a0\-‐‑–—()]{0,3}"
_DIGIT_RUN = re.compile(rf"(?<![\d])\+?\d(?:{_SEPARATORS}\d){{6,}}")
_TRAILING = ".,;:!?)/»"


def link_key(link: str) -> str:
    """A link as compared: no scheme, no `www.`, no trailing punctuation or slash."""
    key = fold(link).strip().rstrip(_TRAILING)
    key = re.sub(r"^[a-z]+:(?://)?", "", key)
    return key.removeprefix("www.").rstrip(_TRAILING)


def _unmasked(text: str) -> str:
    low = fold(visible(text))
    low = _OBFUSCATED_DOT.sub(".", low)
    return _WORD_DOT.sub(".", low)


def contacts(text: str) -> tuple[set[str], set[str], set[str]]:
    """(links, e-mails, handles) of the text, each as compared (`link_key`, folded)."""
    unmasked = _unmasked(text)
    latin = latin_view(unmasked)
    latin = _SPACED_DOT.sub(".", latin)
    latin = _SPACED_SLASH.sub("/", latin)
    emails = set(_EMAIL.findall(latin))
    rest = _EMAIL.sub(" ", latin)
    links = {link_key(m) for m in _SCHEME_LINK.findall(rest)}
    rest = _SCHEME_LINK.sub(" ", rest)
    links |= {link_key(m) for m in _LATIN_DOMAIN.findall(rest)}
    links |= {link_key(m) for m in _CYRILLIC_DOMAIN.findall(_EMAIL.sub(" ", unmasked))}
    handles = set(_HANDLE.findall(rest))
    return {k for k in links if k}, emails, handles


def markup_problem(text: str, known_links: set[str]) -> str | None:
    """A markdown or HTML link whose target is not one of the clinic's (the text shown may lie)."""
    if _HTML.search(visible(text)):
        return "разметка в ответе"
    for target in _MARKDOWN_LINK.findall(visible(text)):
        if link_key(target) not in known_links:
            return f"ссылка не из базы знаний: {target[:60]}"
    return None


def phone_numbers(text: str) -> set[str]:
    """Digits of every phone-like number in the text, also spelt in words, national part for RU numbers."""
    shown = visible(text)
    found: set[str] = set()
    for view in (shown, words_to_digits(fold(shown))):
        for match in phonenumbers.PhoneNumberMatcher(view, "RU", leniency=phonenumbers.Leniency.POSSIBLE):
            found.add(str(match.number.national_number))
        for run in _DIGIT_RUN.findall(view):
            digits = re.sub(r"\D", "", run)
            if len(digits) == 11 and digits[0] in "78":
                digits = digits[1:]
            found.add(digits)
    return found
