"""Meta's webhook payloads turned into the core's `Incoming` (messages) and delivery reports (statuses).

Tolerant by design: a field Meta leaves out or a type we do not know never raises; it becomes an
"unsupported" message (answered politely) or is skipped.

By type: `text`; `interactive` (the patient pressed a reply button or a list row: its id is the core's
button data); `button` (a template's quick reply: its text); `contacts` (the first phone of the shared
card, else unsupported); `audio`, `image`, `video`, `document`, `sticker`, `location`, `order`,
`unsupported` and any type not known here: unsupported, answered with the "text only, or call us" line;
`reaction`, `system` (e.g. the patient changed number), `ephemeral`, `request_welcome`: skipped quietly.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from bot.dialogue.messages import Incoming

__all__ = ["InboundMessage", "StatusError", "StatusUpdate", "parse_webhook"]

# Message types the bot cannot read, as the core names them in its history.
UNSUPPORTED_NAMES = {
    "image": "photo",
    "video": "video",
    "document": "document",
    "sticker": "sticker",
    "location": "location",
    "order": "order",
    "unsupported": "unsupported",
}
# Not messages a patient expects an answer to.
IGNORED_TYPES = frozenset({"reaction", "system", "ephemeral", "request_welcome"})


@dataclass(frozen=True, slots=True)
class InboundMessage:
    wa_id: str
    message_id: str
    phone_number_id: str
    type: str
    incoming: Incoming
    timestamp: datetime | None = None


@dataclass(frozen=True, slots=True)
class StatusError:
    code: int
    title: str
    details: str = ""


@dataclass(frozen=True, slots=True)
class StatusUpdate:
    message_id: str
    status: str  # sent | delivered | read | failed | deleted
    recipient: str
    phone_number_id: str
    errors: tuple[StatusError, ...] = field(default=())
    timestamp: datetime | None = None


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


def _timestamp(value: Any) -> datetime | None:
    try:
        return datetime.fromtimestamp(int(str(value)), UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        return None


def _incoming(message: dict[str, Any], profile_name: str | None) -> Incoming | None:
    """The message as the core sees it; None for messages that need no answer (reactions...)."""
    kind = str(message.get("type", ""))
    if kind == "text":
        return Incoming(text=str(_dict(message.get("text")).get("body", "")), profile_name=profile_name)
    if kind == "interactive":
        interactive = _dict(message.get("interactive"))
        reply = _dict(interactive.get("button_reply") or interactive.get("list_reply"))
        if reply.get("id"):
            return Incoming(
                text=str(reply.get("title", "")), button=str(reply["id"]), profile_name=profile_name
            )
        if reply.get("title"):  # a reply without its id: the title is what the patient chose
            return Incoming(text=str(reply["title"]), profile_name=profile_name)
        return Incoming(unsupported="interactive", profile_name=profile_name)  # a Flow's form, say
    if kind == "button":  # a template's quick-reply button: its text is what the patient said
        return Incoming(text=str(_dict(message.get("button")).get("text", "")), profile_name=profile_name)
    if kind == "contacts":
        for card in _list(message.get("contacts")):
            for phone in _list(_dict(card).get("phones")):
                number = _dict(phone).get("phone") or _dict(phone).get("wa_id")
                if number:
                    return Incoming(contact_phone=str(number), profile_name=profile_name)
        return Incoming(unsupported="contact", profile_name=profile_name)
    if kind in IGNORED_TYPES:
        return None
    if kind == "audio":
        voice = bool(_dict(message.get("audio")).get("voice"))
        return Incoming(unsupported="voice" if voice else "audio", profile_name=profile_name)
    return Incoming(unsupported=UNSUPPORTED_NAMES.get(kind, kind or "unsupported"), profile_name=profile_name)


def parse_webhook(payload: Any) -> tuple[list[InboundMessage], list[StatusUpdate]]:
    """Every patient message and every status report in one webhook delivery, in the order sent."""
    messages: list[InboundMessage] = []
    statuses: list[StatusUpdate] = []
    body = _dict(payload)
    if body.get("object") != "whatsapp_business_account":
        return messages, statuses
    for entry in _list(body.get("entry")):
        for change in _list(_dict(entry).get("changes")):
            change = _dict(change)
            if change.get("field", "messages") != "messages":
                continue
            value = _dict(change.get("value"))
            phone_number_id = str(_dict(value.get("metadata")).get("phone_number_id", ""))
            names = {
                str(_dict(c).get("wa_id", "")): str(_dict(_dict(c).get("profile")).get("name", "")) or None
                for c in _list(value.get("contacts"))
            }
            for raw in _list(value.get("messages")):
                message = _dict(raw)
                sender, message_id = str(message.get("from", "")), str(message.get("id", ""))
                if not sender or not message_id:
                    continue
                incoming = _incoming(message, names.get(sender))
                if incoming is None:
                    continue
                messages.append(
                    InboundMessage(
                        wa_id=sender,
                        message_id=message_id,
                        phone_number_id=phone_number_id,
                        type=str(message.get("type", "")),
                        incoming=incoming,
                        timestamp=_timestamp(message.get("timestamp")),
                    )
                )
            for raw in _list(value.get("statuses")):
                status = _dict(raw)
                errors = tuple(
                    StatusError(
                        code=_int(_dict(e).get("code")),
                        title=str(_dict(e).get("title", "") or _dict(e).get("message", "")),
                        details=str(_dict(_dict(e).get("error_data")).get("details", "")),
                    )
                    for e in _list(status.get("errors"))
                )
                statuses.append(
                    StatusUpdate(
                        message_id=str(status.get("id", "")),
                        status=str(status.get("status", "")),
                        recipient=str(status.get("recipient_id", "")),
                        phone_number_id=phone_number_id,
                        errors=errors,
                        timestamp=_timestamp(status.get("timestamp")),
                    )
                )
    return messages, statuses
