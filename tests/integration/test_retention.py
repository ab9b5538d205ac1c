"""Retention (152-FZ): old conversations, transcripts and receipts go; leads, new rows and conversations with
something pending stay. Time is moved with the fake clock; the pass is the one `run` starts daily."""

from __future__ import annotations

import logging
from datetime import timedelta
from pathlib import Path

import pytest

from bot.bootstrap import App
from bot.channels.web.sessions import Sessions, Transcript
from bot.clock import FakeClock
from bot.config import Settings, load_settings
from bot.dialogue.messages import Address, Incoming, Outgoing
from bot.dialogue.state import Stage
from bot.errors import ConfigError
from bot.scheduler import tick
from bot.storage.retention import prune, prune_and_truncate
from tests.integration.whatsapp_harness import PATIENT, running, visible

DAY = timedelta(days=1)
BOOKING = ["Я Ольга, хочу к лору после обеда, впервые, 89123456789", "да", "да"]
KEEP = {"conversations": timedelta(days=90), "receipts": timedelta(days=7)}


def count(app: App, table: str, where: str = "1", params: tuple[object, ...] = ()) -> int:
    return int(app.db.query(f"SELECT COUNT(*) FROM {table} WHERE {where}", params)[0][0])  # type: ignore[call-overload]


async def talk(app: App, who: str, texts: list[str], channel: str = "console") -> None:
    address = Address(channel, who, who)
    for n, text in enumerate(texts):
        await app.service.handle(address, Incoming(text=text, receipts=(f"{channel}:{who}:{n}:{text}",)))


def keys(app: App) -> set[str]:
    return {str(row[0]) for row in app.db.query("SELECT key FROM conversations")}


async def test_old_conversations_go_pending_ones_and_leads_stay(app: App, clock: FakeClock) -> None:
    start = clock.now()
    await talk(app, "booked", BOOKING)  # a confirmed lead, then nothing more
    await talk(app, "handoff", ["Позовите администратора"])
    await talk(app, "timer", ["Меня зовут Анна, хочу к терапевту", "да", "89271234567"])  # silent after
    await talk(app, "outbox", ["Я Вера, хочу к неврологу утром, повторно, 89031234567", "да", "да"])
    await talk(app, "declined", ["Сколько стоит приём?"])
    transcript = Transcript(app.db)
    transcript.add("W1", "patient", [Outgoing("здравствуйте")], start)  # a widget opened and left
    await talk(app, "W2", ["Здравствуйте"], channel="web")
    transcript.add("W2", "patient", [Outgoing("Здравствуйте")], start)
    sessions = Sessions(app.db)
    old_token, _ = sessions.issue(start)  # a widget session issued and never used again
    [outbox_lead] = app.store.conversation_leads("console:outbox")
    with app.db.transaction() as conn:  # the sheet unreachable since: its row is still to deliver
        conn.execute("UPDATE outbox SET state = 'pending' WHERE lead_id = ?", (outbox_lead.id,))
    assert app.store.load(Address("console", "handoff")).stage == Stage.HANDOFF
    leads_before = {lead.id for lead in app.store.leads()}
    assert len(leads_before) == 2

    clock.set(start + timedelta(days=89))
    await talk(app, "recent", ["Где вы находитесь?"])  # last message 89 days after the others
    recent_token, _ = sessions.issue(clock.now())
    clock.set(start + timedelta(days=91))
    result = prune(app.db, clock.now(), **KEEP)

    assert keys(app) == {"console:handoff", "console:timer", "console:outbox", "console:recent"}
    assert result.conversations == 3  # booked, declined, web:W2
    assert {lead.id for lead in app.store.leads()} == leads_before  # the clinic's record stays
    assert count(app, "web_messages") == 0  # both widget sessions: W2 with its conversation, W1 orphaned
    assert sessions.find(old_token) is None  # its token opens nothing any more
    assert sessions.find(recent_token) is not None
    # Receipts older than 7 days went, the recent conversation's stayed; the delivered outbox rows went,
    # the pending one stayed.
    assert count(app, "answered_messages") == 1
    assert count(app, "outbox", "state != 'done'") >= 1 and count(app, "outbox", "state = 'done'") == 0
    assert result.receipts > 0 and result.transcripts >= 2

    # Once nothing is pending any more, they go at the next pass that finds them old.
    with app.db.transaction() as conn:
        conn.execute("UPDATE outbox SET state = 'done'")
    assert prune(app.db, clock.now(), **KEEP).conversations == 1  # console:outbox
    assert (await tick(app)).unconfirmed == 1  # the silent patient's timer fires at last
    clock.advance(timedelta(days=91))
    prune(app.db, clock.now(), **KEEP)
    assert keys(app) == {"console:handoff"}  # an administrator still has it (no timeout passed here)
    assert len(app.store.leads()) == 3


