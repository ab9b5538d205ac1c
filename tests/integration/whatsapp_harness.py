"""The service with its HTTP server and the WhatsApp channel, the fake Graph API, and a patient's phone."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import aiohttp
from pydantic import SecretStr

from bot.bootstrap import App, build_app
from bot.channels.whatsapp import GraphClient, WhatsAppChannel, setup_whatsapp
from bot.clock import FakeClock
from bot.config import Settings
from bot.http.server import create_http_app, start_http
from tests.fakes import meta_webhook as meta
from tests.fakes.graph_api import PHONE_NUMBER_ID, TOKEN, FakeGraphAPI

PATIENT = "79123456789"


def whatsapp_settings(settings: Settings, api_url: str) -> Settings:
    return settings.model_copy(
        update={
            "whatsapp_token": SecretStr(TOKEN),
            "whatsapp_phone_number_id": PHONE_NUMBER_ID,
            "whatsapp_app_secret": SecretStr(meta.APP_SECRET),
            "whatsapp_verify_token": SecretStr(meta.VERIFY_TOKEN),
            "whatsapp_api_url": api_url,
        }
    )


@dataclass
class Harness:
    app: App
    graph: FakeGraphAPI
    channel: WhatsAppChannel
    clock: FakeClock
    url: str  # our server's base
    http: aiohttp.ClientSession

    @property
    def webhook(self) -> str:
        return self.url + "/webhook/whatsapp"

    async def post_raw(self, body: bytes, signature: str | None) -> aiohttp.ClientResponse:
        headers = {"Content-Type": "application/json"}
        if signature is not None:
            headers["X-Hub-Signature-256"] = signature
        async with self.http.post(self.webhook, data=body, headers=headers) as response:
            await response.read()
            return response

    async def post(self, payload: dict[str, Any]) -> int:
        """A correctly signed delivery, as Meta sends it; waits for the work it started."""
        body = meta.encode(payload)
        response = await self.post_raw(body, meta.sign(body))
        await self.channel.drain()
        return response.status

    async def deliver(self, payload: dict[str, Any]) -> int:
        """A correctly signed delivery; returns the webhook's status at once, without waiting for the work."""
        body = meta.encode(payload)
        return (await self.post_raw(body, meta.sign(body))).status

    async def crash(self) -> None:
        """Stop as kill -9 would: the work in hand is abandoned where it is, nothing is finished."""
        await self.channel.close(timeout=0)

    def now(self) -> int:
        return int(self.clock.now().timestamp())

    async def send(
        self,
        message: dict[str, Any],
        *,
        wa_id: str = PATIENT,
        name: str = "Ольга",
        message_id: str | None = None,
    ) -> list[dict[str, Any]]:
        """The patient sends one message; returns what the bot sent back to them."""
        before = len(self.graph.to(wa_id))
        status = await self.post(
            meta.message_body(wa_id, message, timestamp=self.now(), name=name, message_id=message_id)
        )
        assert status == 200
        return self.graph.to(wa_id)[before:]

    async def say(self, text: str, **kwargs: Any) -> list[dict[str, Any]]:
        return await self.send(meta.text(text), **kwargs)


def options(replies: list[dict[str, Any]]) -> list[tuple[str, str, str]]:
    """(kind, id, title) of the choices offered in the replies."""
    found = []
    for reply in replies:
        if reply["type"] != "interactive":
            continue
        interactive = reply["interactive"]
        if interactive["type"] == "button":
            found += [
                ("button", b["reply"]["id"], b["reply"]["title"]) for b in interactive["action"]["buttons"]
            ]
        else:
            for section in interactive["action"]["sections"]:
                found += [("list", r["id"], r["title"]) for r in section["rows"]]
    return found


def visible(replies: list[dict[str, Any]]) -> str:
    texts = []
    for reply in replies:
        if reply["type"] == "text":
            texts.append(reply["text"]["body"])
        else:
            texts.append(reply["interactive"]["body"]["text"])
    return "\n".join(texts)


async def press(harness: Harness, replies: list[dict[str, Any]], title_part: str) -> list[dict[str, Any]]:
    """Tap the offered button or list row whose title contains `title_part`."""
    for kind, option_id, title in options(replies):
        if title_part in title:
            message = (
                meta.button_reply(option_id, title) if kind == "button" else meta.list_reply(option_id, title)
            )
            return await harness.send(message)
    raise AssertionError(f"no option with {title_part!r} in {options(replies)}")


@asynccontextmanager
async def running(settings: Settings, clock: FakeClock, **graph_options: Any) -> AsyncIterator[Harness]:
    graph = FakeGraphAPI()
    api_url = await graph.start()
    app = build_app(whatsapp_settings(settings, api_url), clock=clock)
    http_app = create_http_app(app)
    client = GraphClient(api_url, TOKEN, PHONE_NUMBER_ID, base_delay=0.01, max_delay=0.05, **graph_options)
    channel = setup_whatsapp(app, http_app, graph=client)
    runner, port = await start_http(http_app, "127.0.0.1", 0)
    session = aiohttp.ClientSession()
    try:
        yield Harness(app, graph, channel, clock, f"http://127.0.0.1:{port}", session)
    finally:
        await session.close()
        await runner.cleanup()
        await graph.stop()
        app.close()
