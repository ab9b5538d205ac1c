"""Nothing the model says is taken on trust: its fields go through the offline extractors, its reply
through checks against the knowledge.

Fields: a phone must be valid (phonenumbers) and its digits must be in the patient's message; a name must
pass the name extractor and be a word of the message; a doctor must be in the doctors list and named in
the message (or be one of the doctors just offered); a specialty must be one of the list's; a window or a
visit must be one of the enums and only counts when the bot asked for it or the message speaks of it.
Intents that change state irrevocably (yes/no, restart, consent withdrawal) come only from the
deterministic detector, so neither the model nor an injected instruction can confirm or erase anything.

Reply: checked by `reply_guard` (medical advice, prices, times, contacts, people, leaks); re-exported here.
"""

from __future__ import annotations

import re
from dataclasses import replace

import phonenumbers

from bot.dialogue.extract.names import extract_name
from bot.dialogue.extract.phone import extract_phone, words_to_digits
from bot.dialogue.extract.visit import extract_visit
from bot.dialogue.extract.windows import extract_window
from bot.dialogue.language import fold, lemma, words
from bot.dialogue.state import ConversationState, Slot, Stage
from bot.engine.llm_facts import KnowledgeFacts
from bot.engine.llm_schema import ModelTurn
from bot.engine.port import Intent, Understanding
from bot.engine.reply_guard import MAX_REPLY, reply_problem
from sheets.schema import Visit, Window

__all__ = [
    "MAX_REPLY",
    "TRUSTED_INTENTS",
    "KnowledgeFacts",
    "accept_fields",
    "merge",
    "reply_problem",
    "skip_model",
    "wants_reply",
    "without_greeting",
]

# Model intents the core may act on; yes/no/restart/withdraw_consent are the detector's alone.
TRUSTED_INTENTS = {
    "question": Intent.QUESTION,
    "booking": Intent.BOOKING,
    "correction": Intent.CORRECTION,
    "handoff": Intent.HANDOFF,
    "emergency": Intent.EMERGENCY,
    "greeting": Intent.GREETING,
    "thanks": Intent.THANKS,
    "goodbye": Intent.GOODBYE,
}
_DECISIVE = {Intent.EMERGENCY, Intent.HANDOFF, Intent.RESTART, Intent.WITHDRAW_CONSENT}
_TIME_CUE = re.compile(r"(утр|вечер|обед|час|врем|днем|днём|половин|любое|неважно|\d)")
_VISIT_CUE = re.compile(r"(был|перв|повтор|раньше|впервые|ходил|обращал|наблюда|лечил|нов)")
_LEADING_GREETING = re.compile(
    r"^\s*(здравствуйте|добрый\s+(день|вечер)|доброе\s+утро|доброго\s+времени\s+суток|привет\w*)[!.,\s]*",
    re.IGNORECASE,
)


# ---------------------------------------------------------------------------- fields


def accept_fields(
    turn: ModelTurn, offline: Understanding, state: ConversationState, text: str, facts: KnowledgeFacts
) -> dict[str, object]:
    """The model's fields that pass the deterministic checks and add to what the offline engine found."""
    v = turn.values
    out: dict[str, object] = {}
    tokens = words(text)
    if not offline.phone and "phone" in v:
        phone = _grounded_phone(v["phone"], text)
        if phone:
            out["phone"] = phone
    if not offline.name and "name" in v:
        name = _grounded_name(v["name"], tokens, state, facts)
        if name:
            out["name"] = name
    if "doctor" in v and len(offline.doctors) != 1:
        doctor = _grounded_doctor(v["doctor"], offline, state, tokens, facts)
        if doctor:
            out["doctor"] = doctor
    open_service = state.awaiting == Slot.SERVICE or not (state.booking.doctor or state.booking.specialty)
    if "specialty" in v and not offline.specialty and "doctor" not in out and open_service:
        specialty = _known_specialty(v["specialty"], facts)
        options = offline.specialty_options
        if specialty and (not options or specialty in options):
            out["specialty"] = specialty
    low = fold(text)
    if "window" in v and not offline.window and (state.awaiting == Slot.WINDOW or _TIME_CUE.search(low)):
        window = v["window"] if v["window"] in {w.value for w in Window} else extract_window(v["window"])
        if window:
            out["window"] = window
    if "visit" in v and not offline.visit and (state.awaiting == Slot.VISIT or _VISIT_CUE.search(low)):
        visit = v["visit"] if v["visit"] in {x.value for x in Visit} else extract_visit(v["visit"])
        if visit:
            out["visit"] = visit
    return out


def _grounded_phone(value: str, text: str) -> str | None:
    e164 = extract_phone(value).e164
    if not e164:
        return None
    national = str(phonenumbers.parse(e164).national_number)
    said = re.sub(r"\D", "", words_to_digits(text))
    return e164 if national in said else None


