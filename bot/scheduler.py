"""Timers of "nothing is lost": one gentle reminder to a silent patient, then the unconfirmed lead.

`TimerRules.due_at(state, now)` is pure: the service stores its answer with the conversation, so the timers
survive restarts. `run_scheduler(app)` is the one loop of `run` that takes the due conversations from the
state store and acts: a reminder through the patient's channel (never in quiet hours, never twice, never
after goodbye, decline or confirmation; WhatsApp only inside its 24-hour window) and, when the patient left a
valid phone with consent and did not confirm, a row with the status «не подтверждена» and an admin alert.
When the patient later confirms, the core reuses `state.lead_id`, so that row is completed, not duplicated
(the service keeps that ID over «начать заново» too: `bot.service.RecordedRow`).
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, time, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

import phonenumbers

from bot.alerts import Alert
from bot.config import Settings
from bot.dialogue.core import lead_of, service_label
from bot.dialogue.messages import Address, Button, Outgoing
from bot.dialogue.state import ConversationState, Slot, Stage
from bot.dialogue.texts import Texts
from bot.errors import StaleState
from bot.knowledge.models import Knowledge
from bot.redact import mask_key
from bot.service import retry_stale
from bot.storage.db import Database
from sheets.schema import Lead, Status, new_lead_id

if TYPE_CHECKING:
    from bot.bootstrap import App

__all__ = ["Tick", "TimerRules", "format_due", "run_scheduler", "tick"]

log = logging.getLogger(__name__)

# A reminder later than this after the patient's last message would be odd (and WhatsApp forbids it).
REMINDER_MAX_AGE = timedelta(hours=24)
WHATSAPP_WINDOW = timedelta(hours=24)


def format_due(moment: datetime) -> str:
    """The stored form of a timer: ISO UTC with milliseconds, comparable as text with the service's times."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds")


def _parse(value: str) -> datetime | None:
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class TimerRules:
    """The pauses and the quiet hours (clinic time) from the settings."""

    followup_delay: timedelta = timedelta(minutes=30)
    unconfirmed_delay: timedelta = timedelta(hours=2)
    quiet_hours: tuple[time, time] | None = (time(21, 0), time(9, 0))
    tz: ZoneInfo = field(default_factory=lambda: ZoneInfo("Europe/Samara"))

    @classmethod
    def from_settings(cls, settings: Settings) -> TimerRules:
        return cls(settings.followup_delay, settings.unconfirmed_delay, settings.quiet_hours, settings.tz)

    # ------------------------------------------------------------------ quiet hours

    def is_quiet(self, moment: datetime) -> bool:
        if not self.quiet_hours:
            return False
        start, end = self.quiet_hours
        local = moment.astimezone(self.tz).time()
        if start == end:
            return False
        if start < end:
            return start <= local < end
        return local >= start or local < end

    def out_of_quiet(self, moment: datetime) -> datetime:
        """The moment itself, or the end of the quiet hours it falls into (the next morning)."""
        if not self.quiet_hours or not self.is_quiet(moment):
            return moment
        end = self.quiet_hours[1]
        local = moment.astimezone(self.tz)
        candidate = datetime.combine(local.date(), end, tzinfo=self.tz)
        if candidate <= local:
            candidate = datetime.combine(local.date() + timedelta(days=1), end, tzinfo=self.tz)
        return candidate.astimezone(UTC)

    # ------------------------------------------------------------------ the rules

    @staticmethod
    def in_progress(state: ConversationState) -> bool:
        """A booking is started and not finished; the patient did not say goodbye or decline."""
        return (
            not state.closed
            and state.stage in (Stage.BOOKING, Stage.CONFIRM)
            and bool(state.last_patient_at)
            and not state.consent.declined_at
        )

    @staticmethod
    def recordable(state: ConversationState) -> bool:
        """A valid phone left with consent: the administrator can call even without the confirmation."""
        return bool(state.consent.given_at) and valid_phone(state.booking.phone)

    def reminder_at(self, state: ConversationState, now: datetime) -> datetime | None:
        last = _parse(state.last_patient_at)
        if last is None or state.followup_sent or not self.in_progress(state):
            return None
        moment = self.out_of_quiet(max(last + self.followup_delay, now))
        return moment if moment - last <= REMINDER_MAX_AGE else None

    def unconfirmed_at(self, state: ConversationState) -> datetime | None:
        """The first record of the silent patient's request, or its refresh after they wrote again."""
        last = _parse(state.last_patient_at)
        if last is None or not self.in_progress(state) or not self.recordable(state):
            return None
        if state.unconfirmed_recorded:
            recorded = _parse(state.unconfirmed_at)
            if not state.lead_id or recorded is None or last <= recorded:
                return None
        return last + self.unconfirmed_delay

    def due_at(self, state: ConversationState, now: datetime) -> str:
        """When this conversation's next timer fires, ISO UTC; '' when nothing is pending."""
        moments = [m for m in (self.reminder_at(state, now), self.unconfirmed_at(state)) if m is not None]
        return format_due(min(moments)) if moments else ""


