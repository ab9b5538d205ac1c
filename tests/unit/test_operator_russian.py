"""What the operator reads around the commands: plural forms, argparse in Russian, log times in clinic time."""

from __future__ import annotations

import io
import logging
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from bot.checks.model import Line, Mark
from bot.cli import LOG_FORMAT, ClinicTimeFormatter, build_parser, translate_argparse
from bot.commands.chat import banner
from bot.commands.check import summary
from bot.russian import count, plural


@pytest.mark.parametrize(
    ("number", "word"),
    [
        (0, "ошибок"),
        (1, "ошибка"),
        (2, "ошибки"),
        (4, "ошибки"),
        (5, "ошибок"),
        (11, "ошибок"),
        (12, "ошибок"),
        (14, "ошибок"),
        (21, "ошибка"),
        (22, "ошибки"),
        (25, "ошибок"),
        (101, "ошибка"),
        (111, "ошибок"),
    ],
)
def test_plural_forms(number: int, word: str) -> None:
    assert plural(number, "ошибка", "ошибки", "ошибок") == word
    assert count(number, "ошибка", "ошибки", "ошибок") == f"{number} {word}"


def test_the_check_total_counts_errors_and_warnings_not_headings() -> None:
    heading = Line(Mark.FAIL, "Знания", "ниже 2 ошибки", heading=True)
    errors = [Line(Mark.FAIL, "Знания", "a", "b"), Line(Mark.FAIL, "Знания", "c", "d")]
    warning = Line(Mark.WARN, "Чат администраторов", "не настроен")
    assert summary([heading, *errors, warning]).startswith("Найдено: 2 ошибки (✗) и 1 предупреждение (!).")
    assert summary([*errors[:1]], "make check-knowledge").endswith("снова: make check-knowledge")
    assert summary([warning, warning, Line(Mark.OK, "x", "y")]).startswith(
        "Ошибок нет, но есть 2 предупреждения"
    )
    assert summary([Line(Mark.OK, "x", "y"), Line(Mark.SKIP, "z", "w")]) == "Всё в порядке."
    assert errors[0].render() == "✗ Знания: a — как исправить: b"


def test_help_and_argument_errors_are_russian(capsys: pytest.CaptureFixture[str]) -> None:
    parser = build_parser()
    text = parser.format_help()
    assert text.startswith("Запуск: clinic-bot") and "показать эту справку и выйти" in text
    for english in ("usage:", "options", "positional arguments", "show this help"):
        assert english not in text
    with pytest.raises(SystemExit) as exit_info:
        parser.parse_args(["report", "--help"])
    assert exit_info.value.code == 0
    report_help = capsys.readouterr().out
    assert "за сколько последних дней (по умолчанию 7)" in report_help and "--days N" in report_help
    with pytest.raises(SystemExit) as exit_info:
        parser.parse_args(["reprot"])
    assert exit_info.value.code == 2
    assert "clinic-bot: ошибка: КОМАНДА: нет такого варианта 'reprot'" in capsys.readouterr().err
    assert translate_argparse("unrecognized arguments: --x") == "непонятные аргументы: --x"
    assert translate_argparse("the following arguments are required: КОМАНДА") == (
        "не хватает обязательных аргументов: КОМАНДА"
    )


def test_log_times_are_the_clinics_with_the_offset() -> None:
    record = logging.LogRecord("bot.run", logging.WARNING, __file__, 1, "ADMIN_CHAT_ID не задан", (), None)
    record.created = datetime(2026, 11, 23, 6, 0, 5, tzinfo=UTC).timestamp()
    samara = ClinicTimeFormatter(LOG_FORMAT, ZoneInfo("Europe/Samara")).format(record)
    assert samara == "2026-11-23 10:00:05+04:00 WARNING bot.run: ADMIN_CHAT_ID не задан"
    utc = ClinicTimeFormatter(LOG_FORMAT, None).format(record)
    assert utc.startswith("2026-11-23 06:00:05+00:00 ")  # said explicitly when no zone is known


def test_setup_logging_uses_the_clinic_zone(monkeypatch: pytest.MonkeyPatch) -> None:
    from bot.cli import setup_logging

    root = logging.getLogger()
    monkeypatch.setattr(root, "handlers", [])  # as in a fresh process (pytest has its own handlers)
    monkeypatch.setattr(root, "level", root.level)  # restored after the test, as the handlers are
    stream = io.StringIO()
    setup_logging("INFO", stream=stream, tz=ZoneInfo("Asia/Yekaterinburg"))
    [handler] = root.handlers
    assert isinstance(handler.formatter, ClinicTimeFormatter)
    logging.getLogger("bot.test").warning("проверка")
    handler.flush()
    assert "+05:00 WARNING bot.test: проверка" in stream.getvalue()
    root.removeHandler(handler)


def test_the_chat_banner_names_the_clinic_once() -> None:
    assert banner("Клиника «Здоровье Самары»").startswith("Чат с ботом: Клиника «Здоровье Самары». ")
    assert banner("").startswith("Чат с ботом клиники. ")
