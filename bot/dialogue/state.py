"""The state of one conversation: what is known of the current request and where the dialogue stands."""

from __future__ import annotations

import json
from dataclasses import dataclass, field, fields
from enum import StrEnum
from typing import Any


class Stage(StrEnum):
    IDLE = "idle"  # greeting, questions; no request in progress
    BOOKING = "booking"  # collecting the request's fields
    CONFIRM = "confirm"  # the summary is shown, waiting for "да" or a correction
    HANDOFF = "handoff"  # an administrator has the conversation; the bot is silent


class Slot(StrEnum):
    SERVICE = "service"
    DOCTOR_CHOICE = "doctor_choice"
    CONSENT = "consent"
    NAME = "name"
    PHONE = "phone"
    WINDOW = "window"
    VISIT = "visit"
    CONFIRM = "confirm"
    CORRECTION = "correction"
    AMEND_SERVICE = "amend_service"  # "врач не тот" after «Заявка принята»: the answer rewrites that lead
    MORE = "more"  # a lead was just confirmed: "anything else?" (another doctor, a question, or nothing)


@dataclass(slots=True)
class Booking:
    """The request being collected; values are already validated."""

    doctor: str = ""  # full name from the doctors list
    specialty: str = ""  # specialty or service when no doctor was chosen
    comment: str = ""
    urgent: str = ""  # emergency signs came up while this request was made: what they were, for the admins
    name: str = ""
    phone: str = ""  # E.164
    window: str = ""
    visit: str = ""
    # What the administrator needs besides the fields (bot.dialogue.lead_notes): "home", "age", "day"...
    details: dict[str, str] = field(default_factory=dict)
    skipped: str = ""  # fields the patient would not or could not give ("name", "visit"), comma-separated

    def is_skipped(self, what: str) -> bool:
        return what in self.skipped.split(",")

    def skip(self, what: str) -> None:
        if not self.is_skipped(what):
            self.skipped = ",".join(filter(None, [*self.skipped.split(","), what]))

    def service_label(self, display: str = "") -> str:
        return display or self.specialty

    def has_personal_data(self) -> bool:
        return bool(self.name or self.phone)


@dataclass(slots=True)
class Consent:
    given_at: str = ""  # ISO time, UTC
    version: str = ""
    declined_at: str = ""


@dataclass(slots=True)
class ConversationState:
    stage: str = Stage.IDLE
    awaiting: str = ""
    booking: Booking = field(default_factory=Booking)
    choices: list[str] = field(default_factory=list)  # doctors offered when a surname is ambiguous
    # Specialties offered to choose from for a complaint («Терапевт, Кардиолог, Невролог»): a question
    # answered in between resumes with the same offer.
    offered: list[str] = field(default_factory=list)
    # A second specialty named with the first ("к лору и к неврологу"): booked once the first is confirmed.
    next_specialty: str = ""
    consent: Consent = field(default_factory=Consent)
    # [doctor, specialty] when consent was declined: a change of mind ("ладно, согласен") resumes that booking.
    declined_service: list[str] = field(default_factory=list)
    greeted: bool = False
    history: list[list[str]] = field(default_factory=list)  # [who, text], the recent turns
    lead_id: str = ""  # the ID of this request's row if it was already recorded unconfirmed
    leads: list[str] = field(default_factory=list)  # IDs of the confirmed requests of this conversation
    # The last confirmed lead's row (sheets.schema.Lead.to_row): a change the patient makes afterwards
    # rewrites that row instead of starting a second one.
    last_lead: list[str] = field(default_factory=list)
    phone_attempts: int = 0
    misunderstood: int = 0
    # The no-loop rule (bot.dialogue.flow): how often each wording of a question was sent in this booking,
    # and the unusable answers in a row to the slot asked.
    asked: dict[str, int] = field(default_factory=dict)
    miss_slot: str = ""
    misses: int = 0
    handoff_noted_at: str = ""  # when a handed-off patient was last told when to expect the administrator
    # timers of "nothing is lost" (ISO times, UTC)
    last_patient_at: str = ""
    followup_sent: bool = False
    unconfirmed_recorded: bool = False
    unconfirmed_at: str = ""  # when that row was last written; a later silence refreshes it
    closed: bool = False  # said goodbye or declined: no reminders
    handoff_since: str = ""
    tokens_used: int = 0
    profile_name: str = ""
    safety: str = ""  # the emergency category last advised on (bot.dialogue.safety)
    safety_hold: bool = False  # advised: the booking waits until the patient brings it up again
    # The revision of the stored row this state was read at (bot.storage.state_store): a fact of the
    # database, not of the conversation, so it is not in the JSON and not compared.
    revision: int = field(default=0, compare=False, repr=False, metadata={"stored": False})

    HISTORY_LIMIT = 20

    def remember(self, who: str, text: str) -> None:
        if text:
            self.history.append([who, text[:500]])
            del self.history[: -self.HISTORY_LIMIT]

    def reset_booking(self) -> None:
        self.stage = Stage.IDLE
        self.awaiting = ""
        personal = {k: v for k, v in self.booking.details.items() if k in ("surname", "phone2")}
        self.booking = Booking(name=self.booking.name, phone=self.booking.phone, details=personal)
        self.choices = []
        self.offered = []
        self.lead_id = ""
        self.phone_attempts = 0
        self.asked = {}
        self.miss_slot, self.misses = "", 0
        self.followup_sent = False
        self.unconfirmed_recorded = False

    def forget_personal_data(self) -> None:
        self.booking = Booking()
        self.last_lead = []
        self.history = []
        self.lead_id = ""
        self.profile_name = ""

    def to_json(self) -> str:
        # Built by hand: dataclasses.asdict deep-copies every list and was a tenth of a message's CPU time.
        data = _plain(self)
        data["booking"] = _plain(self.booking)
        data["consent"] = _plain(self.consent)
        return json.dumps(data, ensure_ascii=False, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str | None) -> ConversationState:
        if not text:
            return cls()
        data: dict[str, Any] = json.loads(text)
        values = _known(cls, data)  # fields a newer or older version wrote are ignored
        values["booking"] = Booking(**_known(Booking, data.get("booking", {})))
        values["consent"] = Consent(**_known(Consent, data.get("consent", {})))
        return cls(**values)


_FIELDS: dict[type, tuple[str, ...]] = {
    cls: tuple(f.name for f in fields(cls) if f.metadata.get("stored", True))
    for cls in (ConversationState, Booking, Consent)
}


def _plain(obj: ConversationState | Booking | Consent) -> dict[str, Any]:
    """The fields of one of the state's dataclasses as a dict (shallow: lists are shared, not copied)."""
    return {name: getattr(obj, name) for name in _FIELDS[type(obj)]}


def _known(cls: type, data: dict[str, Any]) -> dict[str, Any]:
    names = _FIELD_SETS[cls]
    return {k: v for k, v in data.items() if k in names}


_FIELD_SETS: dict[type, frozenset[str]] = {cls: frozenset(names) for cls, names in _FIELDS.items()}
