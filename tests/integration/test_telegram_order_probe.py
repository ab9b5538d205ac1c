"""Per-chat order under concurrent load, a second poller refused with 409, and `check`'s Telegram probe."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from bot.channels.telegram import probe_telegram
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


async def test_probe_reports_token_admin_chat_and_webhook(api: FakeBotApi, tmp_path: Path) -> None:
    settings = telegram_settings(tmp_path, api)
    results = await probe_telegram(settings)
    assert all(ok for ok, _ in results), results
    assert "@clinic_test_bot" in results[0][1]
    missing = await probe_telegram(telegram_settings(tmp_path, api, admin_chat_id=-1009))
    assert not missing[1][0] and "ADMIN_CHAT_ID" in missing[1][1]
    bad = await probe_telegram(telegram_settings(tmp_path, api, telegram_bot_token="1:wrong"))
    assert not bad[0][0] and "TELEGRAM_BOT_TOKEN" in bad[0][1]
