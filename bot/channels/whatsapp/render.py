"""The core's `Outgoing` as WhatsApp message objects, within the Cloud API's limits.

Options become reply buttons (at most 3, titles at most 20 characters), else a list (at most 10 rows,
titles 24, descriptions 72), else numbered lines the patient answers with a number or the label. Text is
split under 4,096 characters (1,024 for an interactive message's body).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bot.dialogue.messages import Button, Outgoing

__all__ = ["render", "split_text"]

TEXT_LIMIT = 4096
BODY_LIMIT = 1024
MAX_BUTTONS = 3
BUTTON_TITLE = 20
MAX_ROWS = 10
ROW_TITLE = 24
ROW_DESCRIPTION = 72
LIST_BUTTON = "Выбрать"
EMPTY_BODY = "Выберите, пожалуйста:"
NUMBERED_HINT = "Ответьте цифрой или названием."

_BREAKS = ("\n\n", "\n", ". ", "! ", "? ", "; ", ", ", " ")


def _cut(text: str, limit: int) -> int:
    """Where to cut `text` so the first part fits `limit`: the last paragraph, sentence or word break."""
    for mark in _BREAKS:
        at = text.rfind(mark, 0, limit)
        if at > limit // 3:
            return at + len(mark)
    return limit


def split_text(text: str, limit: int = TEXT_LIMIT) -> list[str]:
    """Pieces of at most `limit` characters, cut at natural breaks; no empty pieces."""
    pieces: list[str] = []
    rest = text.strip()
    while len(rest) > limit:
        at = _cut(rest, limit)
        piece = rest[:at].rstrip()
        if piece:
            pieces.append(piece)
        rest = rest[at:].lstrip()
    if rest:
        pieces.append(rest)
    return pieces


def _split_for_body(text: str) -> tuple[list[str], str]:
    """Plain-text messages to send first, and the last part (at most 1,024) for the interactive body."""
    pieces = split_text(text, TEXT_LIMIT)
    if not pieces:
        return [], EMPTY_BODY
    last = pieces.pop()
    if len(last) > BODY_LIMIT:
        tail = split_text(last, BODY_LIMIT)
        body = tail.pop()
        pieces.extend(split_text("\n".join(tail), TEXT_LIMIT))
        return pieces, body
    return pieces, last


def _text(body: str) -> dict[str, Any]:
    return {"type": "text", "text": {"body": body, "preview_url": "http" in body}}


def _buttons(body: str, buttons: Sequence[Button]) -> dict[str, Any]:
    return {
        "type": "interactive",
        "interactive": {
            "type": "button",
            "body": {"text": body},
            "action": {
                "buttons": [{"type": "reply", "reply": {"id": b.data, "title": b.label}} for b in buttons]
            },
        },
    }


def _row(button: Button) -> dict[str, str]:
    if len(button.label) <= ROW_TITLE:
        return {"id": button.data, "title": button.label}
    title = button.label[: ROW_TITLE - 1].rstrip() + "…"
    return {"id": button.data, "title": title, "description": button.label[:ROW_DESCRIPTION]}


def _list(body: str, buttons: Sequence[Button]) -> dict[str, Any]:
    return {
        "type": "interactive",
        "interactive": {
            "type": "list",
            "body": {"text": body},
            "action": {"button": LIST_BUTTON, "sections": [{"rows": [_row(b) for b in buttons]}]},
        },
    }


def render(message: Outgoing) -> list[dict[str, Any]]:
    """The message objects (`type` and its body) to send, in order."""
    buttons = message.buttons
    if not buttons:
        return [_text(piece) for piece in split_text(message.text)]
    if len(buttons) > MAX_ROWS:
        lines = "\n".join(f"{n}. {b.label}" for n, b in enumerate(buttons, start=1))
        text = f"{message.text}\n\n{lines}\n{NUMBERED_HINT}".strip()
        return [_text(piece) for piece in split_text(text)]
    before, body = _split_for_body(message.text)
    fits_buttons = len(buttons) <= MAX_BUTTONS and all(len(b.label) <= BUTTON_TITLE for b in buttons)
    interactive = _buttons(body, buttons) if fits_buttons else _list(body, buttons)
    return [*(_text(piece) for piece in before), interactive]
