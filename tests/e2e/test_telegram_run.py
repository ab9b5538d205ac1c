"""`python -m bot run` with TELEGRAM_BOT_TOKEN set polls the (fake) Bot API, answers, and stops on SIGTERM."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sqlite3
import sys
import time
from pathlib import Path

from tests.fakes.bot_api import TOKEN, FakeBotApi

ROOT = Path(__file__).resolve().parents[2]
ADMIN_CHAT = -100777


def environment(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("TELEGRAM", "OPENAI", "GOOGLE", "WHATSAPP", "WEB_"))
    }
    env.update(
        DATA_DIR=str(tmp_path / "data"),
        KNOWLEDGE_DIR=str(ROOT / "knowledge"),
        PROMPTS_DIR=str(ROOT / "prompts"),
        QUIET_HOURS="",
        **extra,
    )
    return env


async def start(tmp_path: Path, env: dict[str, str]) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "run", cwd=tmp_path, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip


async def stop(proc: asyncio.subprocess.Process) -> tuple[int, str]:
    proc.send_signal(signal.SIGTERM)
    started = time.monotonic()
    _, err = await asyncio.wait_for(proc.communicate(), 10)
    assert time.monotonic() - started < 8, "graceful stop took too long"
    assert proc.returncode is not None
    return proc.returncode, err.decode()


async def test_run_serves_telegram_and_stops_on_sigterm(tmp_path: Path) -> None:
    api = await FakeBotApi().start()
    api.members[ADMIN_CHAT] = {1}
    env = environment(
        tmp_path, TELEGRAM_BOT_TOKEN=TOKEN, TELEGRAM_API_URL=api.url, ADMIN_CHAT_ID=str(ADMIN_CHAT),
        TELEGRAM_DEBOUNCE="0.2s",
    )  # fmt: skip
    proc = await start(tmp_path, env)
    try:
        await api.wait_for(lambda: api.method_calls("getUpdates"), timeout=30)
        api.message(4242, "/start")
        replies = await api.wait_sent(4242, 1, timeout=15)
        assert "Здравствуйте" in replies[0].text or "Добрый день" in replies[0].text
        api.message(4242, "Хочу к лору")  # in hand when SIGTERM comes: still answered
        await asyncio.sleep(0.05)
        code, err = await stop(proc)
        assert code == 0, err
        assert len(api.to(4242)) >= 2
    finally:
        if proc.returncode is None:
            proc.kill()
        await api.stop()


async def test_run_without_any_channel_says_so(tmp_path: Path) -> None:
    proc = await start(tmp_path, environment(tmp_path))
    assert proc.stderr is not None
    line = await asyncio.wait_for(proc.stderr.readline(), 20)
    text = line.decode()
    while "TELEGRAM_BOT_TOKEN" not in text:
        line = await asyncio.wait_for(proc.stderr.readline(), 20)
        assert line, text
        text = line.decode()
    code, _ = await stop(proc)
    assert code == 0


async def test_a_message_in_hand_at_kill_9_is_answered_after_the_restart(tmp_path: Path) -> None:
    """Telegram forgets an update once the next poll confirms it: the bot keeps it until it has answered."""
    api = await FakeBotApi().start()
    env = environment(tmp_path, TELEGRAM_BOT_TOKEN=TOKEN, TELEGRAM_API_URL=api.url, TELEGRAM_DEBOUNCE="3s")
    proc = await start(tmp_path, env)
    try:
        await api.wait_for(lambda: api.method_calls("getUpdates"), timeout=30)
        api.message(4242, "/start")
        await api.wait_sent(4242, 1, timeout=15)
        update_id = api.message(4242, "Хочу записаться к лору")["update_id"]
        # the next getUpdates confirmed it (Telegram will not send it again); the 3 s window is still open
        await api.wait_for(
            lambda: any(int(c.get("offset") or 0) > update_id for c in api.method_calls("getUpdates")),
            timeout=10,
        )
        await asyncio.sleep(0.3)
        proc.kill()
        await proc.wait()
        assert len(api.to(4242)) == 1, "answered before the kill: the test did not test anything"
        proc = await start(tmp_path, env)
        replies = await api.wait_sent(4242, 2, timeout=30)
        assert "лор" in replies[1].text.lower() or "ЛОР" in replies[1].text
        await asyncio.sleep(4)  # a second answer would come after another debounce window
        texts = [s.text for s in api.to(4242)]
        assert len(texts) == len(set(texts)), texts
        code, err = await stop(proc)
        assert code == 0, err
    finally:
        if proc.returncode is None:
            proc.kill()
        await api.stop()


def children_of(pid: int) -> list[int]:
    """Processes whose parent is `pid` (Linux /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def kept(tmp_path: Path) -> list[int]:
    """The Telegram updates the service keeps until they are answered (its inbox in the local record)."""
    with contextlib.closing(sqlite3.connect(tmp_path / "data" / "state.sqlite3")) as db:
        return [int(row[0]) for row in db.execute("SELECT update_id FROM telegram_inbox ORDER BY update_id")]


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


async def test_two_workers_answer_a_kill_9_of_the_main_process_and_a_sigterm(tmp_path: Path) -> None:
    """TELEGRAM_WORKERS=2: the worker answers its chats; when the main process is killed it leaves at once
    (the message it had is answered by the next run, once); SIGTERM stops both, exit 0."""
    api = await FakeBotApi().start()
    env = environment(
        tmp_path, TELEGRAM_BOT_TOKEN=TOKEN, TELEGRAM_API_URL=api.url, TELEGRAM_DEBOUNCE="3s",
        TELEGRAM_WORKERS="2",
    )  # fmt: skip
    odd = 4243  # the worker's chat (Shards.owner(4243) == 1)
    proc = await start(tmp_path, env)
    try:
        await api.wait_for(lambda: api.method_calls("getUpdates"), timeout=30)
        workers = children_of(proc.pid)
        assert len(workers) == 1
        api.message(odd, "/start")
        await api.wait_sent(odd, 1, timeout=15)
        update_id = api.message(odd, "Хочу записаться к лору")["update_id"]
        await api.wait_for(
            lambda: any(int(c.get("offset") or 0) > update_id for c in api.method_calls("getUpdates")),
            timeout=10,
        )
        # "/start" was answered and its worker told the main process so (a kill before that would answer it
        # again after the restart: at least once, never lost); only the new message is still kept
        await api.wait_for(lambda: kept(tmp_path) == [update_id], timeout=10)
        proc.kill()
        await proc.wait()
        await api.wait_for(lambda: not alive(workers[0]), timeout=5)  # it did not answer and linger
        assert len(api.to(odd)) == 1
        proc = await start(tmp_path, env)
        replies = await api.wait_sent(odd, 2, timeout=30)
        assert "лор" in replies[1].text.lower()
        workers = children_of(proc.pid)
        assert len(workers) == 1
        await asyncio.sleep(4)
        texts = [s.text for s in api.to(odd)]
        assert len(texts) == len(set(texts)), texts
        code, err = await stop(proc)
        assert code == 0, err
        assert not alive(workers[0])
    finally:
        if proc.returncode is None:
            proc.kill()
        await api.stop()


async def test_a_message_decided_before_a_kill_9_is_not_decided_again_after_the_restart(
    tmp_path: Path,
) -> None:
    """The turn was committed (here: the lead confirmed) but its reply never reached Telegram: the next run
    sends that turn's reply and does not decide the message again (a second «да, верно» on a confirmed
    booking would get another answer)."""
    api = await FakeBotApi().start()
    env = environment(tmp_path, TELEGRAM_BOT_TOKEN=TOKEN, TELEGRAM_API_URL=api.url, TELEGRAM_DEBOUNCE="0.2s")
    proc = await start(tmp_path, env)
    chat = 4242

    def attempts() -> list[str]:
        return [str(c["text"]) for c in api.method_calls("sendMessage") if int(c["chat_id"]) == chat]

    try:
        await api.wait_for(lambda: api.method_calls("getUpdates"), timeout=30)
        for text in ("Хочу к лору", "да", "Пётр", "+7 912 345-67-00", "до обеда", "повторно"):
            before = len(api.to(chat))
            update_id = api.message(chat, text)["update_id"]
            await api.wait_sent(chat, before + 1, timeout=15)
            await api.wait_for(lambda u=update_id: u not in kept(tmp_path), timeout=10)  # type: ignore[misc]
        assert "Всё верно?" in api.to(chat)[-1].text
        answered = len(api.to(chat))
        api.held.add(chat)  # the reply to the confirmation hangs in Telegram, then the process is killed
        update_id = api.message(chat, "да, верно")["update_id"]
        await api.wait_for(lambda: len(attempts()) == answered + 1, timeout=15)
        held = attempts()[answered]
        assert "Заявка принята" in held
        assert update_id in kept(tmp_path)  # not finished: the next run takes it up again
        proc.kill()
        await proc.wait()
        api.release()
        proc = await start(tmp_path, env)
        replies = await api.wait_sent(chat, answered + 1, timeout=30)
        assert replies[answered].text == held
        await api.wait_for(lambda: kept(tmp_path) == [], timeout=10)
        await asyncio.sleep(1)
        # that turn's replies, once, and nothing else
        assert [s.text for s in api.to(chat)][answered:] == attempts()[answered + 1 :]
        with contextlib.closing(sqlite3.connect(tmp_path / "data" / "state.sqlite3")) as db:
            assert db.execute("SELECT COUNT(*) FROM leads").fetchone()[0] == 1
        code, err = await stop(proc)
        assert code == 0, err
    finally:
        if proc.returncode is None:
            proc.kill()
        await api.stop()
