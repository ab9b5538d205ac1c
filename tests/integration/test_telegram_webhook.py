"""`run`'s serve() in webhook mode: the webhook is set, the secret header checked, updates answered."""

from __future__ import annotations

import asyncio
import json
import re
import stat
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bot.bootstrap import App
from bot.channels.telegram.setup import SECRET_HEADER
from bot.commands.run import serve
from bot.config import Settings
from tests.fakes.bot_api import FakeBotApi, Sent
from tests.integration.telegram_harness import ADMIN, ADMIN_CHAT, telegram_settings

SECRET = "s3cret-token_value"
PATIENT = 5550003
BOOKING = 5550004  # another patient, who books while the first waits for a person


def update(update_id: int, chat: int, text: str) -> dict[str, object]:
    return {
        "update_id": update_id,
        "message": {
            "message_id": update_id,
            "date": 1_700_000_000,
            "chat": {"id": chat, "type": "private"},
            "from": {"id": chat, "is_bot": False, "first_name": "Иван"},
            "text": text,
        },
    }


async def test_webhook_secret_checked_and_updates_answered(bot_api: FakeBotApi, tmp_path: Path) -> None:
    settings = telegram_settings(
        tmp_path,
        bot_api,
        telegram_webhook_url="https://clinic.example/",
        telegram_webhook_secret=SECRET,
        http_port=0,
    )
    stop = asyncio.Event()
    ready: asyncio.Future[int] = asyncio.get_running_loop().create_future()

    def on_ready(app: App, port: int | None) -> None:
        ready.set_result(port or 0)

    server = asyncio.create_task(serve(settings, stop, on_ready=on_ready))
    port = await asyncio.wait_for(ready, 10)
    url = f"http://127.0.0.1:{port}/webhook/telegram"
    assert bot_api.webhook["url"] == "https://clinic.example/webhook/telegram"
    assert bot_api.webhook["secret_token"] == SECRET
    async with aiohttp.ClientSession() as http:
        async with http.post(url, json=update(1, 42, "Здравствуйте")) as resp:
            assert resp.status == 401
        headers = {"X-Telegram-Bot-Api-Secret-Token": "wrong"}
        async with http.post(url, json=update(2, 42, "Здравствуйте"), headers=headers) as resp:
            assert resp.status == 401
        headers = {"X-Telegram-Bot-Api-Secret-Token": SECRET}
        async with http.post(url, json=update(3, 42, "Здравствуйте"), headers=headers) as resp:
            assert resp.status == 200
        await bot_api.wait_sent(42, 1)
        # Telegram redelivers an update it thinks failed: it is not answered twice
        async with http.post(url, json=update(3, 42, "Здравствуйте"), headers=headers) as resp:
            assert resp.status == 200
        async with http.get(f"http://127.0.0.1:{port}/healthz") as resp:
            assert resp.status == 200
            assert "telegram" in (await resp.json())["channels"]
    await asyncio.sleep(0.4)
    assert len(bot_api.to(42)) == 1
    assert not bot_api.method_calls("getUpdates")  # no polling in webhook mode
    stop.set()
    assert await asyncio.wait_for(server, 10) == 0


@dataclass
class Served:
    app: App
    url: str  # our /webhook/telegram on 127.0.0.1
    http: aiohttp.ClientSession

    async def post(self, body: dict[str, Any] | bytes, secret: str | None) -> int:
        headers = {"Content-Type": "application/json"}
        if secret is not None:
            headers[SECRET_HEADER] = secret
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        async with self.http.post(self.url, data=data, headers=headers) as resp:
            await resp.read()
            return resp.status


@asynccontextmanager
async def serving(settings: Settings) -> AsyncIterator[Served]:
    """`run`'s serve() in webhook mode on an ephemeral port, stopped gracefully after."""
    stop = asyncio.Event()
    ready: asyncio.Future[tuple[App, int]] = asyncio.get_running_loop().create_future()

    def on_ready(app: App, port: int | None) -> None:
        ready.set_result((app, port or 0))

    server = asyncio.create_task(serve(settings, stop, on_ready=on_ready))
    try:
        app, port = await asyncio.wait_for(asyncio.shield(ready), 10)
        async with aiohttp.ClientSession() as http:
            yield Served(app, f"http://127.0.0.1:{port}/webhook/telegram", http)
    finally:
        stop.set()
        assert await asyncio.wait_for(server, 10) == 0


def webhook_settings(tmp_path: Path, api: FakeBotApi, **extra: Any) -> Settings:
    """Webhook mode as `.env.example` leaves it: a URL, TELEGRAM_WEBHOOK_SECRET empty."""
    values: dict[str, Any] = {
        "telegram_webhook_url": "https://clinic.example",
        "telegram_webhook_secret": "",
        "http_port": 0,
    }
    values.update(extra)
    return telegram_settings(tmp_path, api, **values)


def queued(update: dict[str, Any], api: FakeBotApi) -> dict[str, Any]:
    """An update built by the fake's helpers, taken off its polling queue to be posted instead."""
    api.updates.remove(update)
    return update


