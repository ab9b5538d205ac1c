"""Per-chat order under concurrent load, and a second poller refused with 409."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from tests.fakes.bot_api import TOKEN, FakeBotApi
from tests.integration.telegram_harness import ADMIN_CHAT, running_bot, telegram_settings


@pytest.fixture
async def api() -> AsyncIterator[FakeBotApi]:
    server = await FakeBotApi().start()
    server.members[ADMIN_CHAT] = {777}
    yield server
    await server.stop()


async def test_each_chat_keeps_its_order_under_load(api: FakeBotApi, tmp_path: Path) -> None:
    settings = telegram_settings(tmp_path, api, telegram_debounce="0s")
    chats = [7000 + i for i in range(20)]
    async with running_bot(settings, api) as run:
        for n in range(8):
            for chat in chats:
                api.message(chat, f"вопрос номер {n}")
        await api.wait_for(lambda: not api.updates and run.runtime.channel.pending == 0, timeout=30)
        await run.runtime.channel.drain()
        for chat in chats:
            state = run.app.store.find(f"telegram:{chat}").state  # type: ignore[union-attr]
            said = [text for who, text in state.history if who == "patient"]
            assert said == [f"вопрос номер {n}" for n in range(8)]
        assert run.runtime.channel.handled == len(chats) * 8


async def test_a_second_poller_gets_409(api: FakeBotApi, tmp_path: Path) -> None:
    settings = telegram_settings(tmp_path, api)
    async with running_bot(settings, api):
        await api.wait_for(lambda: api.method_calls("getUpdates"))
        async with aiohttp.ClientSession() as http:
            url = f"{api.url}/bot{TOKEN}/getUpdates"
            async with http.post(url, data={"timeout": "0"}) as first:
                assert first.status == 200  # the newest poller wins, as on Telegram
        # the bot's own poll was the one terminated; it keeps polling and serving
        api.message(4141, "Здравствуйте")
        await api.wait_sent(4141, 1, timeout=10)
