"""`python -m bot init-sheet`: create or upgrade "Обращения", "Врачи" and "Сводка" in the Google Sheet."""

from __future__ import annotations

import argparse
import sys

from bot.cli import setup_logging
from bot.config import load_settings
from bot.errors import SinkError
from bot.knowledge.loader import load_knowledge


def add_arguments(parser: argparse.ArgumentParser) -> None:
    pass


def main(args: argparse.Namespace) -> int:
    settings = load_settings()
    setup_logging("WARNING", tz=settings.tz)
    if not settings.sheets_enabled:
        print(
            f"GOOGLE_SHEET_ID не задан: заявки пишутся в файл {settings.leads_csv}, таблица не нужна. "
            "Чтобы вести заявки в Google-таблице, впишите GOOGLE_SHEET_ID и GOOGLE_APPLICATION_CREDENTIALS "
            "в файл .env (как — в README, раздел «Подключение Google-таблицы») и снова выполните make init-sheet.",
            file=sys.stderr,
        )
        return 1
    from sheets.google import build_google_sink
    from sheets.setup import init_sheet

    doctors = load_knowledge(settings.knowledge_dir).doctors
    sink = build_google_sink(settings)
    try:
        report = init_sheet(sink, doctors)
    except SinkError as exc:
        print(f"Таблица не подготовлена: {exc}", file=sys.stderr)
        return 1
    for line in report.changes:
        print(f"- {line}")
    for line in report.notes:
        print(line)
    print(f"Таблица {settings.google_sheet_id} готова.")
    return 0
