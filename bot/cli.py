"""`python -m bot COMMAND` (also `clinic-bot`): chat, run, check, init-sheet, report."""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

from bot.errors import BotError
from bot.redact import PhoneMaskFilter

COMMANDS = {
    "chat": ("bot.commands.chat", "a patient conversation in the terminal"),
    "run": ("bot.commands.run", "the service: Telegram, WhatsApp, web widget, admin chat, outbox"),
    "check": ("bot.commands.check", "check the configuration, services and knowledge files"),
    "init-sheet": ("bot.commands.init_sheet", "create or upgrade the sheets «Обращения» and «Врачи»"),
    "report": ("bot.commands.report", "the owner's summary of the last days, as text and PNG"),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="clinic-bot", description="AI administrator of a clinic")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (module_name, help_text) in COMMANDS.items():
        command = sub.add_parser(name, help=help_text, description=help_text)
        module = importlib.import_module(module_name)
        module.add_arguments(command)
        command.set_defaults(handler=module.main)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.handler(args) or 0)
    except BotError as exc:
        print(f"Ошибка: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def setup_logging(level: str = "INFO", stream: object = None) -> None:
    chosen = getattr(logging, level.upper(), logging.INFO)
    logging.basicConfig(
        level=chosen,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=stream or sys.stderr,  # type: ignore[arg-type]
    )
    # The safety net of 152-FZ: whatever a log line carries, a patient's phone leaves it masked.
    for handler in logging.getLogger().handlers:
        if not any(isinstance(f, PhoneMaskFilter) for f in handler.filters):
            handler.addFilter(PhoneMaskFilter())
    # aiogram says "Update id=… is handled" for every update at INFO: noise for the operator, and a line
    # to format per message in a burst; shown with LOG_LEVEL=DEBUG.
    logging.getLogger("aiogram.event").setLevel(
        max(chosen, logging.WARNING) if chosen > logging.DEBUG else chosen
    )
