"""Optimistic saves of conversations: two processes on one SQLite file never lose each other's update.

Each process is modelled as its own `Database` connection on the same file, as the Telegram workers have.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.bootstrap import App
from bot.clock import FakeClock
from bot.dialogue.messages import Address, Incoming, Outgoing
from bot.dialogue.state import ConversationState, Stage
from bot.engine.port import Engine, Understanding
from bot.errors import StaleState, StorageError
from bot.notify import LogNotifier
from bot.scheduler import TimerRules, format_due, tick
from bot.service import SAVE_ATTEMPTS
from bot.storage.db import Database
from bot.storage.state_store import StateStore
from sheets.outbox import Outbox
from sheets.schema import Lead
from tests.integration.test_scheduler import PATIENT, clinic_time, say, setup, up_to_window
from tests.unit.test_csv_sink import make_lead

NOW = "2026-11-23T06:00:00.000+00:00"
ADDRESS = Address("telegram", "42", "@olga")

# The conversations table as the versions before revisions created it.
OLD_SCHEMA = """
CREATE TABLE conversations (
    key TEXT PRIMARY KEY,
    channel TEXT NOT NULL,
    user_id TEXT NOT NULL,
    contact TEXT NOT NULL DEFAULT '',
    state TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    due_at TEXT NOT NULL DEFAULT ''
);
CREATE INDEX conversations_due ON conversations(due_at) WHERE due_at != '';
"""


def store_at(path: Path) -> StateStore:
    db = Database(path)
    return StateStore(db, Outbox(db, ["csv"]))


@pytest.fixture
def other(app: App) -> Iterator[StateStore]:
    """The store of a second process on the application's database file."""
    store = store_at(app.settings.state_db)
    yield store
    store.db.close()


def outbox_rows(store: StateStore) -> int:
    return int(str(store.db.query("SELECT COUNT(*) FROM outbox")[0][0]))


# ---------------------------------------------------------------------- the store


def test_revision_is_a_fact_of_the_row_not_of_the_json() -> None:
    state = ConversationState(stage=Stage.BOOKING)
    state.revision = 5
    assert "revision" not in json.loads(state.to_json())
    assert ConversationState.from_json('{"stage": "booking", "revision": 7}').revision == 0
    assert state == ConversationState(stage=Stage.BOOKING)  # not compared


def test_each_save_moves_the_revision_and_the_same_state_saves_again(tmp_path: Path) -> None:
    store = store_at(tmp_path / "s.db")
    state = store.load(ADDRESS)
    assert state.revision == 0
    store.save(ADDRESS, state, NOW)
    assert state.revision == 1
    state.greeted = True
    store.save(ADDRESS, state, NOW)
    assert state.revision == 2
    loaded = store.load(ADDRESS)
    assert loaded.revision == 2 and loaded.greeted
    found = store.find(ADDRESS.key)
    assert found is not None and found.state.revision == 2
    store.save(ADDRESS, loaded, NOW, due_at=NOW)
    [due] = store.due(NOW)
    assert due.state.revision == 3


def test_stale_save_raises_and_writes_nothing(tmp_path: Path) -> None:
    first, second = store_at(tmp_path / "s.db"), store_at(tmp_path / "s.db")
    old = make_lead("AAAA2222", status="не подтверждена", contact="@olga")
    first.save(ADDRESS, first.load(ADDRESS), NOW, [(old, False)])
    outbox_before = outbox_rows(first)

    mine, theirs = first.load(ADDRESS), second.load(ADDRESS)
    theirs.remember("admin", "Перезвоним вам")
    second.save(ADDRESS, theirs, NOW)

    mine.stage = Stage.CONFIRM
    with pytest.raises(StaleState):
        first.save(ADDRESS, mine, NOW, [(make_lead("BBBB3333"), False)], due_at=NOW, forget=["AAAA2222"])
    assert mine.revision == 1  # still the revision it was read at
    assert first.lead("BBBB3333") is None
    kept = first.lead("AAAA2222")
    assert kept is not None and kept[0].phone == old.phone and kept[0].contact == "@olga"  # not forgotten
    assert outbox_rows(first) == outbox_before
    stored = first.load(ADDRESS)
    assert stored.revision == 2 and stored.stage == Stage.IDLE
    assert stored.history == [["admin", "Перезвоним вам"]]
    assert first.due(NOW) == []


def test_stale_state_is_a_storage_error() -> None:
    assert issubclass(StaleState, StorageError)  # the channels' «not recorded, try again» path applies