def valid_phone(e164: str) -> bool:
    if not e164.startswith("+"):
        return False
    try:
        return phonenumbers.is_valid_number(phonenumbers.parse(e164))
    except phonenumbers.NumberParseException:
        return False


# ---------------------------------------------------------------------- what is said and recorded


def reminder_message(state: ConversationState, texts: Texts, knowledge: Knowledge) -> Outgoing:
    """The one gentle reminder, worded for where the booking stopped."""
    b = state.booking
    service = service_label(state, knowledge)
    phone = knowledge.clinic.phone
    name = b.name if state.consent.given_at else ""
    if state.awaiting == Slot.CONFIRM or state.stage == Stage.CONFIRM:
        key = "followup_confirm_named" if name else "followup_confirm"
        buttons = (
            Button(texts.get("btn_confirm"), "confirm:yes"),
            Button(texts.get("btn_fix"), "confirm:fix"),
        )
        return Outgoing(texts.get(key, name=name, service=service, phone=phone), buttons)
    if not service:
        return Outgoing(texts.get("followup_service", phone=phone))
    key = "followup_booking_named" if name else "followup_booking"
    return Outgoing(texts.get(key, name=name, service=service, phone=phone))


def unconfirmed_lead(
    state: ConversationState, address: Address, now: datetime, tz: ZoneInfo, knowledge: Knowledge
) -> Lead:
    """The row of a patient who left a phone and went silent: what is known, status «не подтверждена»."""
    lead_id = state.lead_id or new_lead_id()
    return lead_of(state, address, now.astimezone(tz), knowledge, lead_id, Status.UNCONFIRMED)


def whatsapp_window_open(db: Database, address: Address, state: ConversationState, now: datetime) -> bool:
    """WhatsApp lets a business write freely only within 24 hours of the patient's last message.

    The conversation's own last message decides; when the WhatsApp channel keeps its per-patient record
    (an early close after Graph's 131047 included), that record must agree too."""
    last = _parse(state.last_patient_at)
    if last is None or now - last >= WHATSAPP_WINDOW:
        return False
    try:
        from bot.channels.whatsapp.window import whatsapp_window_open as channel_window_open
    except ImportError:
        return True
    try:
        known = db.query("SELECT COUNT(*) FROM whatsapp_contacts WHERE wa_id = ?", (address.user_id,))
    except sqlite3.OperationalError:  # the WhatsApp channel never ran with this data folder
        return True
    if not known or not int(str(known[0][0])):
        return True
    return channel_window_open(db, address.user_id, now)


# ---------------------------------------------------------------------- the loop


@dataclass(slots=True)
class Tick:
    """What one pass of the scheduler did (for logs and tests)."""

    due: int = 0
    reminders: int = 0
    skipped: int = 0
    unconfirmed: int = 0
    errors: int = 0
    stale: int = 0  # conversations saved by another process at every attempt: left to the next pass
    alerts: int = 0  # administrators' alerts posted late (an outage of the admin chat, a crash)


@dataclass(slots=True)
class _Fired:
    """What one committed pass over a conversation's timers leaves to do: send, tell, count."""

    message: Outgoing | None = None
    outside_window: bool = False  # a WhatsApp reminder not sent: the 24-hour window is closed
    lead: Lead | None = None
    refresh: bool = False
    alerts: list[Alert] = field(default_factory=list)


