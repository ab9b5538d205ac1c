"""The widget attacked from 127.0.0.1: taking over a session, made-up tokens, a flood of new conversations,
frames that are not clean JSON, a forged X-Forwarded-For, a forged Host header with the demo page on."""

from __future__ import annotations

import json
import logging
import secrets
import time
from typing import Any

import aiohttp
import pytest

from bot.channels.web import WebLimits
from bot.clock import FakeClock
from bot.config import Settings
from bot.dialogue.messages import Address, Outgoing
from tests.integration.web_harness import SITE, TWINS, Server, serving, text_of, web_settings

BOOKING = ("хочу к лору", "да", "Ольга", "8 912 345-67-89")


def made_up() -> str:
    """A well-formed token this server never issued."""
    return secrets.token_urlsafe(32)


async def hello(server: Server, token: object, headers: dict[str, str] | None = None) -> dict[str, Any]:
    """The first frame a socket gets after its hello (the session, or a refusal)."""
    ws = await server.http.ws_connect(server.url + "/ws", headers={"Origin": SITE, **(headers or {})})
    await ws.send_json({"type": "hello", "token": token})
    frame: dict[str, Any] = await ws.receive_json(timeout=5)
    await ws.close()
    return frame


async def test_a_token_with_the_same_short_id_does_not_open_her_conversation(
    settings: Settings, clock: FakeClock
) -> None:
    async with serving(web_settings(settings), clock) as server:
        victim = await server.widget(TWINS[0])
        await victim.start()
        for text in BOOKING:
            await victim.say(text)
        intruder = await server.widget(TWINS[1])
        seen = json.dumps(intruder.hello, ensure_ascii=False)
        assert intruder.hello["messages"] == [] and "Ольга" not in seen and "345" not in seen
        assert intruder.token != victim.token and intruder.key != victim.key
        assert any("Ольга" in entry.text for entry in server.channel.transcript.after(victim.key))
        assert server.app.store.find(f"web:{victim.key}") is not None  # keyed on the token's whole SHA-256
        # Neither is the label the patient's `Контакт` shows a way in.
        stranger = await server.widget(victim.hello["session"])
        assert stranger.hello["messages"] == [] and stranger.token != victim.token
        back = await server.widget(victim.token)  # her own token still opens her conversation
        assert [m["text"] for m in back.hello["messages"] if m["from"] == "patient"] == list(BOOKING)
        for widget in (victim, intruder, stranger, back):
            await widget.close()


