"""The core's `Outgoing` as MAX messages: plain text under 4,000 characters and an inline keyboard.

Options become `callback` buttons, one a row (two a row past 30 rows, the platform's limit), numbered
lines beyond what a keyboard holds; `request_contact` adds the platform's "share my phone" button. The
keyboard goes with the last piece of a long text.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from bot.channels.whatsapp.render import split_text
from bot.dialogue.messages import Button, Outgoing

__all__ = ["SHARE_PHONE", "TEXT_LIMIT", "MaxMessage", "keyboard", "render"]

TEXT_LIMIT = 4000
MAX_ROWS = 30
PER_ROW = 7
BUTTON_TEXT = 128
SHARE_PHONE = "📱 Отправить мой номер"
EMPTY_BODY = "Выберите, пожалуйста:"
NUMBERED_HINT = "Ответьте цифрой или названием."


@dataclass(frozen=True, slots=True)
class MaxMessage:
    text: str
    attachments: tuple[dict[str, Any], ...] = field(default=())


def _label(text: str) -> str:
    return text if len(text) <= BUTTON_TEXT else text[: BUTTON_TEXT - 1].rstrip() + "…"


def _rows(buttons: Sequence[Button]) -> list[list[dict[str, Any]]]:
    per_row = 1 if len(buttons) <= MAX_ROWS - 1 else 2
    cells = [{"type": "callback", "text": _label(b.label), "payload": b.data} for b in buttons]
    return [cells[i : i + per_row] for i in range(0, len(cells), per_row)]


def keyboard(buttons: Sequence[Button], *, request_contact: bool = False) -> dict[str, Any] | None:
    """The `inline_keyboard` attachment, or None when there is nothing to press."""
    rows = _rows(buttons)
    if request_contact:
        rows.insert(0, [{"type": "request_contact", "text": SHARE_PHONE}])
    if not rows:
        return None
    return {"type": "inline_keyboard", "payload": {"buttons": rows}}


def render(message: Outgoing) -> list[MaxMessage]:
    """The messages to send, in order."""
    buttons = message.buttons
    text = message.text
    if len(buttons) > 2 * (MAX_ROWS - 1):
        lines = "\n".join(f"{n}. {b.label}" for n, b in enumerate(buttons, start=1))
        text = f"{text}\n\n{lines}\n{NUMBERED_HINT}".strip()
        buttons = ()
    pieces = split_text(text, TEXT_LIMIT)
    markup = keyboard(buttons, request_contact=message.request_contact)
    if markup is None:
        return [MaxMessage(piece) for piece in pieces]
    if not pieces:
        pieces = [EMPTY_BODY]
    return [*(MaxMessage(piece) for piece in pieces[:-1]), MaxMessage(pieces[-1], (markup,))]
