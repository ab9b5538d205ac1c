"""`python -m bot run` with MAX_BOT_TOKEN set serves MAX patients by long polling, stops cleanly, and answers
after kill -9 what it had taken just before."""

from __future__ import annotations

import asyncio
import csv
import signal
import sys
from pathlib import Path

import pytest

from tests.bot_env import bot_env
from tests.fakes.max_api import TOKEN, FakeMaxApi

PATIENT = 7001002


def fake_with_patient() -> FakeMaxApi:
    api = FakeMaxApi()
    api.add_user(PATIENT, "Анна", "Смирнова", "anna_s")
    return api


async def start_service(tmp_path: Path, api_url: str) -> asyncio.subprocess.Process:
    env = bot_env(tmp_path / "data", MAX_BOT_TOKEN=TOKEN, MAX_API_URL=api_url, QUIET_HOURS="")
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "run",
        cwd=tmp_path,
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )


async def until(condition: object, proc: asyncio.subprocess.Process, what: str) -> None:
    for _ in range(2000):
        assert proc.returncode is None, "the service exited early"
        if callable(condition) and condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"not within 20 s: {what}")


@pytest.mark.timeout(90)
async def test_run_answers_max_by_long_polling_and_records_the_lead(tmp_path: Path) -> None:
    api = fake_with_patient()
    proc = await start_service(tmp_path, await api.start())
    try:
        script = ["Здравствуйте, я Анна, хочу к лору утром, повторно, 89171234567", "да", "да"]
        for text in script:
            before = len(api.to(PATIENT))
            api.queue(api.message_created(PATIENT, text))
            await until(lambda b=before: len(api.to(PATIENT)) > b, proc, "an answer")
            await asyncio.sleep(0.2)  # a reply may come in several messages
        assert "Заявка принята" in "\n".join(m["text"] for m in api.to(PATIENT)[-2:])
        proc.send_signal(signal.SIGTERM)
        _, err = await asyncio.wait_for(proc.communicate(), 20)
        assert proc.returncode == 0
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        await api.stop()
    log = err.decode()
    assert "MAX: бот получает сообщения (long polling)" in log
    assert "9171234567" not in log.replace(" ", "").replace("-", "") and "Анна" not in log
    with open(tmp_path / "data" / "leads.csv", encoding="utf-8", newline="") as fh:
        [row] = list(csv.DictReader(fh))
    assert (row["Имя"], row["Телефон"], row["Канал"], row["Контакт"]) == (
        "Анна",
        "+79171234567",
        "max",
        "Анна Смирнова (@anna_s)",
    )


@pytest.mark.timeout(120)
async def test_an_update_polled_just_before_kill_9_is_answered_after_restart(tmp_path: Path) -> None:
    """SIGKILL once the batch is polled and the marker moved on: exactly one answer, from the next run."""
    before_crash, after_crash = fake_with_patient(), fake_with_patient()
    before_crash.gate = asyncio.Event()  # the answer cannot leave before the kill
    procs: list[asyncio.subprocess.Process] = []
    try:
        procs.append(await start_service(tmp_path, await before_crash.start()))
        before_crash.queue(before_crash.message_created(PATIENT, "Здравствуйте"))
        # The next poll asks after the update: the batch and its marker are on disk.
        await until(lambda: "1" in before_crash.markers_asked, procs[0], "the next long poll")
        procs[0].send_signal(signal.SIGKILL)
        assert await procs[0].wait() == -signal.SIGKILL
        assert before_crash.to(PATIENT) == []

        after_crash.updates = list(before_crash.updates)  # MAX keeps the updates; the marker is past them
        procs.append(await start_service(tmp_path, await after_crash.start()))
        await until(lambda: len(after_crash.to(PATIENT)) >= 1, procs[1], "the answer after restart")
        await until(lambda: "1" in after_crash.markers_asked, procs[1], "polling from the kept marker")
        await asyncio.sleep(0.5)
        assert len(after_crash.to(PATIENT)) == 1
        assert "Здоровье Самары" in after_crash.to(PATIENT)[0]["text"]
        assert after_crash.markers_asked[0] == "1"
        procs[1].send_signal(signal.SIGTERM)
        await asyncio.wait_for(procs[1].communicate(), 20)
        assert procs[1].returncode == 0
    finally:
        for proc in procs:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
        before_crash.gate.set()
        await before_crash.stop()
        await after_crash.stop()
