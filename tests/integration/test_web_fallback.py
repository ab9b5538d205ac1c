"""The widget's HTTP fallback (`/web/session`, `/web/message`, `/web/poll`) and CORS, for browsers without
a WebSocket (or behind proxies that break it)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from bot.clock import FakeClock
from bot.config import Settings
from bot.dialogue.messages import Outgoing
from tests.integration.web_harness import SITE, Server, key_of, serving, web_settings


@pytest.fixture
async def server(settings: Settings, clock: FakeClock) -> AsyncIterator[Server]:
    async with serving(web_settings(settings), clock) as running:
        yield running


def bot_text(payload: dict[str, Any]) -> str:
    return "\n".join(m["text"] for m in payload["messages"] if m["from"] == "bot")


async def press(server: Server, token: str, payload: dict[str, Any], label: str) -> dict[str, Any]:
    buttons = [b for m in payload["messages"] for b in m["buttons"]]
    button = next(b for b in buttons if b["label"].startswith(label))
    status, answer = await server.post(
        "/web/message", {"token": token, "type": "choice", "data": button["data"], "label": button["label"]}
    )
    assert status == 200
    return answer


async def test_booking_over_http_only(server: Server) -> None:
    status, hello = await server.post("/web/session", {"start": True})
    assert status == 200 and hello["type"] == "session"
    token = hello["token"]
    assert "ЛОР" in [b["label"] for m in hello["messages"] for b in m["buttons"]]
    answer = await press(server, token, hello, "ЛОР")
    # The answer holds the patient's own message (for other tabs) and then the bot's.
    assert answer["messages"][0]["from"] == "patient"
    assert {m["from"] for m in answer["messages"][1:]} == {"bot"}
    answer = await press(server, token, answer, "Да")
    for text in ("Ольга", "89123456789", "после обеда", "впервые"):
        status, answer = await server.post("/web/message", {"token": token, "type": "message", "text": text})
        assert status == 200
    assert "Ольга" in bot_text(answer)
    answer = await press(server, token, answer, "Всё верно")
    assert "Заявка принята" in bot_text(answer)
    [lead] = server.app.sinks["csv"].read_all()  # type: ignore[attr-defined]
    assert (lead.channel, lead.contact, lead.phone) == ("web", hello["session"], "+79123456789")


async def test_cors_headers_only_for_allowed_origins(server: Server) -> None:
    headers = {"Origin": SITE, "Access-Control-Request-Method": "POST"}
    async with server.http.options(server.url + "/web/message", headers=headers) as response:
        assert response.status == 204
        assert response.headers["Access-Control-Allow-Origin"] == SITE
    async with server.http.post(
        server.url + "/web/session", data=b"{}", headers={"Origin": SITE}
    ) as response:
        assert response.headers["Access-Control-Allow-Origin"] == SITE
        assert response.headers["Vary"] == "Origin"
    headers["Origin"] = "https://evil.example"
    async with server.http.options(server.url + "/web/message", headers=headers) as response:
        assert response.status == 403


async def test_refused_origin_and_missing_origin(server: Server) -> None:
    status, body = await server.post("/web/session", {}, origin="https://evil.example")
    assert status == 403 and body["code"] == "origin"
    assert "не подключён" in body["text"]
    status, body = await server.post("/web/session", {}, origin=None)
    assert status == 403
    assert server.app.store.count() == 0


async def test_bad_requests(server: Server) -> None:
    assert (await server.post("/web/message", {"token": "short", "type": "message", "text": "x"}))[0] == 401
    _, hello = await server.post("/web/session", {})
    token = hello["token"]
    assert (await server.post("/web/message", b"not json"))[0] == 400
    assert (await server.post("/web/message", [1, 2]))[0] == 400
    assert (await server.post("/web/message", {"token": token, "type": "delete"}))[0] == 400
    assert (await server.post("/web/message", {"token": token, "type": "message", "text": 5}))[0] == 400
    status, body = await server.post("/web/message", {"token": token, "type": "message", "text": "   "})
    assert status == 200 and body["messages"] == []


async def test_over_long_message_and_body(server: Server) -> None:
    _, hello = await server.post("/web/session", {})
    token = hello["token"]
    status, body = await server.post("/web/message", {"token": token, "type": "message", "text": "б" * 1500})
    assert status == 413 and body["code"] == "too_long"
    status, body = await server.post("/web/message", b"{" + b" " * 20_000 + b"}")
    assert status == 413
    assert server.channel.transcript.after(key_of(hello["token"])) == []


async def test_long_poll_wakes_on_an_administrators_reply(server: Server) -> None:
    _, hello = await server.post("/web/session", {"start": True})
    token, last = hello["token"], hello["messages"][-1]["seq"]
    # Nothing new: the poll returns empty after its wait.
    status, body = await server.post("/web/poll", {"token": token, "after": last, "wait": 0.05})
    assert status == 200 and body["messages"] == []
    await server.post("/web/message", {"token": token, "type": "message", "text": "позовите администратора"})
    _, body = await server.post("/web/poll", {"token": token, "after": last, "wait": 0})
    last = body["messages"][-1]["seq"]
    poll = asyncio.create_task(server.post("/web/poll", {"token": token, "after": last}))
    await asyncio.sleep(0.1)
    assert not poll.done()
    key = f"web:{key_of(hello['token'])}"
    # The poller counts as an open widget: the reply is shown live.
    assert await server.app.service.admin_reply(key, [Outgoing("Это Елена, администратор. Слушаю вас.")])
    status, body = await asyncio.wait_for(poll, 5)
    assert status == 200
    assert [m["text"] for m in body["messages"]] == ["Это Елена, администратор. Слушаю вас."]


async def test_session_history_after_a_seq(server: Server) -> None:
    _, hello = await server.post("/web/session", {"start": True})
    token = hello["token"]
    await server.post("/web/message", {"token": token, "type": "message", "text": "где вы находитесь?"})
    _, full = await server.post("/web/session", {"token": token})
    _, tail = await server.post("/web/session", {"token": token, "after": hello["messages"][-1]["seq"]})
    assert full["session"] == hello["session"] == tail["session"]
    assert len(full["messages"]) == len(hello["messages"]) + len(tail["messages"])
    assert tail["messages"][0] == {**tail["messages"][0], "from": "patient", "text": "где вы находитесь?"}
