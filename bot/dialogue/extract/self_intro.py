"""The patient introducing themselves: "я Кузнецова", "Анна Петровна, ...", "С уважением, Иванова Татьяна".

The commonest surnames of Russia (Иванова, Петрова, Кузнецова, Смирнова) are also doctors' surnames, and a
patronymic ("Петровна") looks like a typo of one: the words of the patient's own name must not choose the
doctor. Works on the folded tokens of `bot.dialogue.language.words`.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from bot.dialogue.language import morph

# Words after which a name is the patient's own: "я ...", "меня зовут ...", "моя фамилия ...".
_INTROS: tuple[tuple[str, ...], ...] = (
    ("меня", "зовут"),
    ("зовут", "меня"),
    ("мое", "имя"),
    ("моя", "фамилия"),
    ("по", "фамилии"),
    ("под", "фамилией"),
    ("на", "фамилию"),
    ("фамилия", "по", "мужу"),
    ("в", "девичестве"),
    ("с", "уважением"),
    ("фамилия",),
    ("зовут",),
    ("я",),
    ("это",),
    ("пишет",),
    ("беспокоит",),
)
_INTROS_BY_WORD: dict[str, tuple[tuple[str, ...], ...]] = {
    first: tuple(i for i in _INTROS if i[0] == first) for first in {i[0] for i in _INTROS}
}
# Words after which a name is the doctor asked for.
DOCTOR_MARKERS = frozenset({"к", "ко", "у", "доктор", "доктору", "доктора", "врач", "врачу", "врача", "на"})
# "Кузнецова это я", "Иванова — моя фамилия": the name comes first.
_AFTER: tuple[tuple[str, ...], ...] = (("это", "я"), ("это", "моя"), ("моя", "фамилия"), ("мне", "фамилия"))
_AFTER_FIRST = frozenset(a[0] for a in _AFTER)


@lru_cache(maxsize=20_000)
def name_kind(token: str) -> str:
    """ "name", "surname", "patronymic" or "" for a folded token (pymorphy's tags, any of the first parses)."""
    if len(token) < 2 or not token.isalpha():
        return ""
    parses = morph().parse(token)[:4]
    tags = [p.tag for p in parses]
    if any("Patr" in t for t in tags) or token.endswith(("овна", "евна", "ична", "инична")):
        return "patronymic"
    if any("Surn" in t for t in tags):
        return "surname"
    if any("Name" in t for t in tags):
        return "name"
    return ""


@lru_cache(maxsize=20_000)
def is_first_name(token: str) -> bool:
    """A first name in the nominative ("анна", "надежда"): the form a patient signs with."""
    return any("Name" in p.tag and p.tag.case == "nomn" for p in morph().parse(token)[:4])


@dataclass(frozen=True, slots=True)
class SelfIntro:
    """Positions of the tokens that are the patient's own name, and the surname among them if any."""

    positions: frozenset[int] = frozenset()
    surname: str = ""  # folded, as written
    first_name: str = ""  # folded, as written


def _marker_before(tokens: list[str], start: int) -> bool:
    return (
        start > 0
        and tokens[start - 1] in DOCTOR_MARKERS
        and not (
            start > 1 and tokens[start - 2] == "не"  # "не к Петровой": not a request for her either
        )
    )


_CUE_WORDS = frozenset(_INTROS_BY_WORD) | _AFTER_FIRST | {"уважением"}
_PATRONYMIC_END = ("вна", "вич", "чна", "ична", "вны", "вне", "вну")


def self_intro(tokens: list[str]) -> SelfIntro:
    """The patient's own name in these tokens (see the module's docstring)."""
    if not any(t in _CUE_WORDS or t.endswith(_PATRONYMIC_END) for t in tokens):
        return SelfIntro()  # most messages: no introduction, no patronymic
    mine: set[int] = set()
    n = len(tokens)
    for i in range(n):
        for intro in _INTROS_BY_WORD.get(tokens[i], ()):
            if tuple(tokens[i : i + len(intro)]) != intro:
                continue
            j = i + len(intro)
            took = 0
            while j < n and took < 3 and tokens[j] not in DOCTOR_MARKERS:
                kind = name_kind(tokens[j])
                surname_word = intro[-1] in (
                    "фамилия",
                    "фамилии",
                    "фамилией",
                    "фамилию",
                    "мужу",
                    "девичестве",
                )
                if not kind and not (surname_word and took == 0 and len(tokens[j]) > 2):
                    break
                mine.add(j)
                j += 1
                took += 1
            break
        for after in _AFTER if tokens[i] in _AFTER_FIRST else ():
            if i > 0 and tuple(tokens[i : i + len(after)]) == after and name_kind(tokens[i - 1]):
                mine.add(i - 1)
                if i > 1 and name_kind(tokens[i - 2]) and not _marker_before(tokens, i - 1):
                    mine.add(i - 2)
        kind = name_kind(tokens[i])
        if kind == "patronymic" and i > 0 and name_kind(tokens[i - 1]) == "name":
            # "Анна Петровна", "Кузнецова Галина Сергеевна": the patient's, unless asked for ("к Елене ...")
            start = i - 1
            if i > 1 and name_kind(tokens[i - 2]) == "surname":
                start = i - 2
            if not _marker_before(tokens, start):
                mine.update(range(start, i + 1))
        elif kind == "patronymic" and not _marker_before(tokens, i):
            mine.add(i)  # a patronymic alone is never a doctor's surname
    surname = next((tokens[i] for i in sorted(mine) if name_kind(tokens[i]) == "surname"), "")
    first = next((tokens[i] for i in sorted(mine) if is_first_name(tokens[i])), "")
    return SelfIntro(frozenset(mine), surname, first)


def name_pair(tokens: list[str], i: int) -> str:
    """The first name written next to the surname at `i` without a marker before the pair ("Надежда
    Кузнецова, ..."), or ''; the caller decides whether it is a doctor's name."""
    for k, start in ((i - 1, i - 1), (i + 1, i)):
        if 0 <= k < len(tokens) and is_first_name(tokens[k]) and not _marker_before(tokens, start):
            return tokens[k]
    return ""
