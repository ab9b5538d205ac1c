"""Nothing a patient sends on WhatsApp is lost: the inbox keeps it from before the 200 until it is answered.

Each test runs the service twice on the same data folder; the first run stops like kill -9 would (the work
in hand abandoned where it is), at the moments that matter: before the dialogue, inside it, while sending.
"""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import timedelta

import pytest

from bot.channels.whatsapp.channel import receipt_of
from bot.channels.whatsapp.inbound import parse_webhook
from bot.channels.whatsapp.inbox import KEEP
from bot.clock import FakeClock
from bot.config import Settings
from bot.dialogue.messages import Address, Incoming
from bot.dialogue.state import ConversationState
from bot.engine.port import Engine, Understanding
from tests.fakes import meta_webhook as meta
from tests.integration.whatsapp_harness import PATIENT, Harness, running, visible

KEY = f"whatsapp:{PATIENT}"
GREETING = "Здоровье Самары"  # the clinic's name, in the first answer


class HangingEngine(Engine):
    """An engine that thinks forever: the crash comes while the dialogue holds the message."""

    def __init__(self) -> None:
        self.entered = asyncio.Event()

    async def understand(self, state: ConversationState, incoming: Incoming) -> Understanding:
        self.entered.set()
        await asyncio.Event().wait()
        raise AssertionError("unreachable")


def hello(wa: Harness, text: str = "Здравствуйте", **kwargs: object) -> dict:  # type: ignore[type-arg]
    return meta.message_body(PATIENT, meta.text(text), timestamp=wa.now(), **kwargs)  # type: ignore[arg-type]


def record_like_the_webhook(wa: Harness, payload: dict) -> int:  # type: ignore[type-arg]
    """What the webhook writes before its 200, without starting the work (a crash right after the 200)."""
    messages, _ = parse_webhook(json.loads(meta.encode(payload)))
    [entry] = wa.channel.inbox.record(messages, wa.clock.now())
    return entry.seq


def patient_turns(wa: Harness) -> list[str]:
    return [text for who, text in wa.app.store.load(Address("whatsapp", PATIENT)).history if who == "patient"]


async def wait_until(condition: object, timeout: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():  # type: ignore[operator]
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.01)


async def test_a_message_recorded_before_a_crash_is_answered_once_after_restart(
    settings: Settings, clock: FakeClock
) -> None:
    wamid = meta.new_wamid()
    async with running(settings, clock) as first:
        payload = hello(first, message_id=wamid)
        record_like_the_webhook(first, payload)
        await first.crash()
        assert first.graph.sent == [] and first.graph.read_receipts == []
    async with running(settings, clock) as second:
        await second.channel.drain()
        replies = second.graph.to(PATIENT)
        assert len(replies) == 1 and GREETING in visible(replies)
        assert len(second.graph.read_receipts) == 1
        assert second.channel.counts["resumed"] == 1
        assert second.channel.inbox.counts() == {"done": 1}
        # Meta had no answer before the crash, so it delivers the message again: still answered once.
        assert await second.post(payload) == 200
        assert len(second.graph.to(PATIENT)) == 1
        assert second.channel.counts["duplicate"] == 1
        assert patient_turns(second) == ["Здравствуйте"]


async def test_a_crash_inside_the_dialogue_processes_the_message_again(
    settings: Settings, clock: FakeClock
) -> None:
    async with running(settings, clock) as first:
        engine = HangingEngine()
        first.app.service.engine = engine
        assert await first.deliver(hello(first)) == 200
        await asyncio.wait_for(engine.entered.wait(), 5)
        await first.crash()
        assert first.graph.sent == []
    async with running(settings, clock) as second:
        await second.channel.drain()
        replies = second.graph.to(PATIENT)
        assert len(replies) == 1 and GREETING in visible(replies)
        assert patient_turns(second) == ["Здравствуйте"]  # the dialogue took it once
        assert second.channel.inbox.counts() == {"done": 1}


async def test_a_crash_while_sending_sends_the_kept_answer_without_asking_the_dialogue_again(
    settings: Settings, clock: FakeClock
) -> None:
    async with running(settings, clock) as first:
        first.graph.gate = asyncio.Event()  # Graph holds every send
        assert await first.deliver(hello(first)) == 200
        await wait_until(lambda: [e.replies for e in first.channel.inbox.unfinished()] not in ([], [None]))
        await wait_until(lambda: first.graph.read_receipts)
        await first.crash()
        assert first.graph.sent == [] and len(first.graph.read_receipts) == 1
    async with running(settings, clock) as second:
        await second.channel.drain()
        replies = second.graph.to(PATIENT)
        assert len(replies) == 1 and GREETING in visible(replies)
        assert second.graph.read_receipts == []  # the blue ticks were given before the crash
        assert patient_turns(second) == ["Здравствуйте"]
        assert second.channel.inbox.counts() == {"done": 1}