def _fire(app: App, rules: TimerRules, address: Address, now: datetime, knowledge: Knowledge) -> _Fired:
    """Read the conversation, fire its due timers into it and save; nothing sent yet. A stale save raises
    and writes nothing, so the reminder is sent only by the pass whose save marked it sent."""
    fired = _Fired()
    state = app.store.load(address)  # fresh: the patient may have written since `due` was read
    remind = rules.reminder_at(state, now)
    if remind is not None and remind <= now:
        state.followup_sent = True  # set before sending: a crash loses a reminder, never repeats one
        if address.channel == "whatsapp" and not whatsapp_window_open(app.db, address, state, now):
            fired.outside_window = True
        else:
            fired.message = reminder_message(state, app.texts, knowledge)
            state.remember("bot", fired.message.text)
    record = rules.unconfirmed_at(state)
    fired.refresh = state.unconfirmed_recorded
    if record is not None and record <= now:
        lead = unconfirmed_lead(state, address, now, rules.tz, knowledge)
        # None: nothing new was said, the row stands
        fired.lead = _refreshed(app, lead) if fired.refresh else lead
        state.lead_id = fired.lead.id if fired.lead is not None else state.lead_id
        state.unconfirmed_recorded = True
        state.unconfirmed_at = format_due(now)
    leads = [(fired.lead, fired.refresh)] if fired.lead is not None else []
    alerts = [Alert.about_lead(lead, address.key, updated=refresh) for lead, refresh in leads]
    app.store.save(address, state, format_due(now), leads, due_at=rules.due_at(state, now), alerts=alerts)
    fired.alerts = alerts
    return fired


async def _process(app: App, rules: TimerRules, address: Address, now: datetime, result: Tick) -> None:
    knowledge = app.knowledge()

    async def attempt() -> _Fired:
        return _fire(app, rules, address, now, knowledge)

    async with app.service.conversation_lock(address.key):
        fired = await retry_stale(address.key, attempt)
    if fired.outside_window:
        log.info(
            "напоминание %s пропущено: прошло больше 24 часов с последнего сообщения в WhatsApp",
            mask_key(address.key),
        )
        result.skipped += 1
    lead, refresh = fired.lead, fired.refresh
    if lead is not None:
        result.unconfirmed += 1
        log.info(
            "неподтверждённая заявка %s %s, диалог %s",
            lead.id,
            "обновлена" if refresh else "записана",
            mask_key(address.key),
        )
        await app.service.alerts.post(fired.alerts)
    if fired.message is not None:
        if await app.messengers.send(address, [fired.message]):
            result.reminders += 1
        else:
            result.skipped += 1
            log.info("напоминание %s не доставлено каналом", mask_key(address.key))


def _refreshed(app: App, lead: Lead) -> Lead | None:
    """The row again with what the patient changed since; its time and the administrators' status kept."""
    found = app.store.lead(lead.id)
    if found is None:
        return lead
    stored = found[0]
    fresh = replace(lead, created=stored.created, status=stored.status)
    return None if fresh == stored else fresh


async def tick(
    app: App, rules: TimerRules | None = None, *, limit: int = 100, all_alerts: bool = False
) -> Tick:
    """One pass: act on every conversation whose timer is due now; post the alerts left to post (every one
    with `all_alerts`: the first pass of a run, after a crash)."""
    rules = rules or TimerRules.from_settings(app.settings)
    now = app.clock.now()
    result = Tick()
    due = app.store.due(format_due(now), limit=limit)
    result.due = len(due)
    for stored in due:
        try:
            await _process(app, rules, stored.address, now, result)
        except StaleState:  # nothing was written or sent; its timer is still due, the next pass sees it
            result.stale += 1
            log.info(
                "таймер %s отложен до следующего прохода: диалог всё время менялся",
                mask_key(stored.address.key),
            )
        except Exception:  # one broken conversation must not stop the others' timers
            result.errors += 1
            log.exception("сбой таймера %s", mask_key(stored.address.key))
    if result.unconfirmed:
        await app.service.deliver_leads()  # one push of the outbox for the whole batch
    try:
        result.alerts = await app.service.alerts.retry_due(everything=all_alerts)
    except Exception:  # the timers above must not wait for the admin chat
        log.exception("не удалось отправить отложенные оповещения администраторам")
    return result


async def run_scheduler(app: App, interval: float = 15.0, batch: int = 100) -> None:
    """The scheduler task of `run`: passes every `interval` seconds, forever; a full batch (the morning
    after a busy night) is followed at once by the next, as long as the passes make progress."""
    rules = TimerRules.from_settings(app.settings)
    first = True
    while True:
        try:
            result = await tick(app, rules, limit=batch, all_alerts=first)
            first = False
            while result.due == batch and result.errors + result.stale < batch:
                await asyncio.sleep(0)  # let patients' messages in between batches
                result = await tick(app, rules, limit=batch)
        except Exception:  # the loop must outlive any single failure (a locked database, a bad row)
            log.exception("сбой прохода планировщика")
        await asyncio.sleep(interval)
