"""What goes into the dialogue core and what comes out of it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sheets.schema import Lead


@dataclass(frozen=True, slots=True)
class Button:
    """A choice offered to the patient; `data` comes back in `Incoming.button` when pressed."""

    label: str
    data: str


@dataclass(frozen=True, slots=True)
class Incoming:
    """One message from a patient: text, a pressed button's data, or a shared contact's phone."""

    text: str = ""
    button: str | None = None
    contact_phone: str | None = None
    unsupported: str | None = None  # "voice", "photo", "sticker"... something we cannot read
    profile_name: str | None = None  # the channel's display name: a hint, never taken without asking
    # The channel's ids of the messages this answers (merged quick messages have several), committed with
    # the turn so that a message replayed after a crash is not decided a second time.
    receipts: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Outgoing:
    text: str
    buttons: tuple[Button, ...] = ()
    request_contact: bool = False  # offer the channel's "share my phone" button when it has one


def outgoing_to_plain(messages: Sequence[Outgoing]) -> list[dict[str, Any]]:
    """Replies as JSON-ready dicts (kept in the WhatsApp inbox, passed to a Telegram worker process)."""
    return [
        {"text": m.text, "buttons": [[b.label, b.data] for b in m.buttons], "contact": m.request_contact}
        for m in messages
    ]


def outgoing_from_plain(raw: Sequence[dict[str, Any]]) -> tuple[Outgoing, ...]:
    """The replies `outgoing_to_plain` wrote."""
    return tuple(
        Outgoing(
            str(m["text"]),
            tuple(Button(str(label), str(data)) for label, data in m.get("buttons", [])),
            bool(m.get("contact", False)),
        )
        for m in raw
    )


@dataclass(frozen=True, slots=True)
class Address:
    """Who the conversation is with: the channel, the user id there, and how an administrator reaches them."""

    channel: str
    user_id: str
    contact: str = ""

    @property
    def key(self) -> str:
        return f"{self.channel}:{self.user_id}"


# Effects: what the core asks the service to do after the state is saved.
@dataclass(frozen=True, slots=True)
class StoreLead:
    """Record the lead (new, or a completed/updated one with the same ID) and tell administrators."""

    lead: Lead
    update: bool = False


@dataclass(frozen=True, slots=True)
class HandoffRequested:
    """The patient asked for a person (or, `urgent`, said something that may be an emergency):
    administrators get the recent messages."""

    reason: str
    recent: tuple[str, ...] = ()
    urgent: bool = False


@dataclass(frozen=True, slots=True)
class RelayToAdmins:
    """A patient's message while an administrator is handling the conversation."""

    text: str


@dataclass(frozen=True, slots=True)
class ForgetPersonalData:
    """The patient declined consent or withdrew it: nothing personal is kept."""


Effect = StoreLead | HandoffRequested | RelayToAdmins | ForgetPersonalData


@dataclass(slots=True)
class Step:
    """The core's answer to one incoming message."""

    replies: list[Outgoing] = field(default_factory=list)
    effects: list[Effect] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    prefix: str = ""  # said at the very start of the reply ("Здравствуйте!")

    def note(self, text: str) -> None:
        """A short remark said at the start of the next message ("Хорошо, ЛОР.")."""
        if text:
            self.notes.append(text)

    def say(self, text: str, buttons: tuple[Button, ...] = (), request_contact: bool = False) -> None:
        if self.notes:
            text = " ".join([*self.notes, text])
            self.notes.clear()
        self.replies.append(Outgoing(text, buttons, request_contact))

    def answer(self, text: str) -> None:
        """An answer to a question: said before any pending note about the booking."""
        self.replies.append(Outgoing(text))

    def finish(self) -> None:
        if self.notes:
            self.say("")
        if self.prefix and self.replies:
            first = self.replies[0]
            self.replies[0] = Outgoing(
                f"{self.prefix} {first.text}".strip(), first.buttons, first.request_contact
            )
            self.prefix = ""
