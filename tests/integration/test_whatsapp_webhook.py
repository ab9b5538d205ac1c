"""The WhatsApp webhook as Meta drives it: handshake, signatures over raw bytes, redelivery, statuses."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable

import pytest

from bot.channels.whatsapp import whatsapp_window_open
from bot.clock import FakeClock
from bot.config import Settings
from bot.dialogue.messages import Incoming
from bot.dialogue.state import ConversationState
from bot.engine.port import Engine, Understanding
from tests.fakes import meta_webhook as meta
from tests.integration.whatsapp_harness import PATIENT, Harness, running, visible


@pytest.fixture
async def wa(settings: Settings, clock: FakeClock) -> AsyncIterator[Harness]:
    async with running(settings, clock) as harness:
        yield harness


async def test_verify_handshake_echoes_the_challenge(wa: Harness) -> None:
    query = {"hub.mode": "subscribe", "hub.verify_token": meta.VERIFY_TOKEN, "hub.challenge": "1158201444"}
    async with wa.http.get(wa.webhook, params=query) as response:
        assert response.status == 200
        assert await response.text() == "1158201444"


@pytest.mark.parametrize(
    "query",
    [
        {"hub.mode": "subscribe", "hub.verify_token": "guess", "hub.challenge": "1"},
        {"hub.mode": "unsubscribe", "hub.verify_token": meta.VERIFY_TOKEN, "hub.challenge": "1"},
        {"hub.challenge": "1"},
    ],
)
async def test_verify_handshake_with_a_wrong_token_is_forbidden(wa: Harness, query: dict[str, str]) -> None:
    async with wa.http.get(wa.webhook, params=query) as response:
        assert response.status == 403
        assert "1" not in await response.text()


def _hello(wa: Harness) -> bytes:
    return meta.encode(
        meta.message_body(PATIENT, meta.text("Здравствуйте / добрый день"), timestamp=wa.now())
    )


async def test_bodies_are_encoded_like_meta_encodes_them(wa: Harness) -> None:
    body = _hello(wa)
    assert b"\\u0417\\u0434\\u0440" in body and b"\\/" in body and b": " not in body
    assert json.loads(body)["entry"][0]["changes"][0]["value"]["messages"][0]["text"]["body"].startswith(
        "Здравствуйте"
    )


FORGERIES: dict[str, Callable[[bytes], str | None]] = {
    "missing": lambda body: None,
    "empty": lambda body: "",
    "no digest": lambda body: "sha256=",
    "sha1": lambda body: "sha1=" + meta.sign(body)[7:47],
    "other body": lambda body: meta.sign(body + b" "),
    "other secret": lambda body: meta.sign(body, "another-app-secret"),
}


@pytest.mark.parametrize("forge", FORGERIES.values(), ids=FORGERIES.keys())
async def test_forged_or_missing_signature_is_refused_and_nothing_happens(
    wa: Harness, forge: Callable[[bytes], str | None]
) -> None:
    body = _hello(wa)
    forged = forge(body)
    response = await wa.post_raw(body, forged)
    await wa.channel.drain()
    assert response.status == 401
    assert wa.graph.sent == [] and wa.graph.read_receipts == []
    assert wa.app.store.count() == 0
    # The same bytes, signed properly, are then processed: the refused delivery was not recorded as seen.
    response = await wa.post_raw(body, meta.sign(body))
    await wa.channel.drain()
    assert response.status == 200
    assert len(wa.graph.to(PATIENT)) == 1


async def test_signature_is_over_the_raw_bytes_not_the_parsed_json(wa: Harness) -> None:
    payload = meta.message_body(PATIENT, meta.text("Здравствуйте"), timestamp=wa.now())
    raw = meta.encode(payload)
    reencoded = json.dumps(payload, ensure_ascii=False).encode()  # same JSON, other bytes
    response = await wa.post_raw(reencoded, meta.sign(raw))
    assert response.status == 401
    response = await wa.post_raw(raw, meta.sign(raw).upper().replace("SHA256=", "sha256="))
    await wa.channel.drain()
    assert response.status == 200


async def test_duplicate_delivery_is_answered_once(wa: Harness) -> None:
    wamid = meta.new_wamid()
    first = await wa.say("Здравствуйте", message_id=wamid)
    again = await wa.say("Здравствуйте", message_id=wamid)
    assert len(first) == 1 and again == []
    assert wa.channel.counts["duplicate"] == 1 and wa.channel.counts["received"] == 1
    assert len(wa.graph.read_receipts) == 1


async def test_the_webhook_answers_before_the_work_is_done(wa: Harness) -> None:
    wa.graph.gate = asyncio.Event()
    body = _hello(wa)
    response = await wa.post_raw(body, meta.sign(body))
    assert response.status == 200
    assert wa.channel.pending == 1 and wa.graph.to(PATIENT) == []
    wa.graph.gate.set()
    await wa.channel.drain()
    assert len(wa.graph.to(PATIENT)) == 1


async def test_messages_of_one_patient_are_answered_in_order(wa: Harness) -> None:
    wa.graph.gate = asyncio.Event()
    bodies = [
        meta.encode(meta.message_body(PATIENT, meta.text(t), timestamp=wa.now()))
        for t in ("хочу к лору", "да", "Ольга")
    ]
    for body in bodies:
        assert (await wa.post_raw(body, meta.sign(body))).status == 200
    wa.graph.gate.set()
    await wa.channel.drain()
    texts = wa.graph.texts(PATIENT)
    assert "согласн" in texts[0] and "обращаться" in texts[1] and "телефон" in texts[2]


async def test_status_callbacks_are_logged_not_answered(wa: Harness) -> None:
    await wa.say("Здравствуйте")
    sent = len(wa.graph.sent)
    for status in ("sent", "delivered", "read"):
        assert await wa.post(meta.status_body(PATIENT, status, timestamp=wa.now())) == 200
    assert len(wa.graph.sent) == sent
    assert wa.channel.counts["status:read"] == 1 and wa.channel.counts["status:delivered"] == 1
    assert wa.app.store.count() == 1


async def test_failed_status_131047_closes_the_window_and_shows_in_healthz(wa: Harness) -> None:
    await wa.say("Здравствуйте")
    assert whatsapp_window_open(wa.app.db, PATIENT, wa.clock.now())
    body = meta.status_body(PATIENT, "failed", timestamp=wa.now(), errors=[meta.window_closed_error()])
    assert await wa.post(body) == 200
    assert not whatsapp_window_open(wa.app.db, PATIENT, wa.clock.now())
    async with wa.http.get(wa.url + "/healthz") as response:
        health = await response.json()
    assert response.status == 200
    assert "131047" in health["last_errors"][0]["error"]
    assert health["last_errors"][0]["source"] == "whatsapp"
    assert PATIENT not in json.dumps(health)  # the number is masked


@pytest.mark.parametrize("message", [meta.voice(), meta.image(), meta.location()])
async def test_voice_images_locations_get_the_text_only_answer(wa: Harness, message: dict) -> None:  # type: ignore[type-arg]
    replies = await wa.send(message)
    assert len(replies) == 1
    assert "только текстов" in visible(replies) and "+7 (846) 200-30-40" in visible(replies)


async def test_reactions_are_not_answered(wa: Harness) -> None:
    reaction = {"type": "reaction", "reaction": {"message_id": meta.new_wamid(), "emoji": "\U0001f44d"}}
    assert await wa.send(reaction) == []
    assert wa.app.store.count() == 0


async def test_messages_for_another_business_number_are_ignored(wa: Harness) -> None:
    body = meta.message_body(PATIENT, meta.text("Здравствуйте"), timestamp=wa.now(), phone_number_id="555")
    assert await wa.post(body) == 200
    assert wa.graph.sent == [] and wa.app.store.count() == 0


async def test_signed_but_not_json_is_a_bad_request(wa: Harness) -> None:
    response = await wa.post_raw(b"not json", meta.sign(b"not json"))
    assert response.status == 400


NESTED = {
    "50,000 brackets": b"[" * 50_000 + b"]" * 50_000,
    "50,000 objects": b'{"a":' * 50_000 + b"1" + b"}" * 50_000,
    "a deep value in a real delivery": b'{"object":"whatsapp_business_account","entry":[{"x":'
    + b"[" * 200
    + b"]" * 200
    + b"}]}",
}


@pytest.mark.parametrize("body", NESTED.values(), ids=NESTED.keys())
async def test_signed_but_deeply_nested_json_is_a_clean_bad_request(
    wa: Harness, body: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    response = await wa.post_raw(body, meta.sign(body))
    assert response.status == 400
    assert not [r for r in caplog.records if r.exc_info], "no traceback for a hostile body"
    assert wa.app.store.count() == 0
    assert len(await wa.say("Здравствуйте")) == 1  # and the webhook goes on serving


async def test_healthz_reports_backlog_and_conversations(wa: Harness) -> None:
    await wa.say("Здравствуйте")
    async with wa.http.get(wa.url + "/healthz") as response:
        health = await response.json()
    assert response.status == 200
    assert health["status"] == "ok"
    assert health["conversations"] == 1
    assert health["outbox"] == {} and health["last_errors"] == []
    assert "whatsapp" in health["channels"]


class BrokenEngine(Engine):
    """An engine that breaks its contract: the channel must still answer politely."""

    async def understand(self, state: ConversationState, incoming: Incoming) -> Understanding:
        raise RuntimeError("engine exploded")


async def test_an_unexpected_failure_gets_a_polite_answer_and_is_recorded(wa: Harness) -> None:
    wa.app.service.engine = BrokenEngine()
    replies = await wa.say("Здравствуйте")
    assert len(replies) == 1
    assert "техническая заминка" in visible(replies) and "+7 (846) 200-30-40" in visible(replies)
    assert "engine exploded" in wa.channel.errors.recent()[0]["error"]
