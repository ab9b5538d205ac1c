"""The timer rules as a pure function: when the reminder and the unconfirmed record fall due."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.dialogue.state import Booking, Consent, ConversationState, Slot, Stage
from bot.scheduler import TimerRules, format_due

SAMARA = ZoneInfo("Europe/Samara")  # UTC+4
RULES = TimerRules(timedelta(minutes=30), timedelta(hours=2), (time(21, 0), time(9, 0)), SAMARA)


def at(hour: int, minute: int = 0, day: int = 23) -> datetime:
    """A moment in clinic time, as UTC."""
    return datetime(2026, 11, day, hour, minute, tzinfo=SAMARA).astimezone(UTC)


def booking_state(
    last: datetime, *, phone: str = "", consent: bool = False, **kw: object
) -> ConversationState:
    state = ConversationState(
        stage=Stage.BOOKING,
        awaiting=Slot.PHONE,
        booking=Booking(specialty="ЛОР", name="Мария", phone=phone),
        consent=Consent(given_at="2026-11-23T06:00:00+00:00") if consent else Consent(),
        last_patient_at=format_due(last),
    )
    if kw.pop("declined", False):
        state.consent = Consent(declined_at="2026-11-23T06:00:00+00:00")
    for key, value in kw.items():
        setattr(state, key, value)
    return state


def test_reminder_after_the_followup_delay() -> None:
    last = at(10)
    assert RULES.due_at(booking_state(last), last) == format_due(at(10, 30))


def test_evening_silence_is_reminded_at_nine_next_morning() -> None:
    last = at(20, 45)
    assert RULES.due_at(booking_state(last), last) == format_due(at(9, 0, day=24))


def test_after_midnight_silence_is_reminded_the_same_morning() -> None:
    last = at(2, 0)
    assert RULES.due_at(booking_state(last), last) == format_due(at(9, 0))


def test_overdue_reminder_found_in_quiet_hours_moves_to_the_morning() -> None:
    last = at(20, 0)
    state = booking_state(last)
    assert RULES.due_at(state, last) == format_due(at(20, 30))
    assert RULES.due_at(state, at(22, 0)) == format_due(at(9, 0, day=24))


def test_no_quiet_hours_when_empty() -> None:
    rules = TimerRules(timedelta(minutes=30), timedelta(hours=2), None, SAMARA)
    last = at(23, 0)
    assert rules.due_at(booking_state(last), last) == format_due(at(23, 30))


def test_daytime_quiet_hours_range() -> None:
    rules = TimerRules(timedelta(minutes=30), timedelta(hours=2), (time(13, 0), time(14, 0)), SAMARA)
    last = at(12, 45)
    assert rules.due_at(booking_state(last), last) == format_due(at(14, 0))


def test_valid_phone_and_consent_add_the_unconfirmed_timer_after_the_reminder() -> None:
    last = at(10)
    state = booking_state(last, phone="+79123456789", consent=True)
    assert RULES.due_at(state, last) == format_due(at(10, 30))
    state.followup_sent = True
    assert RULES.due_at(state, at(10, 30)) == format_due(at(12, 0))
    state.unconfirmed_recorded = True
    assert RULES.due_at(state, at(12, 0)) == ""


def test_unconfirmed_record_is_not_postponed_by_quiet_hours() -> None:
    last = at(20, 30)
    state = booking_state(last, phone="+79123456789", consent=True)
    assert RULES.due_at(state, last) == format_due(at(22, 30))  # the record; the reminder waits for 09:00
    state.unconfirmed_recorded = True
    assert RULES.due_at(state, at(22, 30)) == format_due(at(9, 0, day=24))


@pytest.mark.parametrize(
    "phone, consent",
    [("", True), ("+7912", True), ("+79123456789", False), ("89123456789", True)],
)
def test_no_unconfirmed_record_without_valid_phone_and_consent(phone: str, consent: bool) -> None:
    last = at(10)
    state = booking_state(last, phone=phone, consent=consent, followup_sent=True)
    assert RULES.due_at(state, last) == ""


@pytest.mark.parametrize(
    "change",
    [
        {"closed": True},
        {"stage": Stage.IDLE},
        {"stage": Stage.HANDOFF},
        {"followup_sent": True},
        {"declined": True},
        {"last_patient_at": ""},
    ],
)
def test_no_reminder_when_closed_idle_handed_off_declined_or_already_sent(change: dict[str, object]) -> None:
    last = at(10)
    assert RULES.due_at(booking_state(last, **change), last) == ""


def test_no_reminder_a_day_late() -> None:
    rules = TimerRules(timedelta(hours=30), timedelta(hours=48), None, SAMARA)
    last = at(10)
    assert rules.due_at(booking_state(last), last) == ""


def test_due_times_compare_as_text_with_the_service_times() -> None:
    last = at(10)
    due = RULES.due_at(booking_state(last), last)
    assert due.endswith("+00:00") and len(due) == len("2026-11-23T06:30:00.000+00:00")
    assert format_due(at(10, 29)) < due <= format_due(at(10, 30))


def test_a_patient_writing_after_the_record_gets_it_refreshed_after_a_new_silence() -> None:
    state = booking_state(at(13), phone="+79123456789", consent=True, followup_sent=True)
    state.unconfirmed_recorded, state.lead_id, state.unconfirmed_at = True, "ABCD2345", format_due(at(12))
    assert RULES.due_at(state, at(13)) == format_due(at(15))
    state.unconfirmed_at = format_due(at(15))
    assert RULES.due_at(state, at(15)) == ""
