"""The core's replies as Telegram messages: HTML-escaped text under 4096 characters and the keyboards."""

from __future__ import annotations

import html
from dataclasses import dataclass

from aiogram.types import (
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    KeyboardButton,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
)

from bot.dialogue.messages import Button, Outgoing

__all__ = ["MAX_CALLBACK_BYTES", "MAX_TEXT", "Markup", "RenderedMessage", "escape", "render", "split_text"]

MAX_TEXT = 4096
MAX_CALLBACK_BYTES = 64
SHARE_PHONE = "📱 Отправить мой номер"
Markup = InlineKeyboardMarkup | ReplyKeyboardMarkup | ReplyKeyboardRemove


@dataclass(frozen=True, slots=True)
class RenderedMessage:
    text: str  # HTML, already escaped
    markup: Markup | None = None


def escape(text: str) -> str:
    """Patient and operator text as Telegram HTML: `<`, `>`, `&` can never break the markup."""
    return html.escape(text, quote=False)


def split_text(text: str, limit: int = MAX_TEXT) -> list[str]:
    """Plain text cut into pieces of at most `limit` characters, at paragraph, line or word ends."""
    pieces: list[str] = []
    rest = text.strip()
    while len(rest) > limit:
        cut = -1
        for separator in ("\n\n", "\n", ". ", " "):
            cut = rest.rfind(separator, limit // 2, limit)
            if cut > 0:
                cut += len(separator) if separator != "\n\n" else 0
                break
        if cut <= 0:
            cut = limit
        pieces.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
    if rest:
        pieces.append(rest)
    return pieces


def _escaped_pieces(text: str) -> list[str]:
    """Split before escaping, then make sure each escaped piece still fits (entities lengthen text)."""
    result: list[str] = []
    for piece in split_text(text):
        escaped = escape(piece)
        if len(escaped) <= MAX_TEXT:
            result.append(escaped)
        else:  # many `<` or `&`: split smaller
            result.extend(escape(p) for p in split_text(piece, MAX_TEXT // 5))
    return result


def inline_keyboard(buttons: tuple[Button, ...]) -> InlineKeyboardMarkup:
    """Short labels two per row, long ones alone; data over 64 bytes never reaches Telegram."""
    rows: list[list[InlineKeyboardButton]] = []
    row: list[InlineKeyboardButton] = []
    for button in buttons:
        data = button.data
        if len(data.encode("utf-8")) > MAX_CALLBACK_BYTES:
            data = data.encode("utf-8")[:MAX_CALLBACK_BYTES].decode("utf-8", "ignore")
        item = InlineKeyboardButton(text=button.label[:64], callback_data=data)
        if len(button.label) > 18:
            if row:
                rows.append(row)
                row = []
            rows.append([item])
            continue
        row.append(item)
        if len(row) == 2:
            rows.append(row)
            row = []
    if row:
        rows.append(row)
    return InlineKeyboardMarkup(inline_keyboard=rows)


def contact_keyboard(buttons: tuple[Button, ...] = ()) -> ReplyKeyboardMarkup:
    """The "share my phone" reply keyboard; other choices of that message as plain buttons under it."""
    rows = [[KeyboardButton(text=SHARE_PHONE, request_contact=True)]]
    rows.extend([KeyboardButton(text=b.label)] for b in buttons)
    return ReplyKeyboardMarkup(keyboard=rows, resize_keyboard=True, one_time_keyboard=True)


def render(message: Outgoing, *, contact_keyboard_shown: bool = False) -> list[RenderedMessage]:
    """One core message as one or more Telegram messages; the keyboard rides on the last piece.

    A shown contact keyboard is removed with the next message that does not ask for the phone.
    """
    pieces = _escaped_pieces(message.text) or ["…"]
    markup: Markup | None = None
    if message.request_contact:
        markup = contact_keyboard(message.buttons)
    elif message.buttons:
        markup = inline_keyboard(message.buttons)
    elif contact_keyboard_shown:
        markup = ReplyKeyboardRemove()
    rendered = [RenderedMessage(p) for p in pieces[:-1]]
    rendered.append(RenderedMessage(pieces[-1], markup))
    return rendered