async def test_made_up_tokens_are_failed_resumes_limited_per_address_and_logged(
    settings: Settings, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    limits = WebLimits(new_sessions_burst=100)  # failed resumes: the defaults, 10 in a row, then 2 a minute
    caplog.set_level(logging.INFO, logger="bot.channels.web")
    async with serving(web_settings(settings), clock, limits) as server:
        patient = await server.widget()
        await patient.start()
        tried = [made_up() for _ in range(13)]
        now = [0.0]
        for n, token in enumerate(tried[:10]):  # an unknown token gets a new, empty session of ours
            answer = await hello(server, token)
            assert answer["type"] == "session" and answer["token"] != token and answer["messages"] == []
            if n == 0:  # from here the limiter's clock is the test's
                now[0] = time.monotonic()
                server.channel.failed_resumes.now = lambda: now[0]
        refused = await hello(server, tried[10])
        assert (refused["type"], refused["code"]) == ("error", "too_many_attempts")
        assert "Слишком много попыток" in refused["text"]
        status, body = await server.post("/web/session", {"token": tried[11]})
        assert (status, body["code"]) == (429, "too_many_attempts")
        status, body = await server.post(
            "/web/message", {"token": tried[12], "type": "message", "text": "да"}
        )
        assert (status, body["code"]) == (429, "too_many_attempts")
        # While the address is refused, no answer tells a right guess from a wrong one.
        assert (await hello(server, patient.token))["code"] == "too_many_attempts"
        now[0] += 30.0  # half a minute later one more resume is let through
        assert (await hello(server, patient.token))["token"] == patient.token
        assert server.channel.sessions.count() == 11  # the patient's and the ten made-up tokens' new ones
    assert caplog.text.count("неизвестный токен сессии от 127.0.0.1") == 10
    assert caplog.text.count("продолжение сессий отклонено") == 1
    for token in tried:
        assert token not in caplog.text


async def test_client_made_tokens_count_against_the_new_session_limit(
    settings: Settings, clock: FakeClock
) -> None:
    limits = WebLimits(new_sessions_burst=3, new_sessions_per_minute=0.001)
    async with serving(web_settings(settings), clock, limits) as server:
        refused = 0
        for _ in range(5):
            ws = await server.http.ws_connect(server.url + "/ws", headers={"Origin": SITE})
            await ws.send_json({"type": "hello", "token": made_up()})
            frame = await ws.receive_json(timeout=5)
            if frame["type"] == "error":
                assert frame["code"] == "too_many_sessions"
                refused += 1
            else:
                await ws.send_json({"type": "start"})
                while (await ws.receive_json(timeout=5))["type"] != "messages":
                    pass
            await ws.close()
        for _ in range(5):  # the HTTP fallback shares the limit
            status, body = await server.post("/web/session", {"token": made_up(), "start": True})
            if status == 429:
                assert body["code"] == "too_many_sessions"
                refused += 1
        assert refused == 7
        assert server.app.store.count() == 3 and server.channel.sessions.count() == 3


async def test_a_lone_surrogate_or_deep_nesting_gets_a_polite_refusal_and_the_chat_goes_on(
    settings: Settings, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    deep = "[" * 3000 + "]" * 3000
    frames = [
        '{"type": "message", "text": "\\ud800"}',
        '{"type": "choice", "data": "x", "label": "\\udfff ЛОР"}',
        deep,
        '{"type": "message", "text": ' + deep + "}",
    ]
    async with serving(web_settings(settings), clock) as server:
        widget = await server.widget()
        await widget.start()
        for frame in frames:
            await widget.ws.send_str(frame)
            refusal = await widget.next("error")
            assert refusal["code"] == "bad_request" and "Не получилось прочитать" in refusal["text"]
        replies = await widget.say("где вы находитесь?")  # the same socket, the same session
        assert replies[0].get("type") != "error" and text_of(replies)
        ws = await server.http.ws_connect(server.url + "/ws", headers={"Origin": SITE})
        await ws.send_str(deep)  # as the hello
        assert (await ws.receive_json(timeout=5))["code"] == "bad_request"
        await ws.close()
        for path in ("/web/message", "/web/session", "/web/poll"):
            for frame in frames:
                body = frame.replace('{"type"', f'{{"token": "{widget.token}", "type"', 1).encode()
                status, answer = await server.post(path, body)
                assert (status, answer["code"]) == (400, "bad_request"), (path, frame[:40])
        status, answer = await server.post(
            "/web/message", {"token": widget.token, "type": "message", "text": "спасибо"}
        )
        assert status == 200 and answer["messages"][0]["text"] == "спасибо"
    assert "Traceback" not in caplog.text
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


async def visitor(server: Server, forwarded: str, messages: int = 3) -> list[str]:
    """A widget whose requests say `X-Forwarded-For: forwarded`: how each of its messages was answered."""
    ws = await server.http.ws_connect(
        server.url + "/ws", headers={"Origin": SITE, "X-Forwarded-For": forwarded}
    )
    await ws.send_json({"type": "hello", "token": None})
    await ws.receive_json(timeout=5)
    codes = []
    for _ in range(messages):
        await ws.send_json({"type": "message", "text": "где вы находитесь?"})
        while True:
            frame = await ws.receive_json(timeout=5)
            if frame["type"] == "error" or (
                frame["type"] == "messages" and frame["messages"][0]["from"] == "bot"
            ):
                break
        codes.append(frame.get("code", "ok"))
    await ws.close()
    return codes


async def test_forwarded_for_is_ignored_unless_the_peer_is_a_trusted_proxy(
    settings: Settings, clock: FakeClock
) -> None:
    limits = WebLimits(session_burst=100, ip_burst=2, ip_per_minute=0.001)
    async with serving(web_settings(settings), clock, limits) as server:  # TRUSTED_PROXIES empty
        assert await visitor(server, "203.0.113.5") == ["ok", "ok", "rate_limited"]
        assert await visitor(server, "203.0.113.6") == ["rate_limited"] * 3  # the same peer: one bucket
    trusted = web_settings(settings).model_copy(update={"trusted_proxies": ("127.0.0.1/32",)})
    async with serving(trusted, clock, limits) as server:
        assert await visitor(server, "203.0.113.5") == ["ok", "ok", "rate_limited"]
        # What the visitor wrote before our proxy's entry (the left) does not give a new bucket.
        assert await visitor(server, "198.51.100.1, 203.0.113.5") == ["rate_limited"] * 3


async def test_the_demo_origin_comes_from_the_settings_not_the_host_header(
    settings: Settings, clock: FakeClock
) -> None:
    async with serving(web_settings(settings), clock) as server:
        port = server.url.rsplit(":", 1)[1]
        for host in ("evil.example", f"evil.example:{port}"):
            forged = {"Origin": f"http://{host}", "Host": host}
            with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
                await server.http.ws_connect(server.url + "/ws", headers=forged)
            assert refused.value.status == 403
            async with server.http.post(server.url + "/web/session", data=b"{}", headers=forged) as response:
                assert response.status == 403
        for origin in (server.url, f"http://localhost:{port}"):  # the demo page itself still works
            assert (await hello(server, None, {"Origin": origin}))["type"] == "session"
    everywhere = web_settings(settings).model_copy(update={"http_host": "0.0.0.0"})
    async with serving(everywhere, clock) as server:
        port = server.url.rsplit(":", 1)[1]
        assert (await hello(server, None, {"Origin": f"http://localhost:{port}"}))["type"] == "session"
        with pytest.raises(aiohttp.WSServerHandshakeError):
            forged = {"Origin": f"http://evil.example:{port}", "Host": f"evil.example:{port}"}
            await server.http.ws_connect(server.url + "/ws", headers=forged)


async def test_conversations_of_the_old_short_ids_are_not_written_to(
    settings: Settings, clock: FakeClock
) -> None:
    async with serving(web_settings(settings), clock) as server:
        old = Address("web", "W7KQ2M9X", "W7KQ2M9X")  # a widget conversation keyed before the whole hash
        assert await server.app.messengers.send(old, [Outgoing("Перезвоню через 5 минут.")]) is False
        assert server.channel.transcript.after("W7KQ2M9X") == []