def test_a_new_conversation_inserted_by_two_processes_at_once(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    store_at(path).db.close()  # the schema exists before the race
    both_loaded = threading.Barrier(2)
    outcomes: dict[str, str] = {}

    def process(name: str) -> None:
        store = store_at(path)
        try:
            state = store.load(ADDRESS)
            state.profile_name = name
            both_loaded.wait(timeout=10)  # both read «no such conversation» before either writes
            store.save(ADDRESS, state, NOW, [(make_lead(f"{name.upper()}0000"), False)])
            outcomes[name] = "saved"
        except StaleState:
            outcomes[name] = "stale"
        finally:
            store.db.close()

    threads = [threading.Thread(target=process, args=(name,)) for name in ("aaaa", "bbbb")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes.values()) == ["saved", "stale"]
    [winner] = [name for name, outcome in outcomes.items() if outcome == "saved"]
    store = store_at(path)
    state = store.load(ADDRESS)
    assert state.profile_name == winner and state.revision == 1
    assert [lead.id for lead in store.leads()] == [f"{winner.upper()}0000"]
    assert outbox_rows(store) == 1


def test_an_old_database_file_is_migrated_on_open(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    with sqlite3.connect(path) as conn:
        conn.executescript(OLD_SCHEMA)
        conn.execute(
            "INSERT INTO conversations(key, channel, user_id, contact, state, updated_at, due_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (ADDRESS.key, "telegram", "42", "@olga", '{"stage": "booking", "greeted": true}', NOW, NOW),
        )
    conn.close()

    first = store_at(path)
    columns = {str(row[1]): row for row in first.db.query("PRAGMA table_info(conversations)")}
    assert "revision" in columns and columns["revision"][3] == 1  # NOT NULL
    mine = first.load(ADDRESS)
    assert (mine.stage, mine.greeted, mine.revision) == (Stage.BOOKING, True, 0)
    [due] = first.due(NOW)
    assert due.state.revision == 0

    second = store_at(path)  # opening a migrated file again changes nothing
    theirs = second.load(ADDRESS)
    second.save(ADDRESS, theirs, NOW)
    assert theirs.revision == 1
    with pytest.raises(StaleState):  # the migrated row is guarded like any other
        first.save(ADDRESS, mine, NOW)
    assert first.load(ADDRESS).revision == 1


# ---------------------------------------------------------------------- the service retries


class CompetingEngine(Engine):
    """The offline engine, except that while understanding it lets another process save the conversation
    (`compete`), the first `times` calls."""

    def __init__(self, inner: Engine, compete: Callable[[], None], times: int = 1) -> None:
        self.inner = inner
        self.compete = compete
        self.times = times
        self.calls = 0

    async def understand(self, state: ConversationState, incoming: Incoming) -> Understanding:
        self.calls += 1
        if self.calls <= self.times:
            self.compete()
        return await self.inner.understand(state, incoming)


def admin_note(store: StateStore, address: Address, text: str) -> Callable[[], None]:
    """Another process adds a line to the conversation (as an administrator's answer would)."""

    def write() -> None:
        state = store.load(address)
        state.remember("admin", text)
        store.save(address, state, NOW)

    return write


class RacingSaves:
    """Wraps the application's `store.save`: each write queued in `before` is made by the other process
    just before one save, i.e. after this process read the conversation (one queued write per save)."""

    def __init__(self, app: App, monkeypatch: pytest.MonkeyPatch) -> None:
        self.before: list[Callable[[], None]] = []
        self.saves = 0
        save = app.store.save

        def racing(*args: Any, **kwargs: Any) -> list[Lead]:
            self.saves += 1
            if self.before:
                self.before.pop(0)()
            return save(*args, **kwargs)

        monkeypatch.setattr(app.store, "save", racing)


def alerts(app: App, prefix: str = "") -> list[str]:
    """What the administrators were told (the embedded notifier records it)."""
    assert isinstance(app.notifier, LogNotifier)
    return [text for text in app.notifier.sent if text.startswith(prefix)]


async def to_summary(app: App, who: Address = PATIENT) -> None:
    await say(app, "Я Ольга, хочу к лору после обеда, впервые, 89123456789", who=who)
    await say(app, "да", who=who)


async def test_handle_retries_a_stale_save_and_keeps_both_changes(app: App, other: StateStore) -> None:
    await to_summary(app)
    engine = CompetingEngine(app.engine, admin_note(other, PATIENT, "Уточню у врача"))
    app.service.engine = engine
    alerts_before = len(alerts(app, "lead "))

    reply = await say(app, "да")

    assert "Заявка принята" in reply
    assert engine.calls == 2  # read and decided again after the other process's save
    state = app.store.load(PATIENT)
    note = state.history.index(["admin", "Уточню у врача"])  # the other process's change
    assert ["patient", "да"] in state.history[note + 1 :]  # then this one's, decided after it
    [lead] = app.store.leads()
    assert state.leads == [lead.id]
    assert state.revision == other.load(PATIENT).revision
    assert len(app.sinks["csv"].read_all()) == 1  # the lead once in the sink
    assert outbox_rows(other) == 1
    assert len(alerts(app, "lead ")) == alerts_before + 1  # and told once


async def test_handle_gives_up_after_the_attempts_and_commits_nothing(app: App, other: StateStore) -> None:
    await to_summary(app)
    app.service.engine = engine = CompetingEngine(
        app.engine, admin_note(other, PATIENT, "Уточню у врача"), times=SAVE_ATTEMPTS
    )
    sent_before = len(alerts(app))

    with pytest.raises(StaleState):
        await say(app, "да")

    assert engine.calls == SAVE_ATTEMPTS
    assert app.store.leads() == [] and outbox_rows(other) == 0
    assert len(alerts(app)) == sent_before
    state = app.store.load(PATIENT)
    assert state.stage == Stage.CONFIRM and state.leads == []
    assert state.history[-SAVE_ATTEMPTS:] == [["admin", "Уточню у врача"]] * SAVE_ATTEMPTS


async def test_a_handed_off_patient_message_is_relayed_once_after_a_retry(
    app: App, clock: FakeClock, other: StateStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    setup(app, clock)
    await say(app, "здравствуйте")
    assert await app.service.admin_reply(PATIENT.key, [])
    race = RacingSaves(app, monkeypatch)
    race.before.append(admin_note(other, PATIENT, "Минутку"))
    relays_before = alerts(app, "relay ")

    assert await say(app, "Когда удобно прийти?") == ""

    assert race.saves == 2
    assert alerts(app, "relay ")[len(relays_before) :] == [f"relay {PATIENT.key}: Когда удобно прийти?"]
    state = app.store.load(PATIENT)
    assert state.history[-2:] == [["admin", "Минутку"], ["patient", "Когда удобно прийти?"]]


async def test_admin_reply_and_hand_back_retry_a_stale_save(
    app: App, clock: FakeClock, other: StateStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    messenger = setup(app, clock)
    await say(app, "хочу записаться к лору")
    race = RacingSaves(app, monkeypatch)
    race.before.append(admin_note(other, PATIENT, "Пациент: алло?"))
    assert await app.service.admin_reply(PATIENT.key, [Outgoing("Здравствуйте, это администратор")])
    state = app.store.load(PATIENT)
    assert state.stage == Stage.HANDOFF and state.handoff_since
    assert state.history[-2:] == [["admin", "Пациент: алло?"], ["admin", "Здравствуйте, это администратор"]]
    assert [text for _, text, _ in messenger.sent] == ["Здравствуйте, это администратор"]  # sent once

    race.before.append(admin_note(other, PATIENT, "Пациент: жду"))
    assert await app.service.hand_back(PATIENT.key, "Бот снова с вами")
    state = app.store.load(PATIENT)
    assert state.stage == Stage.BOOKING and not state.handoff_since
    assert ["admin", "Пациент: жду"] in state.history
    assert [text for _, text, _ in messenger.sent][1:] == ["Бот снова с вами"]


# ---------------------------------------------------------------------- the scheduler


async def test_a_reminder_sent_by_another_process_meanwhile_is_not_sent_again(
    app: App, clock: FakeClock, other: StateStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock.set(clinic_time(10))
    messenger = setup(app, clock)
    await up_to_window(app)
    clock.set(clinic_time(10, 30))  # the reminder is due
    rules = TimerRules.from_settings(app.settings)

    def other_scheduler_reminds() -> None:
        state = other.load(PATIENT)
        state.followup_sent = True
        state.remember("bot", "напоминание другого процесса")
        other.save(PATIENT, state, format_due(clock.now()), due_at=rules.due_at(state, clock.now()))

    race = RacingSaves(app, monkeypatch)
    race.before.append(other_scheduler_reminds)  # between this scheduler's read and its save
    result = await tick(app, rules)

    assert race.saves == 2 and (result.errors, result.stale) == (0, 0)
    assert messenger.sent == [] and result.reminders == 0  # the other process reminded already
    state = app.store.load(PATIENT)
    assert state.followup_sent
    assert sum(1 for who, _ in state.history if who == "bot" and "напоминание" in _) == 1


async def test_a_timer_that_keeps_meeting_other_saves_waits_for_the_next_pass(
    app: App, clock: FakeClock, other: StateStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock.set(clinic_time(10))
    messenger = setup(app, clock)
    await up_to_window(app)
    clock.set(clinic_time(10, 30))
    rules = TimerRules.from_settings(app.settings)

    def touch() -> None:  # another process saves the conversation unchanged (its timer stays due)
        stored = other.find(PATIENT.key)
        assert stored is not None
        due_at = str(other.db.query("SELECT due_at FROM conversations")[0][0])
        other.save(PATIENT, stored.state, format_due(clock.now()), due_at=due_at)

    race = RacingSaves(app, monkeypatch)
    race.before += [touch] * SAVE_ATTEMPTS
    result = await tick(app, rules)
    assert (result.due, result.stale, result.errors, result.reminders) == (1, 1, 0, 0)
    assert messenger.sent == [] and not app.store.load(PATIENT).followup_sent

    assert race.before == []
    clock.set(clock.now() + timedelta(seconds=15))
    result = await tick(app, rules)
    assert result.reminders == 1 and len(messenger.sent) == 1
    clock.set(clock.now() + timedelta(minutes=20))
    await tick(app, rules)
    assert len(messenger.sent) == 1  # never twice