async def test_a_message_the_dialogue_took_whose_answer_was_lost_gets_that_answer_not_a_second_turn(
    settings: Settings, clock: FakeClock
) -> None:
    wamid = meta.new_wamid()
    async with running(settings, clock) as first:
        record_like_the_webhook(first, hello(first, message_id=wamid))
        address = Address("whatsapp", PATIENT, "+" + PATIENT)
        committed = await first.app.service.handle(
            address, Incoming("Здравствуйте", receipts=(receipt_of(wamid),))
        )
        await first.crash()  # the dialogue committed, its answer never reached the inbox
    async with running(settings, clock) as second:
        await second.channel.drain()
        replies = second.graph.to(PATIENT)
        assert len(replies) == 1 and GREETING in visible(replies)
        assert all(m.text[:40] in visible(replies) for m in committed)
        assert patient_turns(second) == ["Здравствуйте"]  # not applied twice
        assert second.channel.inbox.counts() == {"done": 1}


async def test_left_over_messages_keep_their_order_and_come_before_new_ones(
    settings: Settings, clock: FakeClock
) -> None:
    async with running(settings, clock) as first:
        for text in ("хочу к лору", "да", "Ольга"):
            record_like_the_webhook(first, hello(first, text))
        await first.crash()
    async with running(settings, clock) as second:
        assert await second.post(hello(second, "8 912 345-67-89")) == 200  # arrives while they are worked on
        texts = second.graph.texts(PATIENT)
        assert "согласн" in texts[0] and "обращаться" in texts[1] and "телефон" in texts[2]
        assert "14:00" in texts[3]  # after the phone: the time of day
        assert patient_turns(second) == ["хочу к лору", "да", "Ольга", "8 912 345-67-89"]


async def test_messages_older_than_a_day_are_dropped_with_a_log_line(
    settings: Settings, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    async with running(settings, clock) as first:
        record_like_the_webhook(first, hello(first, "Здравствуйте, это вчерашнее"))
        clock.advance(timedelta(hours=2))
        record_like_the_webhook(first, hello(first, "Здравствуйте"))
        await first.crash()
    clock.advance(timedelta(hours=23))  # the service was down for a day
    caplog.set_level(logging.WARNING, logger="bot.channels.whatsapp")
    async with running(settings, clock) as second:
        await second.channel.drain()
        assert patient_turns(second) == ["Здравствуйте"]  # the 23-hour-old one is still answered
        assert len(second.graph.to(PATIENT)) == 1
        assert second.channel.inbox.counts() == {"done": 1, "dropped": 1}
        assert "пропущено без ответа: отправлено 25 ч назад" in caplog.text
        assert PATIENT not in caplog.text  # the number is masked
        async with second.http.get(second.url + "/healthz") as response:
            health = await response.json()
        assert "пропущено без ответа" in health["last_errors"][0]["error"]
        # Meta redelivers for days after an outage: an old message is dropped when it arrives, too.
        old = meta.message_body(PATIENT, meta.text("Ау"), timestamp=second.now() - 2 * 24 * 3600)
        assert await second.post(old) == 200
        assert len(second.graph.to(PATIENT)) == 1 and second.channel.counts["dropped"] == 2


async def test_redeliveries_while_the_first_is_in_progress_are_processed_once(
    settings: Settings, clock: FakeClock
) -> None:
    async with running(settings, clock) as wa:
        wa.graph.gate = asyncio.Event()
        payload = hello(wa)
        statuses = await asyncio.gather(*(wa.deliver(payload) for _ in range(5)))
        assert statuses == [200] * 5
        wa.graph.gate.set()
        await wa.channel.drain()
        assert len(wa.graph.to(PATIENT)) == 1 and len(wa.graph.read_receipts) == 1
        assert wa.channel.counts["duplicate"] == 4 and wa.channel.counts["received"] == 1


async def test_the_webhook_answers_503_when_the_message_cannot_be_recorded(
    settings: Settings, clock: FakeClock
) -> None:
    async with running(settings, clock) as wa:
        payload = hello(wa)
        wa.app.db.conn.execute("PRAGMA query_only = 1")  # the local record refuses writes (disk full...)
        assert await wa.post(payload) == 503
        assert wa.graph.sent == []
        wa.app.db.conn.execute("PRAGMA query_only = 0")
        assert await wa.post(payload) == 200  # Meta's retry is taken
        assert len(wa.graph.to(PATIENT)) == 1


async def test_finished_messages_keep_no_content_and_are_forgotten_after_a_week(
    settings: Settings, clock: FakeClock
) -> None:
    async with running(settings, clock) as wa:
        await wa.say("Здравствуйте, меня зовут Ольга")
        [(message, replies)] = wa.app.db.query("SELECT message, replies FROM whatsapp_inbox")
        assert (message, replies) == ("{}", None)
        clock.advance(KEEP + timedelta(minutes=1))
        await wa.say("Здравствуйте")
        assert wa.channel.inbox.counts() == {"done": 1}
