"""`python -m bot chat` as a subprocess, fed by a pipe, as the contract says."""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

import pytest

from tests.bot_env import bot_env

ROOT = Path(__file__).resolve().parents[2]


def chat(tmp_path: Path, lines: list[str], user: str = "e2e") -> str:
    env = bot_env(tmp_path / "data")
    result = subprocess.run(
        [sys.executable, "-m", "bot", "chat", "--user", user],
        input="\n".join(lines) + "\n",
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=90,
    )
    assert result.returncode == 0, result.stderr
    assert "\x1b[" not in result.stdout  # no colours when not a TTY
    return result.stdout


def rows(tmp_path: Path) -> list[dict[str, str]]:
    path = tmp_path / "data" / "leads.csv"
    if not path.exists():
        return []
    with open(path, encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def test_complete_booking_lands_in_the_csv(tmp_path: Path) -> None:
    out = chat(tmp_path, ["Здравствуйте, я Ольга, хочу к лору после обеда, впервые, 89123456789", "да", "да"])
    assert "Заявка принята" in out
    [row] = rows(tmp_path)
    assert list(row) == [
        "ID",
        "Дата и время",
        "Имя",
        "Телефон",
        "Врач / услуга",
        "Время приёма",
        "Обращение",
        "Канал",
        "Контакт",
        "Комментарий",
        "Статус",
    ]
    assert row["Имя"] == "Ольга" and row["Телефон"] == "+79123456789" and row["Врач / услуга"] == "ЛОР"
    assert row["Канал"] == "console" and row["Статус"] == "новая"


def test_buttons_answer_by_number_and_label(tmp_path: Path) -> None:
    out = chat(tmp_path, ["хочу к Смирновой", "1", "Анна", "8 (912) 345-67-89", "До 14:00", "2", "1"])
    assert "[1]" in out
    [row] = rows(tmp_path)
    assert row["Врач / услуга"] == "Смирнова Елена Викторовна (ЛОР)"
    assert row["Время приёма"] == "до 14:00" and row["Обращение"] == "повторное"


def test_correction_mid_booking_question_and_second_session(tmp_path: Path) -> None:
    chat(tmp_path, ["хочу к неврологу", "да", "а где вы находитесь?", "Игорь"], user="u2")
    out = chat(
        tmp_path, ["89123456789", "утром", "впервые", "нет, телефон другой: 89271234567", "да"], user="u2"
    )
    assert "Игорь" in out  # the second `chat --user` continued the same conversation
    [row] = rows(tmp_path)
    assert row["Телефон"] == "+79271234567" and row["Имя"] == "Игорь"


def test_ambiguous_surname_and_unknown_doctor(tmp_path: Path) -> None:
    out = chat(tmp_path, ["хочу к Пупкину", "тогда к Иванову", "к терапевту"])
    assert "Пупкин" in out
    assert "Иванов Сергей Николаевич" in out and "Иванова Марина Сергеевна" in out


def test_declined_consent_and_restart(tmp_path: Path) -> None:
    out = chat(tmp_path, ["я Анна, 89123456789, хочу к лору", "нет", "/start", "начать заново"])
    assert "+7 (846) 200-30-40" in out and "сначала" in out
    assert rows(tmp_path) == []


@pytest.mark.parametrize("bad", ["", "🙂", "x" * 10000, "\x01\x02", "<i>hi</i>"])
def test_bad_input_never_crashes(tmp_path: Path, bad: str) -> None:
    out = chat(tmp_path, [bad, "где вы находитесь?"])
    assert "Молодогвардейская" in out


def test_in_a_terminal_the_banner_names_the_clinic_once(tmp_path: Path) -> None:
    """On a TTY the first line greets with the clinic's name as clinic.toml has it, not «Клиника «Клиника …»»."""
    import os
    import pty

    leader, follower = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "bot", "chat", "--user", "tty"],
        stdin=follower,
        stdout=follower,
        stderr=follower,
        cwd=tmp_path,
        env=bot_env(tmp_path / "data"),
    )
    os.close(follower)
    os.write(leader, b"\n")  # an empty line ends an interactive chat
    output = b""
    while True:
        try:
            chunk = os.read(leader, 4096)
        except OSError:  # the child closed its side of the terminal
            break
        if not chunk:
            break
        output += chunk
    assert process.wait(timeout=90) == 0
    os.close(leader)
    text = output.decode("utf-8", "replace")
    assert "Чат с ботом: Клиника «Здоровье Самары». Пишите как пациент" in text, text
    assert "«Клиника «" not in text and "Traceback" not in text


def test_outside_the_venv_one_russian_line_says_how_to_run_it(tmp_path: Path) -> None:
    """A Python without the dependencies (here: isolated from site-packages) gets advice, not a traceback."""
    result = subprocess.run(
        [sys.executable, "-S", "-m", "bot", "check", "--knowledge"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={"PATH": "/usr/bin:/bin"},
        timeout=60,
    )
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.strip() == (
        "Эта команда работает только в окружении проекта: из папки проекта выполните `make check-knowledge` "
        "(первый запуск сам всё установит) или `.venv/bin/clinic-bot check --knowledge`."
    )
