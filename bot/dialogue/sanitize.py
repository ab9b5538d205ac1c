"""Whatever a channel delivers becomes text the core, SQLite and the sheets can hold."""

from __future__ import annotations

import re
from dataclasses import replace

from bot.dialogue.messages import Incoming

__all__ = ["MAX_TEXT", "clean_incoming", "clean_text"]

MAX_TEXT = 8000  # twice Telegram's limit: longer is not a patient's message, and it costs LLM tokens
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_SURROGATE = re.compile(r"[\ud800-\udfff]")


def clean_text(text: str | None, limit: int = MAX_TEXT) -> str:
    """Cut to `limit`, drop control characters (tabs and newlines stay), replace lone surrogates with �."""
    if not text:
        return ""
    text = _SURROGATE.sub("\ufffd", text[:limit])
    return _CONTROL.sub("", text)


def clean_incoming(incoming: Incoming) -> Incoming:
    """The same message with every string cleaned; returns the message itself when nothing changes."""
    cleaned = replace(
        incoming,
        text=clean_text(incoming.text),
        button=clean_text(incoming.button, 256) if incoming.button is not None else None,
        contact_phone=clean_text(incoming.contact_phone, 64) if incoming.contact_phone is not None else None,
        unsupported=clean_text(incoming.unsupported, 64) if incoming.unsupported is not None else None,
        profile_name=clean_text(incoming.profile_name, 256) if incoming.profile_name is not None else None,
    )
    return incoming if cleaned == incoming else cleaned
