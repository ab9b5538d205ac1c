"""Asking for the booking's next field (the no-loop rule of bot.dialogue.flow) and the buttons that go with
the questions: the half of the dialogue core that speaks, kept apart from the half that decides."""

from __future__ import annotations

from datetime import datetime

import phonenumbers

from bot.dialogue.buttons import FIX_FIELDS, doctor_button, short_hash, specialty_button
from bot.dialogue.flow import MISSES_TO_SETTLE, TIMES, WORDINGS, label_key, misses_after, wording
from bot.dialogue.language import fold
from bot.dialogue.lead_notes import details_line
from bot.dialogue.messages import Button, Step
from bot.dialogue.state import ConversationState, Slot, Stage
from bot.dialogue.texts import Texts
from bot.knowledge.models import Doctor, Knowledge
from sheets.schema import Window

MAX_CHOICES = 8


def format_phone(e164: str) -> str:
    try:
        return phonenumbers.format_number(
            phonenumbers.parse(e164), phonenumbers.PhoneNumberFormat.INTERNATIONAL
        )
    except phonenumbers.NumberParseException:
        return e164


def service_label(state: ConversationState, knowledge: Knowledge) -> str:
    """The lead's `Врач / услуга`: the doctor's full name with the specialty, or the specialty alone."""
    b = state.booking
    for doctor in knowledge.doctors:
        if doctor.full_name == b.doctor:
            return doctor.display
    return b.specialty


