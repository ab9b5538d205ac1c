"""The polite answer a channel gives when something broke while answering (the same in every channel)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.bootstrap import App

FALLBACK = "Извините, у меня техническая заминка. Напишите, пожалуйста, ещё раз через минуту или позвоните нам: {phone}."


def apology(app: App) -> str:
    """`technical_error` of prompts/replies.toml, with the clinic's phone; usable even when knowledge broke."""
    try:
        phone = app.knowledge().clinic.phone
    except Exception:  # the knowledge itself may be what broke
        phone = ""
    if app.texts.has("technical_error"):
        return app.texts.get("technical_error", phone=phone)
    return FALLBACK.format(phone=phone).replace(": .", ".")