def _grounded_name(
    value: str, tokens: list[str], state: ConversationState, facts: KnowledgeFacts
) -> str | None:
    name = extract_name(value, expecting=True)
    if not name:
        return None
    key = fold(name)
    if not any(t == key or lemma(t) == lemma(key) for t in tokens):
        return None  # a name the patient did not write
    if state.awaiting != Slot.NAME and facts.is_doctor_word(key):
        return None  # "к Елене Викторовне" names the doctor
    return name


def _grounded_doctor(
    value: str,
    offline: Understanding,
    state: ConversationState,
    tokens: list[str],
    facts: KnowledgeFacts,
) -> str | None:
    by_name = {fold(d.full_name): d.full_name for d in facts.knowledge.doctors}
    full = by_name.get(fold(" ".join(value.split())))
    if not full:
        found = facts.doctors.match(value).doctors
        full = found[0] if len(found) == 1 else None
    if not full:
        return None
    if full in offline.extra.get("not_doctors", "").split("|"):
        return None  # "я Кузнецова", "не к Петровой": the code found the name is not the doctor asked for
    specialty = next(d.specialty for d in facts.knowledge.doctors if d.full_name == full)
    if offline.specialty and specialty != offline.specialty and full not in offline.doctors:
        return None  # an explicit specialty outranks a surname the model picked
    if full in offline.doctors or full in state.choices or full in offline.suggestions:
        return full
    surname = full.split()[0]
    forms = {form for form, docs in facts.doctors.by_form.items() if any(d.full_name == full for d in docs)}
    return full if forms & set(tokens) or fold(surname) in tokens else None


def _known_specialty(value: str, facts: KnowledgeFacts) -> str | None:
    by_key = {fold(s): s for s in facts.knowledge.specialties}
    return by_key.get(fold(value.strip())) or facts.doctors.match(value).specialty


# ---------------------------------------------------------------------------- reply


def without_greeting(reply: str) -> str:
    """The core greets on first contact itself; a model's "Здравствуйте!" would make it twice."""
    rest = _LEADING_GREETING.sub("", reply, count=1).strip()
    return rest[:1].upper() + rest[1:] if rest else ""


# ---------------------------------------------------------------------------- merge


def merge(
    offline: Understanding,
    turn: ModelTurn,
    accepted: dict[str, object],
    reply: str | None,
    tokens: int,
) -> Understanding:
    """The offline Understanding, completed by the model's validated fields, intents and reply."""
    intents = set(offline.intents) | {TRUSTED_INTENTS[i] for i in turn.intents if i in TRUSTED_INTENTS}
    u = replace(offline, intents=frozenset(intents), tokens=tokens, extra={**offline.extra, "engine": "llm"})
    if "phone" in accepted:
        u = replace(u, phone=str(accepted["phone"]), phone_problem=None)
    if "name" in accepted:
        u = replace(u, name=str(accepted["name"]))
    if "doctor" in accepted:
        u = replace(u, doctors=(str(accepted["doctor"]),), unknown_doctor=None, suggestions=())
    if "specialty" in accepted:
        u = replace(u, specialty=str(accepted["specialty"]), specialty_options=())
        u = replace(u, extra={k: v for k, v in u.extra.items() if k != "missing_specialty"})
    if "window" in accepted:
        u = replace(u, window=str(accepted["window"]))
    if "visit" in accepted:
        u = replace(u, visit=str(accepted["visit"]))
    if reply and wants_reply(u, turn):
        u = replace(u, reply=reply)
    return u


def wants_reply(u: Understanding, turn: ModelTurn) -> bool:
    """A free answer fits questions and small talk; greetings, yes/no and decisions keep the fixed texts."""
    if u.intents & _DECISIVE:
        return False
    if u.has(Intent.QUESTION) or u.faq or u.faq_guess:
        return True
    if u.has_booking_facts or u.phone_problem or u.intents & {Intent.YES, Intent.NO}:
        return False
    social = {Intent.GREETING, Intent.THANKS, Intent.GOODBYE, Intent.BOOKING, Intent.CORRECTION}
    return not (u.intents & social) or bool(turn.intents & {"smalltalk", "other"})


def skip_model(offline: Understanding, state: ConversationState, text: str) -> bool:
    """Messages the code settles alone: no text, emergencies, handoffs, a plain yes/no to a yes/no question."""
    if not text.strip():
        return True
    if offline.intents & _DECISIVE:
        return True
    plain_answer = offline.intents & {Intent.YES, Intent.NO} and len(words(text)) <= 3
    return bool(plain_answer and state.awaiting in (Slot.CONSENT, Slot.CONFIRM) and state.stage != Stage.IDLE)
