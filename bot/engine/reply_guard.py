"""A model's reply against the knowledge: it reaches the patient only when nothing in it is invented.

Rejected: a reply that recites the instructions; names a person who is not a doctor of the list; gives
medical advice (a diagnosis, a drug, a dose, a treatment: `reply_medical`); promises a booking or a visit
time the code has not made; names a price that is not the knowledge's answer to the patient's question,
or a number the knowledge does not have (`reply_claims`); carries a link, e-mail, handle or phone that is
not literally in the knowledge (`reply_contacts`), or characters that change what the patient sees. The
caller then uses the offline engine's answer; a reason says which rule, never the patient's words.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from bot.dialogue.language import fold, lemma, morph, words
from bot.dialogue.state import ConversationState
from bot.engine.llm_facts import KnowledgeFacts
from bot.engine.reply_claims import amounts, booked_time, free_problem, invented_number, price_problem
from bot.engine.reply_contacts import contacts, markup_problem, phone_numbers
from bot.engine.reply_medical import medical_problem
from bot.engine.reply_text import hidden_controls

__all__ = ["MAX_REPLY", "reply_problem"]

MAX_REPLY = 1200
_CAPITALISED = re.compile(r"[А-ЯЁ][а-яё]+(?:-[А-ЯЁ][а-яё]+)?")
_INITIALS = re.compile(r"([А-ЯЁ][а-яё]+)\s+[А-ЯЁ]\.\s?[А-ЯЁ]\.")
_AFTER_TITLE = re.compile(r"(?i:доктор|врач|специалист)\w*\s+([А-ЯЁ][а-яё]+)")
_PROMISE = re.compile(
    r"(записал[аи]?\s+вас|вы\s+записаны|запись\s+подтвержден|заявк\w*\s+(?:уже\s+)?(?:принята|оформлена|"
    r"создана|отправлена)|жд[её]м\s+вас\s+\d)",
    re.IGNORECASE,
)
_LEAK_MARKERS = ("record_turn", "${", "intents", "```", "<!--")


def reply_problem(
    reply: str,
    facts: KnowledgeFacts,
    rules: str,
    state: ConversationState,
    text: str,
    asked: Sequence[str] = (),
) -> str | None:
    """Why this reply must not reach the patient, or None when it may.

    `asked` holds the knowledge texts that answer the patient's message (the matched FAQ answers, the notes
    of the doctors named): the only place a price may come from.
    """
    if not reply.strip():
        return "пустой ответ"
    if len(reply) > MAX_REPLY:
        return "слишком длинный ответ"
    if not re.search(r"[а-яё]", reply, re.IGNORECASE):
        return "ответ не по-русски"
    if hidden_controls(reply):
        return "скрытые символы"
    low = fold(reply)
    if any(marker in low for marker in _LEAK_MARKERS) or _recites(reply, rules):
        return "пересказывает инструкции"
    if _PROMISE.search(reply):
        return "обещает запись"
    problem = booked_time(reply) or medical_problem(reply, facts.faq_words)
    if problem:
        return problem
    person = _unknown_person(reply, facts, state, text)
    if person:
        return f"называет врача не из списка: {person}"
    return (
        _contact_problem(reply, facts, state, text)
        or price_problem(reply, amounts(asked))
        or free_problem(reply, facts.free_things)
        or invented_number(reply, facts.numbers | facts.phones, text)
    )


def _contact_problem(reply: str, facts: KnowledgeFacts, state: ConversationState, text: str) -> str | None:
    problem = markup_problem(reply, facts.urls)
    if problem:
        return problem
    links, emails, handles = contacts(reply)
    for link in sorted(links - facts.urls):
        return f"ссылка не из базы знаний: {link[:60]}"
    for email in sorted(emails - facts.emails):
        return f"e-mail не из базы знаний: {email[:60]}"
    for handle in sorted(handles - facts.handles):
        return f"аккаунт не из базы знаний: @{handle[:40]}"
    own = {re.sub(r"\D", "", state.booking.phone)[-10:]} - {""} | phone_numbers(text)
    for phone in phone_numbers(reply):
        if any(phone in known for known in facts.phones) or any(phone and phone in o for o in own):
            continue
        return "телефон не из базы знаний"
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
