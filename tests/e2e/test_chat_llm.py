"""`python -m bot chat` with OPENAI_API_KEY set: the real CLI speaks through the fake OpenAI server."""

from __future__ import annotations

import asyncio
import csv
import sys
from pathlib import Path

from tests.bot_env import bot_env
from tests.fakes.openai_api import Answer, FakeOpenAI, last_user_text

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = {
    "Добрый день! Поясницу ломит, можно к вам записаться?": Answer(
        reply="Добрый день! Сочувствую. С болью в пояснице обычно идут к неврологу.",
        fields={"specialty": "Невролог"},
        intents=["booking"],
    ),
    "а где вы находитесь?": Answer(
        reply="Мы на ул. Молодогвардейская, д. 120, рядом остановка «Площадь Революции».",
        intents=["question"],
    ),
    "давайте часиков в одиннадцать": Answer(reply="Хорошо.", fields={"window": "до 14:00"}),
}
LINES = [
    "Добрый день! Поясницу ломит, можно к вам записаться?",
    "да",
    "Ольга",
    "а где вы находитесь?",
    "8 912 345-67-89",
    "давайте часиков в одиннадцать",
    "впервые",
    "да",
]


async def run_chat(tmp_path: Path, base_url: str) -> tuple[int, str, str]:
    env = bot_env(
        tmp_path / "data",
        OPENAI_API_KEY="sk-test",
        OPENAI_BASE_URL=base_url,
        LLM_TOTAL_TIMEOUT="5s",
    )
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "chat",
        "--user",
        "llm",
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        cwd=tmp_path,
        env=env,
    )
    out, err = await asyncio.wait_for(process.communicate(("\n".join(LINES) + "\n").encode()), 90)
    return process.returncode or 0, out.decode(), err.decode()


async def test_chat_books_through_the_model(tmp_path: Path) -> None:
    fake = FakeOpenAI()
    fake.responder = lambda body: SCRIPT.get(last_user_text(body), Answer(reply="Хорошо.", intents=["other"]))
    base_url = await fake.start()
    try:
        code, out, err = await run_chat(tmp_path, base_url)
    finally:
        await fake.close()
    assert code == 0, err
    assert "Молодогвардейская, д. 120" in out  # the model's answer reached the patient
    assert "Заявка принята" in out
    with open(tmp_path / "data" / "leads.csv", encoding="utf-8", newline="") as fh:
        [row] = list(csv.DictReader(fh))
    assert (row["Имя"], row["Телефон"], row["Врач / услуга"], row["Время приёма"], row["Обращение"]) == (
        "Ольга",
        "+79123456789",
        "Невролог",
        "до 14:00",
        "первичное",
    )
    assert len(fake.requests) >= 5
