"""TELEGRAM_WORKERS=2: a second process answers half of the patients' chats, through the real aiogram stack.

The front (this test's process) polls the fake Bot API and forwards a share of the chats to a worker process it starts;
everything a patient and an administrator see must be as with one process: bookings, one lead each in the
CSV, alerts, the handoff relay both ways, a worker's death survived, a graceful stop.
"""

from __future__ import annotations

import asyncio
import csv
import os
import shutil
import signal
from pathlib import Path

import aiohttp
import pytest

from bot.bootstrap import App
from bot.channels.telegram.setup import TelegramRuntime
from bot.channels.telegram.shards import Shards
from bot.commands.run import serve
from bot.dialogue.state import Stage
from tests.fakes.bot_api import FakeBotApi, Sent
from tests.integration.telegram_harness import (
    ADMIN,
    ADMIN_CHAT,
    ROOT,
    Running,
    running_bot,
    telegram_settings,
)
from tests.integration.test_hot_reload import ANSWER, QUESTION

HERE, THERE = 5550004, 5550003  # a chat of the front and one of the worker (Shards.owner: 0 and 1)
BOOKING = ("Хочу к лору", "да", "Пётр", "+7 912 345-67-00", "до обеда", "повторно", "да, верно")


def shards(run: Running) -> Shards:
    assert run.runtime.shards is not None
    assert run.runtime.shards.owner(HERE) == 0 and run.runtime.shards.owner(THERE) == 1
    return run.runtime.shards


async def say(run: Running, chat: int, text: str) -> Sent:
    before = len(run.api.to(chat))
    run.api.message(chat, text, username=f"p{chat}")
    sent = await run.api.wait_sent(chat, before + 1, timeout=15)
    return sent[-1]


