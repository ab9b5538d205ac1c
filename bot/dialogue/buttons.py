"""Button data: short, stable codes (Telegram allows 64 bytes) and their meaning for the core."""

from __future__ import annotations

import hashlib

from bot.dialogue.messages import Button
from bot.dialogue.state import ConversationState
from bot.engine.port import Intent, Understanding
from bot.knowledge.models import Knowledge
from sheets.schema import Visit, Window

WINDOW_CODES = {"am": Window.MORNING, "pm": Window.AFTERNOON, "any": Window.ANY}
VISIT_CODES = {"first": Visit.FIRST, "repeat": Visit.REPEAT}
FIX_FIELDS = ("name", "phone", "service", "window", "visit")


def short_hash(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()[:10]


def doctor_button(label: str, full_name: str) -> Button:
    return Button(label, f"doc:{short_hash(full_name)}")


def specialty_button(specialty: str) -> Button:
    return Button(specialty, f"spec:{short_hash(specialty)}")


def understand_button(data: str, state: ConversationState, knowledge: Knowledge) -> Understanding:
    """What a pressed button means; unknown or stale data means nothing (the core re-asks)."""
    kind, _, value = data.partition(":")
    if kind == "consent":
        return Understanding(
            intents=frozenset({Intent.YES if value == "yes" else Intent.NO}), extra={"button": "consent"}
        )
    if kind == "confirm":
        if value == "yes":
            return Understanding(intents=frozenset({Intent.YES}), extra={"button": "confirm"})
        return Understanding(intents=frozenset({Intent.NO, Intent.CORRECTION}), extra={"button": "confirm"})
    if kind == "fix" and value in FIX_FIELDS:
        return Understanding(intents=frozenset({Intent.CORRECTION}), extra={"fix": value})
    if kind == "win" and value in WINDOW_CODES:
        return Understanding(window=WINDOW_CODES[value])
    if kind == "visit" and value in VISIT_CODES:
        return Understanding(visit=VISIT_CODES[value])
    if kind == "doc":
        for doctor in knowledge.doctors:
            if short_hash(doctor.full_name) == value:
                return Understanding(doctors=(doctor.full_name,), intents=frozenset({Intent.BOOKING}))
    if kind == "spec":
        for specialty in knowledge.specialties:
            if short_hash(specialty) == value:
                return Understanding(specialty=specialty, intents=frozenset({Intent.BOOKING}))
    if kind == "more":
        return Understanding(extra={"more_specialties": value or "1"})
    if kind == "handoff":
        return Understanding(intents=frozenset({Intent.HANDOFF}))
    if kind == "book":
        return Understanding(intents=frozenset({Intent.BOOKING}))
    if kind == "restart":
        return Understanding(intents=frozenset({Intent.RESTART}))
    return Understanding(extra={"stale_button": data})
