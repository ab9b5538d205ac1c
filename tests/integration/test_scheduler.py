"""The scheduler through the whole application: a fake clock, the SQLite timers, the CSV sink."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from bot.bootstrap import App, build_app
from bot.clock import FakeClock
from bot.config import Settings
from bot.dialogue.messages import Address, Incoming, Outgoing
from bot.notify import LogNotifier, PatientMessenger
from bot.scheduler import run_scheduler, tick
from sheets.schema import Status

SAMARA = ZoneInfo("Europe/Samara")
PATIENT = Address("console", "p1", "p1")


def clinic_time(hour: int, minute: int = 0, day: int = 23) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=SAMARA).astimezone(UTC)


class RecordingMessenger(PatientMessenger):
    """A channel that records what was sent outside a reply."""

    def __init__(self, channel: str = "console", deliver: bool = True) -> None:
        self.channel = channel
        self.deliver = deliver
        self.sent: list[tuple[str, str, datetime]] = []
        self.clock: FakeClock | None = None

    async def send(self, address: Address, messages: Sequence[Outgoing]) -> bool:
        for message in messages:
            self.sent.append(
                (address.key, message.text, self.clock.now() if self.clock else datetime.now(UTC))
            )
        return self.deliver


def setup(app: App, clock: FakeClock, channel: str = "console") -> RecordingMessenger:
    messenger = RecordingMessenger(channel)
    messenger.clock = clock
    app.messengers.register(messenger)
    return messenger


async def say(app: App, text: str = "", button: str | None = None, who: Address = PATIENT) -> str:
    replies = await app.service.handle(who, Incoming(text=text, button=button))
    return "\n".join(r.text for r in replies)


async def up_to_window(app: App, who: Address = PATIENT) -> None:
    """Service, consent, name, phone given; the bot asks for the time window; then silence."""
    await say(app, "хочу записаться к лору", who=who)
    await say(app, "да", who=who)
    await say(app, "Мария", who=who)
    reply = await say(app, "89123456789", who=who)
    assert "14:00" in reply


async def run_until(
    app: App, clock: FakeClock, end: datetime, step: timedelta = timedelta(minutes=5)
) -> None:
    while clock.now() < end:
        clock.set(min(clock.now() + step, end))
        await tick(app)


def csv_rows(app: App) -> list:
    return app.sinks["csv"].read_all()


async def test_silent_patient_is_reminded_then_recorded_unconfirmed(app: App, clock: FakeClock) -> None:
    clock.set(clinic_time(10))
    messenger = setup(app, clock)
    await up_to_window(app)
    await run_until(app, clock, clinic_time(10, 25))
    assert messenger.sent == []
    await run_until(app, clock, clinic_time(10, 30))
    [(key, text, when)] = messenger.sent
    assert key == PATIENT.key and when == clinic_time(10, 30)
    assert "Мария" in text and "ЛОР" in text
    await run_until(app, clock, clinic_time(11, 55))
    assert csv_rows(app) == [] and len(messenger.sent) == 1  # never twice
    await run_until(app, clock, clinic_time(12, 0))
    [row] = csv_rows(app)
    assert (row.name, row.phone, row.service, row.status) == (
        "Мария",
        "+79123456789",
        "ЛОР",
        Status.UNCONFIRMED,
    )
    assert row.created == "2026-11-23 12:00" and row.channel == "console"
    assert isinstance(app.notifier, LogNotifier)
    assert any(row.id in alert and "не подтверждена" in alert for alert in app.notifier.sent)
    state = app.store.load(PATIENT)
    assert state.lead_id == row.id and state.unconfirmed_recorded
    await run_until(app, clock, clinic_time(18, 0), step=timedelta(minutes=30))
    assert len(csv_rows(app)) == 1 and len(messenger.sent) == 1
    assert app.store.due(clock.now().isoformat()) == []


async def test_returning_patient_completes_the_same_row(app: App, clock: FakeClock) -> None:
    clock.set(clinic_time(10))
    setup(app, clock)
    await up_to_window(app)
    await run_until(app, clock, clinic_time(12, 5))
    [unconfirmed] = csv_rows(app)
    assert unconfirmed.status == Status.UNCONFIRMED
    clock.set(clinic_time(15, 0))
    await say(app, "после обеда")
    summary = await say(app, "впервые")
    assert "Мария" in summary and "ЛОР" in summary
    done = await say(app, "да")
    assert "Заявка принята" in done
    [row] = csv_rows(app)
    assert row.id == unconfirmed.id
    assert (row.status, row.window, row.visit, row.created) == (
        Status.NEW,
        "после 14:00",
        "первичное",
        "2026-11-23 15:00",
    )
    assert [lead.id for lead in app.store.leads()] == [row.id]
    await run_until(app, clock, clinic_time(19, 0), step=timedelta(minutes=30))
    assert len(csv_rows(app)) == 1


async def test_night_silence_is_reminded_in_the_morning(app: App, clock: FakeClock) -> None:
    clock.set(clinic_time(20, 45))
    messenger = setup(app, clock)
    await say(app, "хочу к кардиологу")
    await run_until(app, clock, clinic_time(8, 55, day=24), step=timedelta(minutes=15))
    assert messenger.sent == []
    await run_until(app, clock, clinic_time(9, 5, day=24))
    [(_, text, when)] = messenger.sent
    assert when == clinic_time(9, 0, day=24)
    assert "Кардиолог" in text or "кардиолог" in text


async def test_unconfirmed_record_at_night_reminder_in_the_morning(app: App, clock: FakeClock) -> None:
    clock.set(clinic_time(20, 30))
    messenger = setup(app, clock)
    await up_to_window(app)
    await run_until(app, clock, clinic_time(22, 35))
    assert [r.status for r in csv_rows(app)] == [Status.UNCONFIRMED]
    assert messenger.sent == []
    await run_until(app, clock, clinic_time(9, 0, day=24), step=timedelta(minutes=30))
    assert len(messenger.sent) == 1 and len(csv_rows(app)) == 1


async def test_no_reminder_after_confirmation_goodbye_or_decline(app: App, clock: FakeClock) -> None:
    clock.set(clinic_time(10))
    messenger = setup(app, clock)
    confirmed, leaving, declining = (Address("console", u, u) for u in ("c1", "c2", "c3"))
    await say(app, "Я Ольга, хочу к лору после обеда, впервые, 89123456789", who=confirmed)
    await say(app, "да", who=confirmed)
    assert "Заявка принята" in await say(app, "да", who=confirmed)
    await say(app, "хочу к терапевту", who=leaving)
    await say(app, "до свидания", who=leaving)
    await say(app, "хочу к терапевту", who=declining)
    await say(app, "нет, не согласен", who=declining)
    await run_until(app, clock, clinic_time(20, 0), step=timedelta(minutes=30))
    assert messenger.sent == []
    assert [r.status for r in csv_rows(app)] == [Status.NEW]


async def test_no_record_without_phone_only_the_reminder(app: App, clock: FakeClock) -> None:
    clock.set(clinic_time(10))
    messenger = setup(app, clock)
    await say(app, "хочу к неврологу")
    await say(app, "да")
    await run_until(app, clock, clinic_time(16, 0), step=timedelta(minutes=10))
    assert len(messenger.sent) == 1 and csv_rows(app) == []


async def test_whatsapp_reminder_only_inside_the_24_hour_window(app: App, clock: FakeClock) -> None:
    from bot.channels.whatsapp.window import WhatsAppContacts

    clock.set(clinic_time(10))
    messenger = setup(app, clock, channel="whatsapp")
    contacts = WhatsAppContacts(app.db)
    open_one, closed_one = Address("whatsapp", "79120000001"), Address("whatsapp", "79120000002")
    for who in (open_one, closed_one):
        contacts.inbound(who.user_id, clock.now())
        await say(app, "хочу к лору", who=who)
    contacts.close(closed_one.user_id, clinic_time(10, 5))  # Graph answered 131047 for this patient
    await run_until(app, clock, clinic_time(10, 35))
    assert [key for key, _, _ in messenger.sent] == [open_one.key]
    assert app.store.load(closed_one).followup_sent  # skipped for good, not retried every pass
    await run_until(app, clock, clinic_time(12, 0), step=timedelta(minutes=15))
    assert len(messenger.sent) == 1


async def test_no_reminder_when_the_scheduler_was_down_a_day(app: App, clock: FakeClock) -> None:
    clock.set(clinic_time(11))
    messenger = setup(app, clock, channel="whatsapp")
    who = Address("whatsapp", "79120000003")
    await say(app, "хочу к лору", who=who)
    clock.set(clinic_time(12) + timedelta(hours=25))
    await tick(app)
    assert messenger.sent == []
    assert app.store.due(clock.now().isoformat()) == []


async def test_timers_survive_a_restart(settings: Settings, clock: FakeClock) -> None:
    clock.set(clinic_time(10))
    first = build_app(settings, clock=clock)
    await up_to_window(first)
    first.close()
    clock.set(clinic_time(12, 1))
    second = build_app(settings, clock=clock)
    try:
        messenger = setup(second, clock)
        result = await tick(second)
        assert (result.reminders, result.unconfirmed) == (1, 1)
        assert len(messenger.sent) == 1
        assert [r.status for r in csv_rows(second)] == [Status.UNCONFIRMED]
    finally:
        second.close()


async def test_patient_writing_again_restarts_the_pause(app: App, clock: FakeClock) -> None:
    clock.set(clinic_time(10))
    messenger = setup(app, clock)
    await say(app, "хочу к лору")
    clock.set(clinic_time(10, 20))
    await say(app, "а где вы находитесь?")
    await run_until(app, clock, clinic_time(10, 45))
    assert messenger.sent == []
    await run_until(app, clock, clinic_time(10, 55))
    assert len(messenger.sent) == 1


async def test_undelivered_reminder_is_not_repeated(app: App, clock: FakeClock) -> None:
    clock.set(clinic_time(10))
    messenger = setup(app, clock)
    messenger.deliver = False
    await say(app, "хочу к лору")
    await run_until(app, clock, clinic_time(14, 0), step=timedelta(minutes=10))
    assert len(messenger.sent) == 1
    assert app.store.load(PATIENT).followup_sent


class BrokenMessenger(PatientMessenger):
    channel = "telegram"

    async def send(self, address: Address, messages: Sequence[Outgoing]) -> bool:
        raise ConnectionError("Bot API unreachable")


async def test_a_failing_channel_does_not_stop_other_timers(app: App, clock: FakeClock) -> None:
    clock.set(clinic_time(10))
    app.messengers.register(BrokenMessenger())
    console = setup(app, clock)
    await say(app, "хочу к лору", who=Address("telegram", "1"))
    await up_to_window(app)
    clock.set(clinic_time(10, 31))
    result = await tick(app)
    assert result.errors == 1 and result.reminders == 1
    assert len(console.sent) == 1
    assert app.store.load(Address("telegram", "1")).followup_sent  # not retried in a loop
    clock.set(clinic_time(12, 1))
    result = await tick(app)
    assert (result.errors, result.unconfirmed) == (0, 1)


async def test_run_scheduler_loop_acts_on_its_own(app: App, clock: FakeClock) -> None:
    clock.set(clinic_time(10))
    messenger = setup(app, clock)
    await say(app, "хочу к лору")
    clock.set(clinic_time(10, 31))
    task = asyncio.create_task(run_scheduler(app, interval=0.01))
    try:
        for _ in range(200):
            if messenger.sent:
                break
            await asyncio.sleep(0.01)
    finally:
        task.cancel()
    assert len(messenger.sent) == 1


async def test_a_changed_phone_after_the_record_refreshes_the_same_row(app: App, clock: FakeClock) -> None:
    clock.set(clinic_time(10))
    setup(app, clock)
    await up_to_window(app)
    await run_until(app, clock, clinic_time(12, 5))
    [first] = csv_rows(app)
    await app.service.set_status(first.id, Status.NOT_REACHED, "admin")
    clock.set(clinic_time(13, 0))
    await say(app, "ой, мой номер 89271234567")
    await run_until(app, clock, clinic_time(14, 55))
    assert csv_rows(app)[0].phone == "+79123456789"
    await run_until(app, clock, clinic_time(15, 5))
    [row] = csv_rows(app)
    assert (row.id, row.phone, row.created) == (first.id, "+79271234567", first.created)
    assert row.status == Status.NOT_REACHED  # the administrators' status is not overwritten
    assert isinstance(app.notifier, LogNotifier)
    assert sum(first.id in alert for alert in app.notifier.sent) == 2
    # Back again with nothing new, then silent: no write, no alert.
    clock.set(clinic_time(16, 0))
    await say(app, "а парковка у вас есть?")
    await run_until(app, clock, clinic_time(19, 0), step=timedelta(minutes=30))
    assert sum(first.id in alert for alert in app.notifier.sent) == 2
    assert len(csv_rows(app)) == 1


async def test_a_full_batch_is_followed_at_once_by_the_next(app: App, clock: FakeClock) -> None:
    clock.set(clinic_time(10))
    messenger = setup(app, clock)
    for n in range(5):
        await say(app, "хочу к лору", who=Address("console", f"b{n}"))
    clock.set(clinic_time(10, 31))
    task = asyncio.create_task(run_scheduler(app, interval=3600, batch=2))
    try:
        for _ in range(300):
            if len(messenger.sent) == 5:
                break
            await asyncio.sleep(0.01)
    finally:
        task.cancel()
    assert sorted(key for key, _, _ in messenger.sent) == [f"console:b{n}" for n in range(5)]
