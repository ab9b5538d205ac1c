"""`run`'s serve() in webhook mode: the webhook is set, the secret header checked, updates answered."""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiohttp

from bot.bootstrap import App
from bot.commands.run import serve
from tests.fakes.bot_api import FakeBotApi
from tests.integration.telegram_harness import telegram_settings

SECRET = "s3cret-token_value"


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
