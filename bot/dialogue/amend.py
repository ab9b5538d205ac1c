"""A change the patient makes after «Заявка принята»: the confirmed row is rewritten (same ID, the outbox's
upsert, an «updated» alert), never a second lead; the comment says what the patient changed."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING

from bot.dialogue.buttons import specialty_button
from bot.dialogue.lead_notes import DETAIL_KEYS, detail_phrase, pretty_phone
from bot.dialogue.messages import Button, Step, StoreLead
from bot.dialogue.state import Booking, ConversationState, Slot
from bot.engine.port import Intent, Understanding
from bot.knowledge.models import Knowledge
from sheets.schema import Lead

if TYPE_CHECKING:
    from bot.dialogue.core import DialogueCore

FIXED_MARK = "; исправлено пациентом после подтверждения: "
_ASK = {
    "name": ("ask_fix_name", Slot.NAME),
    "phone": ("ask_fix_phone", Slot.PHONE),
    "window": ("ask_window", Slot.WINDOW),
    "visit": ("ask_visit", Slot.VISIT),
    "service": ("ask_fix_service", Slot.AMEND_SERVICE),
}


def _new_service(u: Understanding, knowledge: Knowledge) -> str:
    by_name = {d.full_name: d for d in knowledge.doctors}
    doctors = [by_name[n] for n in u.doctors if n in by_name]
    if len(doctors) == 1:
        return doctors[0].display
    return u.specialty if u.specialty in knowledge.specialties else ""


def _with_fixed(comment: str, fields: list[str]) -> str:
    """The comment with the admin note of what the patient changed (one note, the fields accumulated)."""
    base, _, earlier = comment.partition(FIXED_MARK)
    names = list(dict.fromkeys([*(f for f in earlier.split(", ") if f), *fields]))
    return f"{base}{FIXED_MARK}{', '.join(names)}" if names else base


def amend_confirmed(
    core: DialogueCore,
    state: ConversationState,
    step: Step,
    u: Understanding,
    knowledge: Knowledge,
    local: datetime,
) -> Step | None:
    """The step that rewrites the last confirmed lead, or None when this message is not a change to it."""
    texts = core.texts
    lead = Lead.from_row(state.last_lead)
    fix = u.extra.get("fix", "")
    if fix in _ASK and not u.has_booking_facts:
        # "телефон не тот" after «Заявка принята»: ask for it; the answer rewrites the row
        key, slot = _ASK[fix]
        buttons: tuple[Button, ...] = ()
        if fix == "window":
            buttons = core._window_buttons()
        elif fix == "visit":
            buttons = core._visit_buttons()
        elif fix == "service":
            buttons = tuple(specialty_button(s) for s in knowledge.specialties[:8])
        step.say(texts.get(key), buttons, request_contact=fix == "phone")
        state.awaiting = slot
        return step
    amending_service = state.awaiting == Slot.AMEND_SERVICE or (
        u.has(Intent.CORRECTION) and "another" not in u.extra
    )
    service = _new_service(u, knowledge) if amending_service else ""
    if not service and (u.doctors or u.specialty or u.specialty_options or u.unknown_doctor):
        return None  # another doctor: a new request
    asking = u.has(Intent.QUESTION) and not (u.name or u.phone or u.has(Intent.CORRECTION))
    if asking and not service:
        return None  # "вы работаете утром?", "а в субботу открыто?": a question, not a change
    # "спасибо, Марина" may thank an administrator: a new name needs a correction or the question asked
    renaming = u.has(Intent.CORRECTION) or state.awaiting == Slot.NAME or fix == "name"
    changes: list[tuple[str, str]] = []
    values: dict[str, str] = {}
    for field, what, new in (
        ("service", "врач / услуга", service),
        ("name", "имя", (u.name or "") if renaming else ""),
        ("phone", "телефон", u.phone or ""),
        ("window", "время", u.window or ""),
        ("visit", "обращение", u.visit or ""),
    ):
        if new and new != getattr(lead, field):
            values[field] = new
            shown = texts.get("window_any") if new == "любое" and field == "window" else new
            changes.append((what, pretty_phone(shown) if field == "phone" else shown))
    scratch = Booking()
    notes = len(step.notes)
    if not u.has(Intent.BOOKING):
        core.take_details(replace(state, booking=scratch), step, u, knowledge, local)
    added = [detail_phrase(k, scratch.details[k]) for k in DETAIL_KEYS if scratch.details.get(k)]
    added = [a for a in added if a not in lead.comment]
    if not changes and not added:
        del step.notes[notes:]  # the usual path says them again
        return None
    base, _, earlier = lead.comment.partition(FIXED_MARK)
    base = "; ".join(p for p in [base, *added] if p)
    fields = [what for what, _ in changes] + (["комментарий"] if added else [])
    comment = _with_fixed(base + (FIXED_MARK + earlier if earlier else ""), fields)
    new_lead = replace(lead, comment=comment, **values)
    state.last_lead = new_lead.to_row()
    state.booking.name = new_lead.name  # a next booking in this conversation takes the corrected contacts
    state.booking.phone = new_lead.phone
    step.effects.append(StoreLead(new_lead, update=True))
    said = [f"{what} — {value}" for what, value in changes] + added
    step.say(texts.get("amended", changes="; ".join(said)))
    state.awaiting = Slot.MORE
    return step