class Asking:
    """The questions of a booking, in the order the fields are missing."""

    texts: Texts

    def _ask_next(
        self, state: ConversationState, step: Step, knowledge: Knowledge, local: datetime, *, repeat: bool
    ) -> None:
        """Ask for the first missing field, in a wording not yet used up (bot.dialogue.flow)."""
        for _ in range(len(WORDINGS) + 1):  # a field settled without an answer moves on to the next one
            slot = self._missing_slot(state)
            if slot == Slot.CONFIRM:
                self._ask_confirm(state, step, knowledge, repeat=repeat)
                return
            misses = misses_after(state, slot, unusable=repeat)
            start = min(misses, 2)
            if slot == Slot.CONSENT and state.awaiting == Slot.CONSENT:
                start = max(start, 1)  # asked again at once: the short form, not the same long text
            key = wording(state, slot, self.texts, start=start)
            if misses < MISSES_TO_SETTLE and key is not None:
                self._ask_slot(state, step, knowledge, slot, key)
                return
            if not self._settle(state, step, knowledge, slot):
                return
            repeat = False

    def _missing_slot(self, state: ConversationState) -> str:
        b = state.booking
        if state.choices and not b.doctor:
            return Slot.DOCTOR_CHOICE
        if not (b.doctor or b.specialty):
            return Slot.SERVICE
        if not state.consent.given_at:
            return Slot.CONSENT
        if not b.name and not b.is_skipped("name"):
            return Slot.NAME
        if not b.phone:
            return Slot.PHONE
        if not b.window:
            return Slot.WINDOW
        if not b.visit and not b.is_skipped("visit"):
            return Slot.VISIT
        return Slot.CONFIRM

    def _ask_slot(
        self, state: ConversationState, step: Step, knowledge: Knowledge, slot: str, key: str
    ) -> None:
        b = state.booking
        by_name = {d.full_name: d for d in knowledge.doctors}
        state.awaiting = slot
        if slot == Slot.DOCTOR_CHOICE:
            options = [by_name[n] for n in state.choices if n in by_name]
            step.say(
                self.texts.get(key, options=", ".join(d.display for d in options)),
                tuple(doctor_button(self._doctor_label(d), d.full_name) for d in options),
            )
        elif slot == Slot.SERVICE and state.offered and key != "ask_service_last":
            # The specialists offered for the complaint are still the choice after a question in between.
            offered = [s for s in state.offered if s in knowledge.specialties]
            step.say(
                self.texts.get("ask_specialty_choice", options=", ".join(offered)),
                tuple(specialty_button(s) for s in offered),
            )
        elif slot == Slot.SERVICE:
            buttons = self._specialty_buttons(knowledge)
            if key == "ask_service_last":
                buttons = (*self._therapist_first(knowledge)[:1], *self._help_buttons()[1:])
            step.say(self.texts.get(key, phone=knowledge.clinic.phone), buttons)
        elif slot == Slot.CONSENT:
            url = knowledge.clinic.consent_url or knowledge.clinic.privacy_url
            step.say(
                self.texts.get(key, url=url, phone=knowledge.clinic.phone),
                (
                    Button(self.texts.get("btn_yes_consent"), "consent:yes"),
                    Button(self.texts.get("btn_no_consent"), "consent:no"),
                ),
            )
        elif slot == Slot.NAME:
            if key == "ask_name" and not b.phone and self.texts.has("ask_contacts"):
                key = "ask_contacts"  # name and phone in one question: one message fewer
            step.say(self.texts.get(key), request_contact=key == "ask_contacts")
        elif slot == Slot.PHONE:
            name = b.name or ""
            text = self.texts.get(key, name=name, phone=knowledge.clinic.phone)
            if not name and text.startswith(","):
                text = text[1:].strip().capitalize()
            step.say(text, request_contact=True)
        elif slot == Slot.WINDOW:
            both = not b.visit and not b.is_skipped("visit") and self.texts.has("ask_window_visit")
            if key == "ask_window" and both:
                key = "ask_window_visit"  # the time and the first visit in one question
            step.say(self.texts.get(key, phone=knowledge.clinic.phone), self._window_buttons())
        else:
            step.say(self.texts.get(key, phone=knowledge.clinic.phone), self._visit_buttons())

    def _settle(self, state: ConversationState, step: Step, knowledge: Knowledge, slot: str) -> bool:
        """A field the patient could not give after every wording: taken as it stands (True: ask the next
        one) or the administrator offered (False)."""
        b = state.booking
        if slot == Slot.NAME:
            b.skip("name")
            step.note(self.texts.get("name_skipped"))
            return True
        if slot == Slot.WINDOW:
            b.window = Window.ANY
            step.note(self.texts.get("window_settled"))
            return True
        if slot == Slot.VISIT:
            b.skip("visit")
            step.note(self.texts.get("visit_skipped"))
            return True
        state.awaiting = slot
        step.say(self.texts.get("stuck", phone=knowledge.clinic.phone), self._help_buttons())
        return False

    def _ask_confirm(
        self, state: ConversationState, step: Step, knowledge: Knowledge, *, repeat: bool
    ) -> None:
        state.stage = Stage.CONFIRM
        misses = misses_after(state, Slot.CONFIRM, unusable=repeat)
        state.awaiting = Slot.CONFIRM
        summary = self._summary(state, knowledge)
        key = f"summary:{short_hash(summary)}"  # a changed summary is a new question
        if misses >= 2 or state.asked.get(key, 0) >= TIMES:
            step.say(self.texts.get("confirm_again"), self._confirm_buttons())
            return
        if repeat:
            step.say(self.texts.get("confirm_again"))
        state.asked[key] = state.asked.get(key, 0) + 1
        step.say(summary, self._confirm_buttons())

    def _summary(self, state: ConversationState, knowledge: Knowledge) -> str:
        b = state.booking
        return self.texts.get(
            "summary",
            name=b.name or self.texts.get("name_unknown"),
            phone=format_phone(b.phone),
            service=service_label(state, knowledge),
            window=self.texts.get("window_any") if b.window == Window.ANY else b.window,
            visit=b.visit or self.texts.get("visit_unknown"),
            details=details_line(b),
        )

    # ------------------------------------------------------------------ buttons

    @staticmethod
    def _doctor_label(doctor: Doctor) -> str:
        return f"{doctor.short_name} ({doctor.specialty})"

    def _specialty_buttons(self, knowledge: Knowledge, page: int = 0) -> tuple[Button, ...]:
        return self._paged(list(knowledge.specialties), page)

    def _therapist_first(self, knowledge: Knowledge) -> tuple[Button, ...]:
        therapist = [s for s in knowledge.specialties if fold(s) == "терапевт"]
        return self._paged(therapist + [s for s in knowledge.specialties if s not in therapist])

    def _paged(self, specialties: list[str], page: int = 0) -> tuple[Button, ...]:
        """A page of specialty buttons; «Другие специальности» leads to the next page when some are left."""
        if len(specialties) <= MAX_CHOICES:
            return tuple(specialty_button(s) for s in specialties)
        size = MAX_CHOICES - 1
        shown = specialties[page * size : (page + 1) * size]
        more = (page + 1) * size < len(specialties)
        rest = (Button(self.texts.get("btn_more_specialties"), f"more:{page + 1}"),) if more else ()
        return (*(specialty_button(s) for s in shown), *rest)

    def _window_buttons(self) -> tuple[Button, ...]:
        return (
            Button(self.texts.get("btn_morning"), "win:am"),
            Button(self.texts.get("btn_afternoon"), "win:pm"),
            Button(self.texts.get("btn_any"), "win:any"),
        )

    def _visit_buttons(self) -> tuple[Button, ...]:
        return (
            Button(self.texts.get("btn_first"), "visit:first"),
            Button(self.texts.get("btn_repeat"), "visit:repeat"),
        )

    def _confirm_buttons(self) -> tuple[Button, ...]:
        return (
            Button(self.texts.get("btn_confirm"), "confirm:yes"),
            Button(self.texts.get("btn_fix"), "confirm:fix"),
        )

    def _fix_buttons(self) -> tuple[Button, ...]:
        return tuple(Button(self.texts.get(f"btn_fix_{f}"), f"fix:{f}") for f in FIX_FIELDS)

    def _help_buttons(self) -> tuple[Button, ...]:
        return (Button(self.texts.get("btn_book"), "book"), Button(self.texts.get("btn_handoff"), "handoff"))

    def typed_button(self, text: str, state: ConversationState) -> str | None:
        """A button's label typed as text works like the button (the data it would carry), in any message."""
        key = label_key(text)
        if not key:
            return None
        labels = {
            "btn_more_specialties": "more:1",
            "btn_handoff": "handoff",
            "btn_book": "book",
            "btn_first": "visit:first",
            "btn_repeat": "visit:repeat",
            "btn_morning": "win:am",
            "btn_afternoon": "win:pm",
            "btn_any": "win:any",
            "btn_yes_consent": "consent:yes",
        }
        if state.awaiting == Slot.CONFIRM:
            labels |= {"btn_confirm": "confirm:yes", "btn_fix": "confirm:fix"}
        if state.awaiting == Slot.CORRECTION:
            labels |= {f"btn_fix_{f}": f"fix:{f}" for f in FIX_FIELDS}
        for name, data in labels.items():
            if label_key(self.texts.get(name)) == key:
                return data
        return None
