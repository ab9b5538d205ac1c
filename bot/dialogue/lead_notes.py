"""The lead's `Комментарий`: the request in a few words plus what the administrator needs to call back well
(a home visit, a bedridden patient, an age, the day asked for, urgency, a second phone, the surname)."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import phonenumbers

from bot.dialogue.state import Booking
from bot.knowledge.models import ClinicFacts

WEEKDAY_NOM = ("понедельник", "вторник", "среда", "четверг", "пятница", "суббота", "воскресенье")
WEEKDAY_ACC = (
    "в понедельник",
    "во вторник",
    "в среду",
    "в четверг",
    "в пятницу",
    "в субботу",
    "в воскресенье",
)
# The order the details are written in, and how.
DETAIL_KEYS = ("home", "bedridden", "age", "urgent", "day", "phone2", "surname", "handoff", "fixed")
HANDOFF_NOTE = "попросил(а) администратора до подтверждения"
COMMENT_LIMIT = 300


def pretty_phone(e164: str) -> str:
    try:
        return phonenumbers.format_number(
            phonenumbers.parse(e164), phonenumbers.PhoneNumberFormat.INTERNATIONAL
        )
    except phonenumbers.NumberParseException:
        return e164


def detail_phrase(key: str, value: str) -> str:
    """One detail as the administrator reads it in the comment."""
    if key == "home":
        return "вызов врача на дом"
    if key == "bedridden":
        return "пациент не встаёт (лежачий)"
    if key == "urgent":
        return "срочно"
    if key == "day":
        return f"желаемый день: {value}"
    if key == "phone2":
        return f"доп. телефон {pretty_phone(value)}"
    if key == "surname":
        return f"фамилия пациента: {value}"
    if key == "handoff":
        return HANDOFF_NOTE
    if key == "fixed":
        return f"исправлено пациентом после подтверждения: {value}"
    return value


def details_line(booking: Booking) -> str:
    """The details as the summary's last line ("\n• Для администратора: ..."), or '' when there are none."""
    shown = [k for k in DETAIL_KEYS if k not in ("handoff", "fixed")]
    said = [detail_phrase(k, booking.details[k]) for k in shown if booking.details.get(k)]
    return f"\n• Для администратора: {'; '.join(said)}" if said else ""


def compose_comment(booking: Booking) -> str:
    parts = [booking.comment or booking.specialty]
    # emergency signs already put «срочно» first (bot.dialogue.safety): not a second time
    keys = [k for k in DETAIL_KEYS if not (k == "urgent" and booking.urgent)]
    parts += [detail_phrase(k, booking.details[k]) for k in keys if booking.details.get(k)]
    text = "; ".join(p for p in parts if p)
    return text if len(text) <= COMMENT_LIMIT else text[: COMMENT_LIMIT - 1] + "…"


def resolve_day(code: str, local: datetime) -> date | None:
    """ "wd:5" (the nearest Saturday, today included), "rel:1" (tomorrow), "date:28.11" (the nearest ahead)."""
    kind, _, value = code.partition(":")
    today = local.date()
    try:
        if kind == "wd":
            return today + timedelta(days=(int(value) - today.weekday()) % 7)
        if kind == "rel":
            return today + timedelta(days=int(value))
        if kind == "date":
            day, month = (int(p) for p in value.split("."))
            found = date(today.year, month, day)
            return found if found >= today else date(today.year + 1, month, day)
    except ValueError:
        return None
    return None


def day_note(code: str, local: datetime, clinic: ClinicFacts) -> tuple[str, str]:
    """(the comment's words for the day, the day in words for the patient when the clinic is closed then)."""
    day = resolve_day(code, local)
    if day is None:
        return "", ""
    offset = (day - local.date()).days
    label = {0: "сегодня, ", 1: "завтра, "}.get(offset, "")
    words = f"{label}{WEEKDAY_NOM[day.weekday()]}, {day:%d.%m}"
    if clinic.hours.open_on(day.weekday()) is not None:
        return words, ""
    when = WEEKDAY_ACC[day.weekday()] if offset > 1 else {0: "сегодня", 1: "завтра"}[offset]
    return f"{words} (клиника не работает)", when
