"""The Graph API client and the renderer against the fake Graph API: limits, retries, Meta's error codes."""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from pydantic import SecretStr

from bot.channels.pacing import Limit, Pacer
from bot.channels.whatsapp import (
    GraphAuthError,
    GraphClient,
    GraphError,
    WindowClosedError,
    whatsapp_window_open,
)
from bot.channels.whatsapp.render import render
from bot.channels.whatsapp.setup import build_graph_client
from bot.clock import FakeClock
from bot.config import Settings
from bot.dialogue.messages import Address, Button, Outgoing
from tests.fakes.graph_api import PHONE_NUMBER_ID, TOKEN, FakeGraphAPI
from tests.integration.whatsapp_harness import PATIENT, Harness, running, visible

ADDRESS = Address("whatsapp", PATIENT, "+" + PATIENT)


@pytest.fixture
async def graph() -> AsyncIterator[FakeGraphAPI]:
    fake = FakeGraphAPI()
    await fake.start()
    yield fake
    await fake.stop()


@pytest.fixture
async def client(graph: FakeGraphAPI) -> AsyncIterator[GraphClient]:
    real = GraphClient(graph.url, TOKEN, PHONE_NUMBER_ID, base_delay=0.01, max_delay=0.05, max_attempts=4)
    yield real
    await real.aclose()


@pytest.fixture
async def wa(settings: Settings, clock: FakeClock) -> AsyncIterator[Harness]:
    async with running(settings, clock, max_attempts=4) as harness:
        yield harness


def _options(n: int, label: str = "Вариант") -> tuple[Button, ...]:
    return tuple(Button(f"{label} {i}", f"opt:{i}") for i in range(1, n + 1))


@pytest.mark.parametrize(
    "message",
    [
        Outgoing("Коротко."),
        Outgoing("Абзац. " * 1200),  # 8,400 characters: three texts
        Outgoing("a" * 9000),  # no break at all
        Outgoing("Выберите:", _options(1)),
        Outgoing("Выберите:", _options(3)),
        Outgoing("Выберите:", (Button("До 14:00", "am"), Button("Позвать администратора", "h"))),
        Outgoing("Выберите:", _options(4)),
        Outgoing("Выберите:", _options(10, "Очень длинное название услуги клиники")),
        Outgoing("Выберите:", _options(12)),
        Outgoing("Длинный текст перед кнопками. " * 60, _options(2)),  # 1,800 > 1,024 body limit
        Outgoing("Длинный текст перед списком. " * 200, _options(6)),
        Outgoing("", _options(2)),
    ],
    ids=[
        "short",
        "long",
        "unbroken",
        "1 button",
        "3 buttons",
        "long title",
        "4 options",
        "10 long rows",
        "12 options",
        "long body buttons",
        "long body list",
        "empty body",
    ],
)
async def test_every_rendering_is_accepted_by_graph(
    graph: FakeGraphAPI, client: GraphClient, message: Outgoing
) -> None:
    bodies = render(message)
    for body in bodies:
        assert (await client.send_message(PATIENT, body)).startswith("wamid.")
    assert graph.refused == []
    assert len(graph.sent) == len(bodies)
    visible_text = "".join(visible(graph.sent)).replace("\n", "").replace(" ", "")
    assert message.text.replace(" ", "") in visible_text


async def test_choice_of_buttons_list_or_numbered_text(graph: FakeGraphAPI, client: GraphClient) -> None:
    kinds = []
    for n in (2, 3, 4, 10, 11):
        [body] = render(Outgoing("Выберите:", _options(n)))
        kinds.append(body["interactive"]["type"] if body["type"] == "interactive" else "text")
    assert kinds == ["button", "button", "list", "list", "text"]
    [numbered] = render(Outgoing("Выберите:", _options(11)))
    assert "11. Вариант 11" in numbered["text"]["body"]


async def test_graph_refuses_what_breaks_its_limits(graph: FakeGraphAPI, client: GraphClient) -> None:
    """The fake is as strict as Graph: a renderer bug would not pass unnoticed."""
    too_many = {
        "type": "interactive",
        "interactive": {
            "type": "button",
            "body": {"text": "?"},
            "action": {
                "buttons": [{"type": "reply", "reply": {"id": str(i), "title": str(i)}} for i in range(4)]
            },
        },
    }
    long_title = {
        "type": "interactive",
        "interactive": {
            "type": "button",
            "body": {"text": "?"},
            "action": {"buttons": [{"type": "reply", "reply": {"id": "1", "title": "x" * 21}}]},
        },
    }
    too_long = {"type": "text", "text": {"body": "x" * 4097}}
    for body in (too_many, long_title, too_long):
        with pytest.raises(GraphError) as caught:
            await client.send_message(PATIENT, body)
        assert not caught.value.retryable
    assert [code for code, _ in graph.refused] == [131009, 131009, 100]


@pytest.mark.parametrize(("status", "code"), [(429, 130429), (400, 130429), (429, 4), (503, 1)])
async def test_rate_limits_are_retried_with_backoff(
    graph: FakeGraphAPI, client: GraphClient, status: int, code: int
) -> None:
    graph.fail_next(2, status=status, code=code)
    wamid = await client.send_message(PATIENT, {"type": "text", "text": {"body": "Здравствуйте!"}})
    assert wamid.startswith("wamid.")
    assert client.retries == 2
    assert graph.texts(PATIENT) == ["Здравствуйте!"]


async def test_retries_give_up_after_max_attempts(graph: FakeGraphAPI, client: GraphClient) -> None:
    graph.fail_next(10)
    with pytest.raises(GraphError) as caught:
        await client.send_message(PATIENT, {"type": "text", "text": {"body": "?"}})
    assert caught.value.code == 130429 and caught.value.retryable
    assert len(graph.refused) == 4 and graph.sent == []


