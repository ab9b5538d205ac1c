"""The service's HTTP server with the site widget on 127.0.0.1, and a widget client speaking its protocol."""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from bot.bootstrap import App, build_app
from bot.channels.web import WebChannel, WebLimits, setup_web
from bot.clock import FakeClock
from bot.config import Settings
from bot.http.server import create_http_app, start_http

SITE = "https://zdorovie-samara.example.ru"
# Two valid tokens whose SHA-256 share the first 40 bits: the old 8-character session id of both was the same
# (found by a birthday search in about a second), so either opened the other's conversation.
TWINS = ("collision-probe-00000000000000200229", "collision-probe-00000000000000861066")


def web_settings(settings: Settings, *, demo: bool = True) -> Settings:
    """The widget for SITE; HTTP_PORT 0 as `serving` binds any free port (the demo's own origin is that)."""
    return settings.model_copy(update={"web_allowed_origins": (SITE,), "web_demo": demo, "http_port": 0})


def key_of(token: str) -> str:
    """The conversation's key in the transcript (the token's SHA-256); `web:` + it in the state store."""
    return hashlib.sha256(token.encode("ascii")).hexdigest()


@dataclass
class Server:
    app: App
    channel: WebChannel
    url: str
    http: aiohttp.ClientSession

    async def post(self, path: str, body: Any, origin: str | None = SITE) -> tuple[int, dict[str, Any]]:
        headers = {"Content-Type": "text/plain;charset=UTF-8"}
        if origin:
            headers["Origin"] = origin
        data = body if isinstance(body, bytes) else json.dumps(body, ensure_ascii=False)
        async with self.http.post(self.url + path, data=data, headers=headers) as response:
            return response.status, await response.json()

    async def widget(self, token: str | None = None, origin: str = SITE) -> Widget:
        ws = await self.http.ws_connect(self.url + "/ws", headers={"Origin": origin})
        widget = Widget(ws)
        await ws.send_json({"type": "hello", "token": token})
        widget.hello = await widget.next("session")
        return widget


@dataclass
class Widget:
    """One open widget on the WebSocket: what it sent and every frame it got."""

    ws: aiohttp.ClientWebSocketResponse
    hello: dict[str, Any] = field(default_factory=dict)
    frames: list[dict[str, Any]] = field(default_factory=list)

    @property
    def token(self) -> str:
        return str(self.hello["token"])

    @property
    def key(self) -> str:
        return key_of(self.token)

    async def next(self, kind: str | None = None, timeout: float = 5.0) -> dict[str, Any]:
        while True:
            frame = await self.ws.receive_json(timeout=timeout)
            self.frames.append(frame)
            if kind is None or frame.get("type") == kind:
                return frame

    async def bot_messages(self, timeout: float = 5.0) -> list[dict[str, Any]]:
        """Frames until the bot's answer (a `messages` frame from the bot), or an error frame."""
        while True:
            frame = await self.next(timeout=timeout)
            if frame["type"] == "error":
                return [frame]
            if frame["type"] == "messages" and frame["messages"][0]["from"] == "bot":
                return list(frame["messages"])

    async def say(self, text: str) -> list[dict[str, Any]]:
        await self.ws.send_json({"type": "message", "text": text})
        return await self.bot_messages()

    async def press(self, replies: list[dict[str, Any]], label: str) -> list[dict[str, Any]]:
        """Press the offered button whose label starts with `label`."""
        buttons = [b for m in replies for b in m.get("buttons", [])]
        button = next(b for b in buttons if b["label"].startswith(label))
        await self.ws.send_json({"type": "choice", "data": button["data"], "label": button["label"]})
        return await self.bot_messages()

    async def start(self) -> list[dict[str, Any]]:
        await self.ws.send_json({"type": "start"})
        return await self.bot_messages()

    async def close(self) -> None:
        await self.ws.close()


def text_of(replies: list[dict[str, Any]]) -> str:
    return "\n".join(str(r.get("text", "")) for r in replies)


def labels(replies: list[dict[str, Any]]) -> list[str]:
    return [b["label"] for m in replies for b in m.get("buttons", [])]


@asynccontextmanager
async def serving(
    settings: Settings, clock: FakeClock, limits: WebLimits | None = None
) -> AsyncIterator[Server]:
    app = build_app(settings, clock=clock)
    http_app = create_http_app(app)
    channel = setup_web(app, http_app, limits=limits)
    runner, port = await start_http(http_app, "127.0.0.1", 0)
    try:
        async with aiohttp.ClientSession() as http:
            yield Server(app, channel, f"http://127.0.0.1:{port}", http)
    finally:
        await runner.cleanup()
        await asyncio.sleep(0)
        app.close()
