"""The service with the MAX channel (webhook or long polling), the fake MAX Bot API, and a patient."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import aiohttp
from pydantic import SecretStr

from bot.bootstrap import App, build_app
from bot.channels.max import SECRET_HEADER, MaxChannel, MaxClient, MaxRuntime, build_max_admin, setup_max
from bot.clock import FakeClock
from bot.config import Settings
from bot.http.server import create_http_app, start_http
from tests.fakes.max_api import TOKEN, FakeMaxApi

PATIENT = 4242001
ADMIN = 4242777
ADMIN_CHAT = -70000123
SECRET = "max-webhook-secret-for-tests"
PUBLIC_URL = "https://clinic.example/webhook/max"


def max_settings(settings: Settings, api_url: str, *, webhook: bool) -> Settings:
    update: dict[str, Any] = {"max_bot_token": SecretStr(TOKEN), "max_api_url": api_url}
    if webhook:
        update |= {"max_webhook_url": PUBLIC_URL, "max_webhook_secret": SecretStr(SECRET)}
    return settings.model_copy(update=update)


@dataclass
class Harness:
    app: App
    api: FakeMaxApi
    runtime: MaxRuntime
    url: str  # our server's base
    http: aiohttp.ClientSession
    webhook: bool

    @property
    def channel(self) -> MaxChannel:
        return self.runtime.channel

    async def post_raw(self, update: dict[str, Any], secret: str | None) -> int:
        headers = {SECRET_HEADER: secret} if secret is not None else {}
        async with self.http.post(self.url + "/webhook/max", json=update, headers=headers) as response:
            await response.read()
            return response.status

    async def deliver(self, update: dict[str, Any]) -> None:
        """MAX delivers one update (webhook or the next long poll) and the work it started is done."""
        seen = self.channel.counts["received"] + self.channel.counts["duplicate"]
        if self.webhook:
            assert await self.post_raw(update, SECRET) == 200
        else:
            self.api.queue(update)
            for _ in range(1000):  # the poller takes it within one round trip
                if self.channel.counts["received"] + self.channel.counts["duplicate"] > seen:
                    break
                await asyncio.sleep(0.01)
            else:
                raise AssertionError("the polled update was not taken")
        await self.channel.drain()

    async def send(self, update: dict[str, Any], user_id: int = PATIENT) -> list[dict[str, Any]]:
        before = len(self.api.to(user_id))
        await self.deliver(update)
        return self.api.to(user_id)[before:]

    async def say(self, text: str, user_id: int = PATIENT) -> list[dict[str, Any]]:
        return await self.send(self.api.message_created(user_id, text), user_id)

    async def press(
        self, replies: list[dict[str, Any]], label_part: str, user_id: int = PATIENT
    ) -> list[dict[str, Any]]:
        """Tap the callback button whose label contains `label_part` on the last keyboard shown."""
        for message in reversed(replies):
            for button in buttons(message):
                if button["type"] == "callback" and label_part in button["text"]:
                    return await self.send(self.api.press(user_id, message, button["payload"]), user_id)
        raise AssertionError(f"no button with {label_part!r} in {[buttons(m) for m in replies]}")


def buttons(message: dict[str, Any]) -> list[dict[str, Any]]:
    found = []
    for attachment in message["attachments"]:
        if attachment["type"] == "inline_keyboard":
            found += [b for row in attachment["payload"]["buttons"] for b in row]
    return found


def visible(replies: list[dict[str, Any]]) -> str:
    return "\n".join(m["text"] for m in replies)


@asynccontextmanager
async def running(
    settings: Settings, clock: FakeClock, *, webhook: bool = False, admin_chat: int | None = None
) -> AsyncIterator[Harness]:
    """The service; with `admin_chat`, MAX_ADMIN_CHAT_ID is that group chat (member ADMIN)."""
    api = FakeMaxApi()
    api_url = await api.start()
    api.add_user(PATIENT, "Ольга", "Петрова", "olga_p")
    configured = max_settings(settings, api_url, webhook=webhook)
    client = MaxClient(api_url, TOKEN, base_delay=0.01, max_delay=0.05)
    admin = None
    if admin_chat is not None:
        api.chats.add(admin_chat)
        api.add_user(ADMIN, "Елена", "Викторовна")
        configured = configured.model_copy(update={"max_admin_chat_id": admin_chat})
        admin = build_max_admin(configured, client, clock)
    app = build_app(configured, clock=clock, notifier=admin)
    http_app = create_http_app(app)
    runtime = setup_max(app, http_app, client=client, admin=admin)
    runner, port = await start_http(http_app, "127.0.0.1", 0)
    await runtime.start(polling_timeout=1)
    session = aiohttp.ClientSession()
    try:
        yield Harness(app, api, runtime, f"http://127.0.0.1:{port}", session, webhook)
    finally:
        await session.close()
        await runner.cleanup()
        await runtime.stop(timeout=1)
        await api.stop()
        app.close()
