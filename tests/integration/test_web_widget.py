"""The site widget over its WebSocket: a booking, sessions across reloads and tabs, origins, limits, handoff."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import aiohttp
import pytest

from bot.channels.web import WebLimits
from bot.channels.web.sessions import session_key, session_label
from bot.clock import FakeClock
from bot.config import Settings
from bot.dialogue.messages import Outgoing
from bot.dialogue.state import Stage
from bot.notify import LogNotifier
from tests.integration.web_harness import SITE, Server, labels, serving, text_of, web_settings


@pytest.fixture
async def server(settings: Settings, clock: FakeClock) -> AsyncIterator[Server]:
    async with serving(web_settings(settings), clock) as running:
        yield running


async def test_booking_by_buttons_and_typing_over_the_websocket(server: Server) -> None:
    widget = await server.widget()
    assert widget.hello["messages"] == []
    assert widget.hello["config"]["telegram"].startswith("https://t.me/")
    assert widget.hello["config"]["privacy_url"].startswith("https://")
    greeting = await widget.start()
    assert "Здоровье Самары" in text_of(greeting)
    assert "ЛОР" in labels(greeting)
    replies = await widget.press(greeting, "ЛОР")
    assert "согласн" in text_of(replies).lower()
    replies = await widget.press(replies, "Да")
    replies = await widget.say("Ольга")
    assert "телефон" in text_of(replies)
    replies = await widget.say("8 (912) 345-67-89")
    replies = await widget.press(replies, "После 14")
    replies = await widget.say("впервые")  # the label typed instead of pressed
    assert "Ольга" in text_of(replies) and "ЛОР" in text_of(replies)
    replies = await widget.press(replies, "Всё верно")
    assert "Заявка принята" in text_of(replies)
    # "печатает…" was sent before each answer.
    assert sum(1 for f in widget.frames if f["type"] == "typing") == 7

    [lead] = server.app.sinks["csv"].read_all()  # type: ignore[attr-defined]
    label = widget.hello["session"]
    assert (lead.name, lead.phone, lead.service, lead.window, lead.visit) == (
        "Ольга",
        "+79123456789",
        "ЛОР",
        "после 14:00",
        "первичное",
    )
    assert (lead.channel, lead.contact) == ("web", label)
    assert len(label) == 8 and label.isalnum() and label == session_label(session_key(widget.token))
    assert server.app.store.find(f"web:{widget.key}") is not None  # the conversation: the token's SHA-256
    await widget.close()


async def test_reload_and_a_second_tab_continue_the_same_conversation(server: Server) -> None:
    first = await server.widget()
    await first.start()
    replies = await first.say("хочу к неврологу")
    assert "Невролог" in text_of(replies) or "невролог" in text_of(replies)
    # A reload: a new socket with the stored token gets the whole history, in order.
    second = await server.widget(first.token)
    history = second.hello["messages"]
    assert second.hello["session"] == first.hello["session"]
    assert [m["from"] for m in history][:3] == ["bot", "patient", "bot"]
    assert history[1]["text"] == "хочу к неврологу"
    seqs = [m["seq"] for m in history]
    assert seqs == sorted(seqs)
    # Both tabs see what either sends; a hello with `after` gets only what is new.
    await second.ws.send_json({"type": "message", "text": "да"})
    echoed = await first.next("messages")
    assert echoed["messages"][0] == {**echoed["messages"][0], "from": "patient", "text": "да"}
    third = await server.widget(first.token)
    later = await server.widget(first.token)
    assert len(later.hello["messages"]) >= len(third.hello["messages"]) > len(history)
    for widget in (first, second, third, later):
        await widget.close()


async def test_start_greets_once_even_from_two_tabs(server: Server) -> None:
    first = await server.widget()
    second = await server.widget(first.token)
    await first.ws.send_json({"type": "start"})
    await second.ws.send_json({"type": "start"})
    await first.bot_messages()
    await asyncio.sleep(0.2)
    again = await server.widget(first.token)
    assert [m["from"] for m in again.hello["messages"]] == ["bot"]


async def test_a_refused_origin_gets_403_and_no_socket(server: Server) -> None:
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await server.http.ws_connect(server.url + "/ws", headers={"Origin": "https://evil.example"})
    assert refused.value.status == 403
    with pytest.raises(aiohttp.WSServerHandshakeError):
        await server.http.ws_connect(server.url + "/ws")  # no Origin at all
    # The allowed site and (with WEB_DEMO=1) the server's own demo page are let in.
    for origin in (SITE, server.url):
        widget = await server.widget(origin=origin)
        assert widget.hello["type"] == "session"
        await widget.close()
    assert server.app.store.count() == 0  # nobody wrote anything


async def test_the_own_origin_is_refused_without_the_demo(settings: Settings, clock: FakeClock) -> None:
    async with serving(web_settings(settings, demo=False), clock) as server:
        with pytest.raises(aiohttp.WSServerHandshakeError):
            await server.http.ws_connect(server.url + "/ws", headers={"Origin": server.url})
        async with server.http.get(server.url + "/") as response:
            assert response.status == 404


async def test_an_over_long_message_is_refused_and_not_processed(server: Server) -> None:
    widget = await server.widget()
    [error] = await widget.say("а" * 1001)
    assert error["code"] == "too_long" and "1000" in error["text"]
    assert server.channel.transcript.after(widget.key) == []
    assert server.app.store.count() == 0
    # A frame over the frame limit closes the socket.
    await widget.ws.send_str("x" * (17 * 1024))
    closing = await widget.ws.receive(timeout=5)
    assert closing.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.CLOSING)
    # Exactly the limit is fine.
    again = await server.widget(widget.token)
    replies = await again.say("я" * 1000)
    assert replies[0].get("type") != "error"


async def test_rate_limit_per_session_and_per_ip(settings: Settings, clock: FakeClock) -> None:
    now = [0.0]
    limits = WebLimits(session_burst=3, session_per_minute=6, ip_burst=5, ip_per_minute=6)
    async with serving(web_settings(settings), clock, limits) as server:
        for limiter in (server.channel.per_session, server.channel.per_ip, server.channel.new_sessions):
            limiter.now = lambda: now[0]
        widget = await server.widget()
        for _ in range(3):
            assert (await widget.say("сколько стоит приём?"))[0].get("type") != "error"
        [error] = await widget.say("ещё вопрос")
        assert error["code"] == "rate_limited"
        now[0] += 10.0  # one message a 10 s comes back
        assert (await widget.say("ещё вопрос"))[0].get("type") != "error"
        # A second session from the same address shares the IP's bucket: 5 in a row, +1 in 10 s, 4 used.
        other = await server.widget()
        assert (await other.say("здравствуйте"))[0].get("type") != "error"
        assert (await other.say("хочу к терапевту"))[0].get("type") != "error"
        [error] = await other.say("здравствуйте ещё раз")
        assert error["code"] == "rate_limited"
        patient_lines = [e for e in server.channel.transcript.after(widget.key) if e.sender == "patient"]
        assert len(patient_lines) == 4  # refused messages were never recorded


async def test_new_sessions_are_limited_per_ip(settings: Settings, clock: FakeClock) -> None:
    limits = WebLimits(new_sessions_burst=2, new_sessions_per_minute=0.001)
    async with serving(web_settings(settings), clock, limits) as server:
        await server.widget()
        first = await server.widget()
        ws = await server.http.ws_connect(server.url + "/ws", headers={"Origin": SITE})
        await ws.send_json({"type": "hello", "token": None})
        refusal = await ws.receive_json(timeout=5)
        assert refusal["code"] == "too_many_sessions"
        # A returning patient (a stored token) is never a new session.
        back = await server.widget(first.token)
        assert back.hello["session"] == first.hello["session"]


async def test_forged_button_data_is_only_words(server: Server) -> None:
    widget = await server.widget()
    await widget.start()
    await widget.ws.send_json({"type": "choice", "data": "status:записан", "label": "Записаться"})
    await widget.bot_messages()
    stored = server.app.store.find(f"web:{widget.key}")
    assert stored is not None
    assert [e.text for e in server.channel.transcript.after(widget.key) if e.sender == "patient"] == [
        "Записаться"
    ]


async def test_an_administrators_reply_reaches_the_open_widget_live(server: Server) -> None:
    widget = await server.widget()
    await widget.start()
    await widget.say("хочу к кардиологу")
    replies = await widget.say("позовите администратора")
    assert "администратор" in text_of(replies).lower()
    key = f"web:{widget.key}"
    notifier = server.app.notifier
    assert isinstance(notifier, LogNotifier)
    assert any(s.startswith(f"handoff {key}") for s in notifier.sent)

    delivered = await server.app.service.admin_reply(
        key, [Outgoing("Здравствуйте! Это Елена, администратор.")]
    )
    assert delivered is True
    frame = await widget.next("messages")
    assert frame["messages"][0]["text"] == "Здравствуйте! Это Елена, администратор."
    assert frame["messages"][0]["from"] == "bot"
    # The patient's answer goes to the administrators; the bot stays quiet.
    await widget.ws.send_json({"type": "message", "text": "Спасибо, жду звонка"})
    await widget.next("messages")  # own echo
    await asyncio.sleep(0.2)
    assert notifier.sent[-1] == f"relay {key}: Спасибо, жду звонка"
    stored = server.app.store.find(key)
    assert stored is not None and stored.state.stage == Stage.HANDOFF
    # With the widget closed the reply is kept for the next visit and reported as not shown live.
    await widget.close()
    await asyncio.sleep(0.1)
    assert await server.app.service.admin_reply(key, [Outgoing("Перезвоню через 5 минут.")]) is False
    back = await server.widget(widget.token)
    assert back.hello["messages"][-1]["text"] == "Перезвоню через 5 минут."


async def test_widget_assets_and_demo_page(server: Server) -> None:
    async with server.http.get(server.url + "/widget.js") as response:
        assert response.status == 200
        assert response.content_type == "application/javascript"
        script = await response.text()
    assert "Ответим за 10 секунд — напишите нам!" in script
    for role in ("launcher", "panel", "input", "send", "message", "choice"):
        assert f'"data-role": "{role}"' in script
    async with server.http.get(server.url + "/widget.css") as response:
        assert response.status == 200 and response.content_type == "text/css"
    async with server.http.get(server.url + "/") as response:
        page = await response.text()
    assert response.status == 200 and '<script src="/widget.js"' in page
    async with server.http.get(server.url + "/healthz") as response:
        assert "web" in (await response.json())["channels"]


async def test_behind_a_local_proxy_each_visitor_has_its_own_ip_bucket(
    settings: Settings, clock: FakeClock
) -> None:
    limits = WebLimits(session_burst=100, ip_burst=2, ip_per_minute=0.001)
    behind_nginx = web_settings(settings).model_copy(update={"trusted_proxies": ("127.0.0.1/32",)})
    async with serving(behind_nginx, clock, limits) as server:

        async def visitor(address: str) -> list[str]:
            headers = {"Origin": SITE, "X-Forwarded-For": f"10.0.0.1, {address}"}
            ws = await server.http.ws_connect(server.url + "/ws", headers=headers)
            await ws.send_json({"type": "hello", "token": None})
            await ws.receive_json()
            codes = []
            for _ in range(3):
                await ws.send_json({"type": "message", "text": "где вы находитесь?"})
                while (frame := await ws.receive_json(timeout=5))["type"] not in ("error", "messages") or (
                    frame["type"] == "messages" and frame["messages"][0]["from"] == "patient"
                ):
                    pass
                codes.append(frame.get("code", "ok"))
            await ws.close()
            return codes

        assert await visitor("203.0.113.5") == ["ok", "ok", "rate_limited"]
        assert await visitor("203.0.113.6") == ["ok", "ok", "rate_limited"]
