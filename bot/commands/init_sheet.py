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
    setup_logging("WARNING")
    if not settings.sheets_enabled:
        print(
            "GOOGLE_SHEET_ID is not set: leads go to the local file "
            f"{settings.leads_csv}. Set GOOGLE_SHEET_ID and GOOGLE_APPLICATION_CREDENTIALS in .env "
            "to use a Google Sheet.",
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
        print(f"init-sheet failed: {exc}", file=sys.stderr)
        return 1
    for line in report.changes:
        print(f"- {line}")
    for line in report.notes:
        print(line)
    print(f"the spreadsheet {settings.google_sheet_id} is ready")
    return 0