async def test_131047_is_not_retried(graph: FakeGraphAPI, client: GraphClient) -> None:
    graph.closed_windows.add(PATIENT)
    with pytest.raises(WindowClosedError):
        await client.send_message(PATIENT, {"type": "text", "text": {"body": "Напоминаем о записи"}})
    assert len(graph.refused) == 1 and client.retries == 0


async def test_token_error_190_is_loud_and_not_retried(
    graph: FakeGraphAPI, caplog: pytest.LogCaptureFixture
) -> None:
    bad = GraphClient(graph.url, "expired", PHONE_NUMBER_ID, base_delay=0.01)
    try:
        with caplog.at_level(logging.CRITICAL), pytest.raises(GraphAuthError):
            await bad.send_message(PATIENT, {"type": "text", "text": {"body": "?"}})
    finally:
        await bad.aclose()
    assert graph.requests == 1
    assert any(r.levelno == logging.CRITICAL and "WHATSAPP_TOKEN" in r.message for r in caplog.records)


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_network_failure_is_retried_then_raised() -> None:
    client = GraphClient(f"http://127.0.0.1:{_closed_port()}/v21.0", TOKEN, PHONE_NUMBER_ID, base_delay=0)
    try:
        with pytest.raises(GraphError) as caught:
            await client.send_message(PATIENT, {"type": "text", "text": {"body": "?"}})
    finally:
        await client.aclose()
    assert client.retries == 4 and caught.value.retryable and "unreachable" in str(caught.value)


# --- the channel's handling of the same errors ---------------------------------------------------


async def test_429_then_success_the_patient_still_gets_the_answer(wa: Harness) -> None:
    wa.graph.fail_next(2)
    replies = await wa.say("Здравствуйте")
    assert len(replies) == 1 and "Здоровье Самары" in visible(replies)
    assert wa.channel.graph.retries == 2
    assert wa.channel.counts["send_failed"] == 0


async def test_131047_on_send_is_recorded_and_closes_the_window(wa: Harness) -> None:
    await wa.say("позовите администратора")
    wa.graph.closed_windows.add(PATIENT)
    assert not await wa.app.service.admin_reply(f"whatsapp:{PATIENT}", [Outgoing("Перезвоню через час")])
    assert [code for code, _ in wa.graph.refused] == [131047]
    assert not whatsapp_window_open(wa.app.db, PATIENT, wa.clock.now())
    assert "прошло больше 24 часов" in wa.channel.errors.recent()[0]["error"]
    # Nothing more is tried until the patient writes again.
    assert not await wa.app.messengers.send(ADDRESS, [Outgoing("Ещё попытка")])
    assert len(wa.graph.refused) == 1


async def test_window_helper_follows_the_last_inbound_message(wa: Harness, clock: FakeClock) -> None:
    assert not whatsapp_window_open(wa.app.db, PATIENT, clock.now())
    await wa.say("Здравствуйте")
    clock.advance(timedelta(hours=23, minutes=59))
    assert whatsapp_window_open(wa.app.db, PATIENT, clock.now())
    assert await wa.app.messengers.send(ADDRESS, [Outgoing("Напоминаем: администратор ждёт вашего ответа.")])
    clock.advance(timedelta(minutes=2))
    assert not whatsapp_window_open(wa.app.db, PATIENT, clock.now())
    assert not await wa.app.messengers.send(ADDRESS, [Outgoing("Уже не отправится")])


async def test_token_error_while_answering_is_shown_in_healthz(wa: Harness) -> None:
    wa.graph.token = "rotated"
    await wa.say("Здравствуйте")
    async with wa.http.get(wa.url + "/healthz") as response:
        health = await response.json()
    assert any("токен отклонён" in e["error"] for e in health["last_errors"])


async def test_sends_are_paced_at_the_number_s_throughput_in_the_order_asked(graph: FakeGraphAPI) -> None:
    now = [0.0]
    pacer = Pacer(Limit(2, burst=2), clock=lambda: now[0])  # 2 a second, hand-driven
    paced = GraphClient(graph.url, TOKEN, PHONE_NUMBER_ID, pacer=pacer)
    try:
        sends = [
            asyncio.create_task(paced.send_message(PATIENT, {"type": "text", "text": {"body": f"№{i}"}}))
            for i in range(5)
        ]
        await graph.wait_sent(PATIENT, 2)
        receipt = asyncio.create_task(paced.mark_read("wamid.1"))  # behind the messages, and stale soon
        for _ in range(20):
            await asyncio.sleep(0.01)
        assert len(graph.sent) == 2 and pacer.waiting == 4  # the rest wait for the budget, not the server
        now[0] += 1.0
        pacer.pump()
        await graph.wait_sent(PATIENT, 4)
        await receipt
        assert graph.read_receipts == []  # left out: by then it would only have come late
        now[0] += 0.5
        pacer.pump()
        await asyncio.gather(*sends)
        assert [m["text"]["body"] for m in graph.sent] == [f"№{i}" for i in range(5)]
    finally:
        await paced.aclose()


def test_production_paces_whatsapp_at_its_setting(settings: Settings) -> None:
    client = build_graph_client(settings.model_copy(update={"whatsapp_token": SecretStr("t"),
                                                            "whatsapp_phone_number_id": "1",
                                                            "whatsapp_rate": 250}))  # fmt: skip
    assert client.pacer is not None and client.pacer._shared is not None
    assert client.pacer._shared.limit.rate == 250