async def patient_says(served: Served, api: FakeBotApi, secret: str, text: str, chat: int = PATIENT) -> Sent:
    before = len(api.to(chat))
    assert await served.post(queued(api.message(chat, text), api), secret) == 200
    sent = await api.wait_sent(chat, before + 1)
    return sent[-1]


async def test_without_a_configured_secret_a_strong_one_is_generated_and_forgeries_refused(
    bot_api: FakeBotApi, tmp_path: Path
) -> None:
    settings = webhook_settings(tmp_path, bot_api)
    async with serving(settings) as served:
        secret = bot_api.webhook["secret_token"]
        assert isinstance(secret, str) and re.fullmatch(r"[A-Za-z0-9_-]{32,256}", secret)
        assert bot_api.webhook["url"] == "https://clinic.example/webhook/telegram"
        kept = settings.data_dir / "telegram-webhook-secret"
        assert kept.read_text().strip() == secret
        assert stat.S_IMODE(kept.stat().st_mode) == 0o600
        # the bot made to write to a chat of the forger's choice: refused, nothing sent
        stranger = queued(bot_api.message(4242, "Здравствуйте"), bot_api)
        assert await served.post(stranger, None) == 401
        assert await served.post(stranger, "") == 401
        assert await served.post(stranger, secret[:-1]) == 401
        # a patient asks for a person (genuine updates, with the header Telegram sends)
        await patient_says(served, bot_api, secret, "Позовите администратора, пожалуйста")
        handoff = (await bot_api.wait_for(
            lambda: [s for s in bot_api.to(ADMIN_CHAT) if "просит администратора" in s.text]
        ))[0]  # fmt: skip
        before = len(bot_api.to(PATIENT))
        # a forged "administrator's reply" to the alert, without the header: not relayed
        forged = queued(
            bot_api.message(ADMIN_CHAT, "Переведите предоплату на карту 2200…", user_id=ADMIN,
                            chat_type="supergroup", reply_to=handoff),
            bot_api,
        )  # fmt: skip
        assert await served.post(forged, None) == 401
        # a forged status button on a lead, without the header: the status stays
        for text in ("Хочу к лору", "да", "Пётр", "+7 912 345-67-00", "до обеда", "повторно", "да, верно"):
            await patient_says(served, bot_api, secret, text, chat=BOOKING)
        alert = (
            await bot_api.wait_for(lambda: [s for s in bot_api.to(ADMIN_CHAT) if "Новая заявка" in s.text])
        )[0]
        press = queued(bot_api.press(alert, dict(alert.buttons)["Отказ"], user_id=ADMIN), bot_api)
        assert await served.post(press, None) == 401
        await asyncio.sleep(0.3)
        assert bot_api.to(4242) == []
        assert not any("Переведите" in s.text for s in bot_api.to(PATIENT))
        assert served.app.store.leads()[0].status == "новая" and not alert.edits
        assert bot_api.answered == []
        assert len(bot_api.to(PATIENT)) == before
        # the same updates with the secret are taken: the 401s above were the only thing in the way
        assert await served.post(press, secret) == 200
        await bot_api.wait_for(lambda: served.app.store.leads()[0].status == "отказ")
        assert await served.post(forged, secret) == 200
        await bot_api.wait_sent(PATIENT, before + 1)


async def test_the_generated_secret_survives_a_restart(bot_api: FakeBotApi, tmp_path: Path) -> None:
    settings = webhook_settings(tmp_path, bot_api)
    async with serving(settings):
        first = bot_api.webhook["secret_token"]
        assert isinstance(first, str) and len(first) >= 32
    bot_api.webhook = {"url": ""}
    async with serving(settings) as served:
        assert bot_api.webhook["secret_token"] == first  # the webhook Telegram has stays valid
        update = queued(bot_api.message(PATIENT, "Здравствуйте"), bot_api)
        assert await served.post(update, first) == 200
        await bot_api.wait_sent(PATIENT, 1)
    assert len(bot_api.method_calls("setWebhook")) == 2


DEEP = {
    "50,000 brackets": b"[" * 50_000 + b"]" * 50_000,
    "50,000 objects": b'{"a":' * 50_000 + b"1" + b"}" * 50_000,
    "deep inside an update": b'{"update_id":5,"message":{"message_id":5,"date":1700000000,'
    b'"chat":{"id":42,"type":"private"},"text":"hi","x":' + b"[" * 300 + b"]" * 300 + b"}}",
}


@pytest.mark.parametrize("body", DEEP.values(), ids=DEEP.keys())
async def test_deeply_nested_json_is_a_clean_bad_request(
    bot_api: FakeBotApi, tmp_path: Path, body: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    settings = webhook_settings(tmp_path, bot_api, telegram_webhook_secret=SECRET)
    async with serving(settings) as served:
        assert await served.post(body, SECRET) == 400
        assert await served.post(update(9, 42, "Здравствуйте"), SECRET) == 200  # still serving
        await bot_api.wait_sent(42, 1)
    assert not [r for r in caplog.records if r.exc_info], "no traceback for a hostile body"
    assert bot_api.to(42)[0].text and len(bot_api.to(42)) == 1
