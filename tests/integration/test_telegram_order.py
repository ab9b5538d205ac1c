"""Per-chat order under concurrent load, and a second poller refused with 409."""

from __future__ import annotations

from pathlib import Path

import aiohttp

from tests.fakes.bot_api import TOKEN, FakeBotApi
from tests.integration.telegram_harness import running_bot, telegram_settings


async def test_each_chat_keeps_its_order_under_load(bot_api: FakeBotApi, tmp_path: Path) -> None:
    settings = telegram_settings(tmp_path, bot_api, telegram_debounce="0s")
    chats = [7000 + i for i in range(20)]
    async with running_bot(settings, bot_api) as run:
        for n in range(8):
            for chat in chats:
                bot_api.message(chat, f"вопрос номер {n}")
        await bot_api.wait_for(lambda: not bot_api.updates and run.runtime.channel.pending == 0, timeout=30)
        await run.runtime.channel.drain()
        for chat in chats:
            state = run.app.store.find(f"telegram:{chat}").state  # type: ignore[union-attr]
            said = [text for who, text in state.history if who == "patient"]
            assert said == [f"вопрос номер {n}" for n in range(8)]
        assert run.runtime.channel.handled == len(chats) * 8


async def test_a_second_poller_gets_409(bot_api: FakeBotApi, tmp_path: Path) -> None:
    settings = telegram_settings(tmp_path, bot_api)
    async with running_bot(settings, bot_api):
        await bot_api.wait_for(lambda: bot_api.method_calls("getUpdates"))
        async with aiohttp.ClientSession() as http:
            url = f"{bot_api.url}/bot{TOKEN}/getUpdates"
            async with http.post(url, data={"timeout": "0"}) as first:
                assert first.status == 200  # the newest poller wins, as on Telegram
        # the bot's own poll was the one terminated; it keeps polling and serving
        bot_api.message(4141, "Здравствуйте")
        await bot_api.wait_sent(4141, 1, timeout=10)
