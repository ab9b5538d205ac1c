"""Nothing the model says is taken on trust: its fields go through the offline extractors, its reply
through checks against the knowledge.

Fields: a phone must be valid (phonenumbers) and its digits must be in the patient's message; a name must
pass the name extractor and be a word of the message; a doctor must be in the doctors list and named in
the message (or be one of the doctors just offered); a specialty must be one of the list's; a window or a
visit must be one of the enums and only counts when the bot asked for it or the message speaks of it.
Intents that change state irrevocably (yes/no, restart, consent withdrawal) come only from the
deterministic detector, so neither the model nor an injected instruction can confirm or erase anything.

Reply: rejected when it names a person who is not a doctor of the list, a price, phone or link that is
not in the knowledge, promises a booking the code has not made, or recites the system instructions.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace

import phonenumbers

from bot.dialogue.extract.doctors import DoctorIndex
from bot.dialogue.extract.names import extract_name
from bot.dialogue.extract.phone import extract_phone, words_to_digits
from bot.dialogue.extract.visit import extract_visit
from bot.dialogue.extract.windows import extract_window
from bot.dialogue.language import fold, lemma, morph, words
from bot.dialogue.state import ConversationState, Slot, Stage
from bot.engine.llm_schema import ModelTurn
from bot.engine.port import Intent, Understanding
from bot.knowledge.models import Knowledge
from sheets.schema import Visit, Window

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
_CAPITALISED = re.compile(r"[А-ЯЁ][а-яё]+(?:-[А-ЯЁ][а-яё]+)?")
_INITIALS = re.compile(r"([А-ЯЁ][а-яё]+)\s+[А-ЯЁ]\.\s?[А-ЯЁ]\.")
_AFTER_TITLE = re.compile(r"(?:доктор|врач|специалист)\w*\s+([А-ЯЁ][а-яё]+)", re.IGNORECASE)
_PRICE = re.compile(
    r"(\d[\d\s\u00a0]*(?:[.,]\d+)?)\s*(?:руб|р\.|₽|rub|тыс)"
    r"|(?:стоит|стоимость\w*|цена\w*|обойд[её]тся)\s+(?:от\s+|до\s+)?(\d[\d\s\u00a0]*)",
    re.IGNORECASE,
)
_URL = re.compile(r"(?:https?://|www\.)[^\s)»\"']+|\b[\w-]+\.(?:ru|рф|com|org|net|su)\b[^\s)»\"']*")
_PROMISE = re.compile(
    r"(записал[аи]?\s+вас|вы\s+записаны|запись\s+подтвержден|заявк\w*\s+(?:уже\s+)?(?:принята|оформлена|"
    r"создана|отправлена)|жд[её]м\s+вас\s+\d)",
    re.IGNORECASE,
)
_LEAK_MARKERS = ("record_turn", "${", "intents", "```", "<!--")
_TIME_CUE = re.compile(r"(утр|вечер|обед|час|врем|днем|днём|половин|любое|неважно|\d)")
_VISIT_CUE = re.compile(r"(был|перв|повтор|раньше|впервые|ходил|обращал|наблюда|лечил|нов)")
MAX_REPLY = 1200
_LEADING_GREETING = re.compile(
    r"^\s*(здравствуйте|добрый\s+(день|вечер)|доброе\s+утро|доброго\s+времени\s+суток|привет\w*)[!.,\s]*",
    re.IGNORECASE,
)


def _digits(text: str) -> str:
    return re.sub(r"\D", "", text)


@dataclass
class KnowledgeFacts:
    """What a reply may mention, built once per knowledge version."""

    knowledge: Knowledge
    doctors: DoctorIndex
    name_lemmas: set[str] = field(default_factory=set)  # lemmas of every part of every doctor's name
    known_words: set[str] = field(default_factory=set)  # words of the clinic facts and the FAQ
    numbers: set[str] = field(default_factory=set)
    phones: set[str] = field(default_factory=set)  # national digits
    urls: set[str] = field(default_factory=set)

    @classmethod
    def build(cls, knowledge: Knowledge, doctors: DoctorIndex) -> KnowledgeFacts:
        facts = cls(knowledge, doctors)
        for doctor in knowledge.doctors:
            for part in doctor.full_name.split():
                facts.name_lemmas |= {fold(p.normal_form) for p in morph().parse(fold(part))}
        c = knowledge.clinic
        texts = [c.name, c.address, c.phone, c.hours_text, c.website, c.privacy_url, c.consent_url]
        texts += [c.telegram, c.whatsapp]
        texts += [f"{e.question}\n{e.answer}" for e in knowledge.faq]
        texts += [f"{d.specialty} {d.note} {' '.join(d.services)}" for d in knowledge.doctors]
        blob = "\n".join(t for t in texts if t)
        facts.known_words = set(words(blob))
        facts.numbers = {_digits(n) for n in re.findall(r"\d[\d\s\u00a0]*", blob) if _digits(n)}
        facts.numbers |= {_digits(n) for n in re.findall(r"\d+", blob)}
        facts.urls = {
            fold(u).rstrip(".,;:!?").removeprefix("https://").removeprefix("http://")
            for u in _URL.findall(blob)
        }
        for match in phonenumbers.PhoneNumberMatcher(blob, "RU"):
            facts.phones.add(str(match.number.national_number))
        return facts

    def is_doctor_word(self, word: str) -> bool:
        key = fold(word)
        if key in self.doctors.by_form:
            return True
        return bool({fold(p.normal_form) for p in morph().parse(key)} & self.name_lemmas)


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
    said = _digits(words_to_digits(text))
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


def reply_problem(
    reply: str, facts: KnowledgeFacts, rules: str, state: ConversationState, text: str
) -> str | None:
    """Why this reply must not reach the patient, or None when it may."""
    if not reply.strip():
        return "empty"
    if len(reply) > MAX_REPLY:
        return "too long"
    if not re.search(r"[а-яё]", reply, re.IGNORECASE):
        return "not Russian"
    low = fold(reply)
    if any(marker in low for marker in _LEAK_MARKERS) or _recites(reply, rules):
        return "recites the instructions"
    if _PROMISE.search(reply):
        return "promises a booking"
    person = _unknown_person(reply, facts, state, text)
    if person:
        return f"names a doctor not in the list: {person}"
    for match in _PRICE.finditer(reply):
        number = _digits(match.group(1) or match.group(2) or "")
        if number and number not in facts.numbers:
            return f"a price not in the knowledge: {number}"
    for found in phonenumbers.PhoneNumberMatcher(reply, "RU"):
        national = str(found.number.national_number)
        own = state.booking.phone.endswith(national) if state.booking.phone else False
        if national not in facts.phones and not own:
            return f"a phone not in the knowledge: {found.raw_string}"
    for url in _URL.findall(reply):
        key = fold(url).rstrip(".,;:!?").removeprefix("https://").removeprefix("http://")
        if key not in facts.urls:
            return f"a link not in the knowledge: {url}"
    return None


def _unknown_person(reply: str, facts: KnowledgeFacts, state: ConversationState, text: str) -> str | None:
    own = {fold(state.booking.name), fold(state.profile_name)} - {""}
    candidates: list[str] = [m.group(1) for m in _INITIALS.finditer(reply)]
    candidates += [m.group(1) for m in _AFTER_TITLE.finditer(reply)]
    for match in _CAPITALISED.finditer(reply):
        word = match.group(0)
        tags = {tag for p in morph().parse(fold(word)) for tag in ("Surn", "Patr") if tag in p.tag}
        if tags:
            candidates.append(word)
    for word in candidates:
        key = fold(word)
        if key in own or lemma(key) in {lemma(o) for o in own}:
            continue
        if facts.is_doctor_word(key):
            continue
        if key in facts.known_words and not facts.doctors.match(word).unknown:
            continue
        if key in {fold(s) for s in facts.knowledge.specialties}:
            continue
        return word
    return None


def _recites(reply: str, rules: str, size: int = 6) -> bool:
    """True when the reply repeats a run of `size` words of the system instructions."""
    rule_words = words(rules)
    shingles = {tuple(rule_words[i : i + size]) for i in range(len(rule_words) - size + 1)}
    said = words(reply)
    hits = sum(1 for i in range(len(said) - size + 1) if tuple(said[i : i + size]) in shingles)
    return hits >= 2


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
