"""MAX updates turned into the core's `Incoming`, with who wrote and where to answer.

Tolerant by design: a field MAX leaves out or a type we do not know never raises; it becomes an
"unsupported" message (answered politely) or is skipped.

By update type: `message_created` in a dialog (text; a `contact` attachment gives its phone like a typed
one; photos, voice, files, stickers, locations: unsupported), `message_callback` (an inline button was
pressed: its payload is the core's button data, its label the text), `bot_started` (the patient opened
the bot: the greeting). Messages in group chats, from bots, and every other update type are skipped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from bot.dialogue.messages import Incoming

__all__ = ["UPDATE_TYPES", "InboundUpdate", "contact_of", "parse_update", "update_key"]

UPDATE_TYPES = ("message_created", "message_callback", "bot_started")
UNSUPPORTED_NAMES = {
    "image": "photo",
    "video": "video",
    "audio": "voice",
    "file": "document",
    "sticker": "sticker",
    "location": "location",
}
_TEL = re.compile(r"^TEL[^:]*:(.+)$", re.IGNORECASE | re.MULTILINE)


@dataclass(frozen=True, slots=True)
class InboundUpdate:
    """One update worth an answer."""

    key: str  # unique per update: the inbox's and the conversation's receipt
    kind: str  # message | callback | started
    user_id: str
    chat_id: str
    contact: str  # the lead's `Контакт`: the user's name and @username or id
    incoming: Incoming
    callback_id: str = ""
    message_text: str = ""  # the pressed keyboard's message text (kept, its buttons taken away)
    message_mid: str = ""  # the pressed keyboard's message
    timestamp: datetime | None = None


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _timestamp(value: Any) -> datetime | None:
    """MAX counts milliseconds since the epoch."""
    try:
        return datetime.fromtimestamp(int(str(value)) / 1000, UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        return None


def _name(user: dict[str, Any]) -> str:
    first, last = str(user.get("first_name") or ""), str(user.get("last_name") or "")
    return " ".join(p for p in (first, last) if p) or str(user.get("name") or "")


def contact_of(user: dict[str, Any]) -> str:
    """How an administrator finds the patient in MAX: `Ольга Петрова (@olga)` or `Ольга (id 123)`."""
    name, username, user_id = _name(user), str(user.get("username") or ""), str(user.get("user_id") or "")
    handle = f"@{username}" if username else f"id {user_id}"
    return f"{name} ({handle})" if name else handle


def _phone_from_vcf(vcf: str) -> str | None:
    match = _TEL.search(vcf.replace("\r\n", "\n"))
    if not match:
        return None
    phone = match.group(1).strip()
    digits = "".join(ch for ch in phone if ch.isdigit())
    if not digits:
        return None
    if not phone.startswith("+") and not digits.startswith("8"):
        phone = "+" + digits  # MAX writes the number without the plus (79123456789)
    return phone


def _incoming(body: dict[str, Any], profile: str | None) -> Incoming:
    text = str(body.get("text") or "")
    for raw in _list(body.get("attachments")):
        attachment = _dict(raw)
        kind = str(attachment.get("type") or "")
        if kind == "contact":
            payload = _dict(attachment.get("payload"))
            phone = _phone_from_vcf(str(payload.get("vcf_info") or ""))
            if phone is None:
                phone = str(_dict(payload.get("tam_info")).get("phone") or "") or None
            if phone:
                return Incoming(text=phone, contact_phone=phone, profile_name=profile)
            return Incoming(unsupported="contact", profile_name=profile)
        if kind in UNSUPPORTED_NAMES and not text:
            return Incoming(unsupported=UNSUPPORTED_NAMES[kind], profile_name=profile)
    if not text:
        return Incoming(unsupported="message", profile_name=profile)
    return Incoming(text=text, profile_name=profile)


def _label(message: dict[str, Any], payload: str) -> str:
    """The pressed button's label, from the keyboard of the message it belongs to."""
    for raw in _list(_dict(message.get("body")).get("attachments")):
        attachment = _dict(raw)
        if attachment.get("type") != "inline_keyboard":
            continue
        for row in _list(_dict(attachment.get("payload")).get("buttons")):
            for button in _list(row):
                if _dict(button).get("payload") == payload:
                    return str(_dict(button).get("text") or "")
    return ""


def update_key(update: dict[str, Any]) -> str:
    """A stable id of the update, the same when MAX delivers it again ('' when it has none)."""
    kind = update.get("update_type")
    if kind == "message_created":
        mid = _dict(_dict(update.get("message")).get("body")).get("mid")
        return f"max:{mid}" if mid else ""
    if kind == "message_callback":
        callback_id = _dict(update.get("callback")).get("callback_id")
        return f"max:cb:{callback_id}" if callback_id else ""
    if kind == "bot_started":
        chat_id = update.get("chat_id")
        return f"max:start:{chat_id}:{update.get('timestamp')}" if chat_id else ""
    return ""


def parse_update(update: dict[str, Any]) -> InboundUpdate | None:
    """The update as the core sees it; None for the ones that need no answer."""
    key = update_key(update)
    if not key:
        return None
    kind = update.get("update_type")
    timestamp = _timestamp(update.get("timestamp"))
    if kind == "message_created":
        message = _dict(update.get("message"))
        sender, recipient = _dict(message.get("sender")), _dict(message.get("recipient"))
        if sender.get("is_bot") or recipient.get("chat_type", "dialog") != "dialog":
            return None
        user_id, chat_id = sender.get("user_id"), recipient.get("chat_id")
        if user_id is None or chat_id is None:
            return None
        profile = str(sender.get("first_name") or sender.get("name") or "") or None
        return InboundUpdate(
            key=key,
            kind="message",
            user_id=str(user_id),
            chat_id=str(chat_id),
            contact=contact_of(sender),
            incoming=_incoming(_dict(message.get("body")), profile),
            timestamp=_timestamp(message.get("timestamp")) or timestamp,
        )
    if kind == "message_callback":
        callback, message = _dict(update.get("callback")), _dict(update.get("message"))
        user, recipient = _dict(callback.get("user")), _dict(message.get("recipient"))
        if recipient.get("chat_type", "dialog") != "dialog":
            return None
        user_id, chat_id = user.get("user_id"), recipient.get("chat_id") or update.get("chat_id")
        payload = str(callback.get("payload") or "")
        if user_id is None or chat_id is None or not payload:
            return None
        label = _label(message, payload)
        return InboundUpdate(
            key=key,
            kind="callback",
            user_id=str(user_id),
            chat_id=str(chat_id),
            contact=contact_of(user),
            incoming=Incoming(
                text=label, button=payload, profile_name=str(user.get("first_name") or "") or None
            ),
            callback_id=str(callback.get("callback_id")),
            message_text=str(_dict(message.get("body")).get("text") or ""),
            message_mid=str(_dict(message.get("body")).get("mid") or ""),
            timestamp=_timestamp(callback.get("timestamp")) or timestamp,
        )
    if kind == "bot_started":
        user = _dict(update.get("user"))
        if user.get("user_id") is None:
            return None
        return InboundUpdate(
            key=key,
            kind="started",
            user_id=str(user["user_id"]),
            chat_id=str(update.get("chat_id")),
            contact=contact_of(user),
            incoming=Incoming(text="Здравствуйте", profile_name=str(user.get("first_name") or "") or None),
            timestamp=timestamp,
        )
    return None
