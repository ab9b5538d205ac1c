"""The no-loop rule (DESIGN.md, "Conversation rules, added"): the same question is never sent a third time in
the same words; after unusable answers it is rephrased, then the step is settled another way.

Pure helpers for the core: which wording of a slot's question to send next, what a plausible repeated answer
is, and which typed text is a button's label.
"""

from __future__ import annotations

import re

from bot.dialogue.extract.intents import CANCEL, LATER, NO_NAME
from bot.dialogue.language import fold, has_cyrillic
from bot.dialogue.state import ConversationState, Slot
from bot.dialogue.texts import Texts
from bot.engine.port import Intent, Understanding

# The wordings of each slot's question, from the first to the last resort (the second gives an example or
# the choices, the third offers the administrator as well).
WORDINGS: dict[str, tuple[str, ...]] = {
    Slot.SERVICE: ("ask_service", "ask_service_again", "ask_service_last"),
    Slot.CONSENT: ("consent", "consent_again", "consent_last"),
    Slot.NAME: ("ask_name", "ask_name_again", "ask_name_last"),
    Slot.PHONE: ("ask_phone", "ask_phone_again", "ask_phone_last"),
    Slot.WINDOW: ("ask_window", "ask_window_again", "ask_window_last"),
    Slot.VISIT: ("ask_visit", "ask_visit_again", "ask_visit_last"),
    Slot.DOCTOR_CHOICE: ("ask_doctor_choice", "ask_doctor_choice_again", "ask_doctor_choice_last"),
}
TIMES = 2  # a wording is sent at most this many times in one booking
MISSES_TO_SETTLE = 3  # unusable answers to one slot before it is settled without the patient's answer
_WORD = re.compile(r"[а-яё]+(?:-[а-яё]+)?")
_NOT_A_NAME = re.compile(
    r"^(да|нет|ну|не|ок|как|что|кто|зачем|почему|привет|здравствуйте|спасибо|пока|ага|угу|хорошо|ладно|"
    r"алло|эй|ау|можно|нельзя|никак|не знаю|незнаю)$"
)


_DONT_KNOW = re.compile(
    r"\b(не\s+(помню|знаю|уверен\w*|в\s+курсе)|без\s+понятия|понятия\s+не\s+имею|забыл\w*|хз)\b"
)


def does_not_know(text: str) -> bool:
    """ "не помню", "не знаю": an answer of its own, not an unclear one."""
    return bool(_DONT_KNOW.search(fold(text)))


def misses_after(state: ConversationState, slot: str, *, unusable: bool) -> int:
    """Count the unusable answers to `slot` in a row (another slot asked starts again from nothing)."""
    if state.miss_slot != slot:
        state.miss_slot, state.misses = slot, 0
    if unusable and state.awaiting == slot:
        state.misses += 1
    return state.misses


def wording(state: ConversationState, slot: str, texts: Texts, start: int) -> str | None:
    """The first wording of the slot from `start` on (then the earlier ones) not yet sent TIMES times; the
    one chosen is counted. None: every wording was used up."""
    keys = [k for k in WORDINGS.get(slot, ()) if texts.has(k)]
    if not keys:
        return None
    start = min(start, len(keys) - 1)
    for key in keys[start:] + keys[:start][::-1]:
        if state.asked.get(key, 0) < TIMES:
            state.asked[key] = state.asked.get(key, 0) + 1
            return key
    return None


def repeated_name(state: ConversationState, text: str) -> str | None:
    """A rare name typed again ("Ратмир", then "Ратмир" or "Ратмир же"): the patient means it."""
    previous = [said for who, said in state.history[:-1] if who == "patient"]
    if not previous:
        return None
    now, before = _WORD.findall(fold(text)), _WORD.findall(fold(previous[-1]))
    if not now or not 1 <= len(before) <= 2 or len(now) > 2 or now[0] != before[0]:
        return None  # "Бажен", then "Бажен" or "Бажен же"; "Ратибор Ильин" twice
    word = now[0]
    if len(word) < 2 or len(word) > 20 or _NOT_A_NAME.match(word):
        return None
    return "-".join(part.capitalize() for part in word.split("-"))


def label_key(label: str) -> str:
    """A button label as a patient would type it: no case, brackets, punctuation or extra spaces."""
    return " ".join(re.findall(r"[а-яёa-z0-9]+", fold(label)))


def unknown_question(text: str, u: Understanding) -> bool:
    """A question mid-booking that neither the knowledge nor the booking's fields answer."""
    if u.faq or u.reply or u.has_booking_facts or u.has(Intent.BOOKING):
        return False
    count = len(text.split())
    if count < 2 or ("?" not in text and count < 3):
        return False  # "как-нибудь", "ну когда": an unclear answer, not a question
    settled = {Intent.YES, Intent.NO, Intent.CORRECTION, CANCEL, LATER, NO_NAME}
    return u.faq_guess or (u.has(Intent.QUESTION) and not u.intents & settled)


def english_sentence(text: str, u: Understanding) -> bool:
    """A sentence in English (not "morning" or "yes" answering a question): the offline bot says it works
    in Russian; the LLM engine may have answered in English itself."""
    if u.reply or not _foreign(text) or not re.search(r"[a-zA-Z]", text):
        return False
    count = len(text.split())
    if u.phone or u.doctors or u.specialty or u.name or u.visit or (u.window and count <= 4):
        return False
    if u.intents & {Intent.YES, Intent.NO, Intent.THANKS, Intent.GOODBYE} and count <= 4:
        return False  # "ok, thank you", "no thanks": understood as they are
    return count >= 3


def _foreign(text: str) -> bool:
    letters = [ch for ch in text if ch.isalpha()]
    return len(letters) >= 3 and not has_cyrillic(text)