async def test_receipts_go_after_a_week_conversations_stay(app: App, clock: FakeClock) -> None:
    await talk(app, "booked", BOOKING)
    receipts, done = count(app, "answered_messages"), count(app, "outbox", "state = 'done'")
    assert receipts == 3 and done >= 1
    clock.advance(timedelta(days=6))
    assert prune(app.db, clock.now(), **KEEP).total == 0
    clock.advance(timedelta(days=2))
    result = prune(app.db, clock.now(), **KEEP)
    assert (result.receipts, result.conversations) == (receipts + done, 0)
    assert keys(app) == {"console:booked"} and len(app.store.leads()) == 1
    # Zero keeps everything of its kind.
    clock.advance(timedelta(days=400))
    assert prune(app.db, clock.now(), conversations=timedelta(0), receipts=timedelta(0)).total == 0
    assert keys(app) == {"console:booked"}


async def test_whatsapp_inbox_and_window_go_with_the_conversation(
    settings: Settings, clock: FakeClock
) -> None:
    async with running(settings, clock) as wa:
        for text in BOOKING:
            replies = await wa.say(text)
        assert "Заявка принята" in visible(replies)
        assert count(wa.app, "whatsapp_inbox", "state != 'pending'") == 3
        assert count(wa.app, "whatsapp_contacts") == 1
        wa.clock.advance(timedelta(days=8))
        prune(wa.app.db, wa.clock.now(), **KEEP)
        assert count(wa.app, "whatsapp_inbox") == 0 and count(wa.app, "whatsapp_contacts") == 1
        wa.clock.advance(timedelta(days=83))
        assert prune(wa.app.db, wa.clock.now(), **KEEP).conversations == 1
        assert count(wa.app, "whatsapp_contacts") == 0 and wa.app.store.find(f"whatsapp:{PATIENT}") is None
        [lead] = wa.app.store.leads()
        assert lead.phone == "+79123456789"
        # The patient writes again months later: a new conversation, the lead still there.
        replies = await wa.say("Здравствуйте")
        assert "Здоровье Самары" in visible(replies)
        assert len(wa.app.store.leads()) == 1


async def test_the_daily_pass_truncates_the_wal_and_logs_counts_only(
    app: App, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="bot.storage.retention")
    for n in range(20):
        await talk(app, f"p{n}", BOOKING)
    wal = app.settings.state_db.with_name(app.settings.state_db.name + "-wal")
    assert wal.stat().st_size > 0
    clock.advance(timedelta(days=91))
    result = await prune_and_truncate(app)
    assert result.conversations == 20 and len(app.store.leads()) == 20
    assert wal.stat().st_size == 0
    [line] = [r.getMessage() for r in caplog.records if r.name == "bot.storage.retention"]
    assert "удалено диалогов: 20" in line and "90 дн." in line and "7 дн." in line
    assert "Ольга" not in line and "912" not in line


def test_retention_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)  # no .env of the developer's
    monkeypatch.delenv("RETENTION_CONVERSATIONS", raising=False)
    monkeypatch.delenv("RETENTION_RECEIPTS", raising=False)
    settings = load_settings(retention_conversations="30d", retention_receipts="36h")
    assert settings.retention_conversations == timedelta(days=30)
    assert settings.retention_receipts == timedelta(hours=36)
    defaults = load_settings()
    assert (defaults.retention_conversations, defaults.retention_receipts) == (90 * DAY, 7 * DAY)
    assert load_settings(retention_conversations="0").retention_conversations == timedelta(0)
    with pytest.raises(ConfigError, match=r"RETENTION_RECEIPTS.*не меньше 1d"):
        load_settings(retention_receipts="2h")
    with pytest.raises(ConfigError, match="RETENTION_CONVERSATIONS"):
        load_settings(retention_conversations="ninety days")