def leads(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


async def test_two_processes_book_both_halves_of_the_patients(bot_api: FakeBotApi, tmp_path: Path) -> None:
    settings = telegram_settings(tmp_path, bot_api, telegram_workers=2, telegram_debounce="0s")
    async with running_bot(settings, bot_api) as run:
        worker = shards(run).workers[1]
        assert worker.up and worker.process is not None
        for text in BOOKING:  # the two patients write in turns; each is answered by its own process
            await say(run, HERE, text)
            await say(run, THERE, text)
        # the same conversation from either process (a step may answer with two messages: wait for all)
        await bot_api.wait_for(
            lambda: len(bot_api.to(THERE)) == len(bot_api.to(HERE)) >= len(BOOKING), timeout=10
        )
        assert [s.text for s in bot_api.to(THERE)] == [s.text for s in bot_api.to(HERE)]
        assert any("Заявка принята" in s.text for s in bot_api.to(THERE))
        alerts = await bot_api.wait_for(
            lambda: (found := [s for s in bot_api.to(ADMIN_CHAT) if "Новая заявка" in s.text]) and len(found) == 2
            and found, timeout=10,
        )  # fmt: skip
        assert any(f"@p{THERE}" in a.text for a in alerts) and any(f"@p{HERE}" in a.text for a in alerts)
        # the worker's lead reached the CSV, delivered by the front, once
        rows = await bot_api.wait_for(
            lambda: len(found := leads(settings.leads_csv)) == 2 and found, timeout=10
        )
        assert sorted(r["Контакт"] for r in rows) == sorted([f"@p{HERE}", f"@p{THERE}"])
        assert run.runtime.shard_router is not None
        assert run.runtime.shard_router.forwarded == len(BOOKING)  # the worker chat's updates, and only those
        # status buttons on the worker's alert work from the front (the alert book is shared)
        their_alert = next(a for a in alerts if f"@p{THERE}" in a.text)
        bot_api.press(their_alert, dict(their_alert.buttons)["Записан"], user_id=ADMIN)
        await bot_api.wait_for(lambda: their_alert.edits)
        assert [r["Статус"] for r in leads(settings.leads_csv) if r["Контакт"] == f"@p{THERE}"] == ["записан"]
        process = worker.process
    assert process.returncode == 0  # asked to stop, it finished and exited cleanly


async def test_handoff_to_a_worker_s_patient_both_ways(bot_api: FakeBotApi, tmp_path: Path) -> None:
    settings = telegram_settings(tmp_path, bot_api, telegram_workers=2, telegram_debounce="0s")
    async with running_bot(settings, bot_api) as run:
        await say(run, THERE, "Здравствуйте, у меня вопрос про анализы")
        await say(run, THERE, "Позовите администратора, пожалуйста")
        handoff = (
            await bot_api.wait_for(
                lambda: [s for s in bot_api.to(ADMIN_CHAT) if "просит администратора" in s.text]
            )
        )[0]
        before = len(bot_api.to(THERE))
        bot_api.message(ADMIN_CHAT, "Анализы сдаются натощак, с 8 до 11.", user_id=ADMIN, chat_type="supergroup",
                    reply_to=handoff)  # fmt: skip
        await bot_api.wait_sent(THERE, before + 1, timeout=10)
        assert bot_api.to(THERE)[-1].text == "Анализы сдаются натощак, с 8 до 11."
        # the worker sees the handoff the front saved: it relays instead of answering
        before = len(bot_api.to(THERE))
        bot_api.message(THERE, "Спасибо! А в субботу можно?")
        relayed = await bot_api.wait_for(
            lambda: [s for s in bot_api.to(ADMIN_CHAT) if "в субботу можно" in s.text]
        )
        assert len(bot_api.to(THERE)) == before
        assert run.app.store.find(f"telegram:{THERE}").state.stage == Stage.HANDOFF  # type: ignore[union-attr]
        bot_api.press(relayed[0], "hb", user_id=ADMIN)
        await bot_api.wait_sent(THERE, before + 1, timeout=10)
        assert "снова на связи" in bot_api.to(THERE)[-1].text
        reply = await say(run, THERE, "Где вы находитесь?")
        assert reply.text and "в субботу" not in reply.text


async def test_a_worker_that_dies_is_replaced_and_no_patient_is_left_unanswered(
    bot_api: FakeBotApi, tmp_path: Path
) -> None:
    settings = telegram_settings(tmp_path, bot_api, telegram_workers=2, telegram_debounce="0s")
    async with running_bot(settings, bot_api) as run:
        front = shards(run)
        front.restart_after = (0.5,)
        worker = front.workers[1]
        await say(run, THERE, "Хочу к лору")
        assert worker.process is not None
        # the worker told the front it answered (a crash before that would answer the message again)
        await bot_api.wait_for(
            lambda: not run.app.db.query("SELECT update_id FROM telegram_inbox"), timeout=5
        )
        os.kill(worker.process.pid, signal.SIGKILL)
        await bot_api.wait_for(lambda: not worker.up, timeout=5)
        reply = await say(run, THERE, "да")  # answered by the front meanwhile, the conversation intact
        assert "имя" in reply.text.lower() or "обращаться" in reply.text.lower()
        await bot_api.wait_for(lambda: worker.up and front.restarts == 1, timeout=30)
        reply = await say(run, THERE, "Пётр")  # and by the new worker once it is up
        assert "телефон" in reply.text.lower()
        # every update is finished (the worker reports it just after its reply)
        await bot_api.wait_for(
            lambda: not run.app.db.query("SELECT update_id FROM telegram_inbox"), timeout=5
        )


async def test_a_worker_that_cannot_start_leaves_its_chats_to_the_front(
    bot_api: FakeBotApi, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PYTHONPATH", str(tmp_path / "nowhere"))
    monkeypatch.setattr("bot.channels.telegram.shards.sys.executable", "/bin/false")
    settings = telegram_settings(tmp_path, bot_api, telegram_workers=2, telegram_debounce="0s")
    async with running_bot(settings, bot_api) as run:
        shards(run).restart_after = (3600.0,)
        assert not shards(run).workers[1].up
        reply = await say(run, THERE, "Хочу к лору")
        assert "ЛОР" in reply.text


async def test_webhook_mode_and_hot_reload_reach_the_worker(bot_api: FakeBotApi, tmp_path: Path) -> None:
    """Webhook updates of a worker's chat are forwarded too; an FAQ edit is answered by the worker."""
    knowledge = tmp_path / "knowledge"
    shutil.copytree(ROOT / "knowledge", knowledge)
    settings = telegram_settings(
        tmp_path, bot_api, telegram_workers=2, telegram_debounce="0s", knowledge_dir=knowledge,
        telegram_webhook_url="https://clinic.example/", telegram_webhook_secret="s3cret", http_port=0,
    )  # fmt: skip
    stop = asyncio.Event()
    ready: asyncio.Future[tuple[App, int]] = asyncio.get_running_loop().create_future()
    server = asyncio.create_task(
        serve(settings, stop, on_ready=lambda app, port: ready.set_result((app, port or 0)))
    )
    app, port = await asyncio.wait_for(ready, 30)
    runtime = app.extras["telegram"]
    assert isinstance(runtime, TelegramRuntime) and runtime.shard_router is not None
    url = f"http://127.0.0.1:{port}/webhook/telegram"
    headers = {"X-Telegram-Bot-Api-Secret-Token": "s3cret"}

    async def ask(update_id: int, text: str) -> str:
        before = len(bot_api.to(THERE))
        body = {"update_id": update_id, "message": {
            "message_id": update_id, "date": 1_700_000_000, "chat": {"id": THERE, "type": "private"},
            "from": {"id": THERE, "is_bot": False, "first_name": "Иван"}, "text": text}}  # fmt: skip
        async with aiohttp.ClientSession() as http, http.post(url, json=body, headers=headers) as resp:
            assert resp.status == 200
        return (await bot_api.wait_sent(THERE, before + 1, timeout=15))[-1].text

    try:
        assert ANSWER not in await ask(1, "Здравствуйте! Можно ли прийти с собакой?")
        faq = knowledge / "faq.md"
        faq.write_text(faq.read_text(encoding="utf-8") + f"\n{QUESTION}{ANSWER}\n", encoding="utf-8")
        stat = faq.stat()
        os.utime(faq, ns=(stat.st_atime_ns, stat.st_mtime_ns + 2_000_000_000))
        deadline = asyncio.get_running_loop().time() + 20
        update_id, answer = 2, ""
        while ANSWER not in answer and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(1)
            answer = await ask(update_id, "Можно ли прийти с собакой?")
            update_id += 1
        assert ANSWER in answer
        assert runtime.shard_router.forwarded == update_id - 1  # every one was the worker's
    finally:
        stop.set()
        assert await asyncio.wait_for(server, 15) == 0
