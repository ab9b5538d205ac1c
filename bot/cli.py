"""`python -m bot COMMAND` (also `clinic-bot`): chat, run, check, init-sheet, report."""

from __future__ import annotations

import argparse
import importlib
import logging
import re
import sys
import textwrap
from collections.abc import Sequence
from datetime import UTC, datetime, tzinfo
from typing import Any, NoReturn, TextIO

from bot.errors import BotError, ConfigError
from bot.redact import PhoneMaskFilter

COMMANDS = {
    "chat": ("bot.commands.chat", "разговор с ботом в терминале, как пациент"),
    "run": (
        "bot.commands.run",
        "сервис: Telegram, WhatsApp, чат на сайте, чат администраторов, отправка заявок",
    ),
    "check": ("bot.commands.check", "проверить настройки, подключённые сервисы и файлы знаний"),
    "init-sheet": (
        "bot.commands.init_sheet",
        "создать или обновить листы «Обращения», «Врачи» и «Сводка» в Google-таблице",
    ),
    "report": ("bot.commands.report", "сводка для владельца за последние дни: текст и картинка PNG"),
}

# argparse's own English, as the operator would otherwise read it (Python 3.11's messages).
_ARGPARSE_RUSSIAN: tuple[tuple[str, str], ...] = (
    (r"the following arguments are required: (.*)", r"не хватает обязательных аргументов: \1"),
    (r"argument (\S+): invalid choice: (.*) \(choose from (.*)\)", r"\1: нет такого варианта \2 (есть: \3)"),
    (r"argument (\S+): invalid \S+ value: (.*)", r"\1: недопустимое значение \2"),
    (r"argument (\S+): expected one argument", r"\1: после параметра нужно значение"),
    (r"argument (\S+): (.*)", r"\1: \2"),
    (r"unrecognized arguments: (.*)", r"непонятные аргументы: \1"),
    (r"ambiguous option: (\S+) could match (.*)", r"неоднозначный параметр \1: подходят \2"),
)


def translate_argparse(message: str) -> str:
    for pattern, replacement in _ARGPARSE_RUSSIAN:
        if re.fullmatch(pattern, message):
            return re.sub(pattern, replacement, message)
    return message


class _HelpFormatter(argparse.HelpFormatter):
    def add_usage(self, usage: Any, actions: Any, groups: Any, prefix: str | None = None) -> None:
        super().add_usage(usage, actions, groups, "Запуск: " if prefix is None else prefix)

    # Lines break between words only: «Google-таблице» and «ГГГГ-ММ-ДД» stay whole.
    def _split_lines(self, text: str, width: int) -> list[str]:
        return textwrap.wrap(" ".join(text.split()), width, break_on_hyphens=False)

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        return textwrap.fill(
            " ".join(text.split()),
            width,
            initial_indent=indent,
            subsequent_indent=indent,
            break_on_hyphens=False,
        )


class RussianArgumentParser(argparse.ArgumentParser):
    """argparse speaking Russian: headings, the help option, usage and error messages."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", _HelpFormatter)
        add_help = bool(kwargs.pop("add_help", True))
        kwargs["add_help"] = False  # the Russian -h is added below
        super().__init__(*args, **kwargs)
        self._positionals.title = "аргументы"
        self._optionals.title = "параметры"
        if add_help:
            self.add_argument(
                "-h", "--help", action="help", default=argparse.SUPPRESS, help="показать эту справку и выйти"
            )

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(2, f"{self.prog}: ошибка: {translate_argparse(message)}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = RussianArgumentParser(
        prog="clinic-bot",
        description="ИИ-администратор клиники. Подробнее о любой команде: clinic-bot КОМАНДА --help",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="КОМАНДА", title="команды")
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
    except ConfigError as exc:
        print(f"Ошибка: {exc}. Все ошибки настроек сразу покажет make check", file=sys.stderr)
        return 2
    except BotError as exc:
        print(f"Ошибка: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


class ClinicTimeFormatter(logging.Formatter):
    """Log times in the clinic's zone with its offset (`2026-12-04 09:40:12+04:00`): the time staff live in."""

    def __init__(self, fmt: str, tz: tzinfo | None) -> None:
        super().__init__(fmt)
        self.tz = tz or UTC

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        moment = datetime.fromtimestamp(record.created, self.tz)
        return moment.strftime(datefmt) if datefmt else moment.isoformat(sep=" ", timespec="seconds")


LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def setup_logging(level: str = "INFO", stream: TextIO | None = None, tz: tzinfo | None = None) -> None:
    """Log lines to stderr; times in `tz` (the clinic's zone; UTC, shown as +00:00, when not given)."""
    chosen = getattr(logging, level.upper(), logging.INFO)
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(ClinicTimeFormatter(LOG_FORMAT, tz))
    logging.basicConfig(level=chosen, handlers=[handler])
    # The safety net of 152-FZ: whatever a log line carries, a patient's phone leaves it masked.
    for each in logging.getLogger().handlers:
        if not any(isinstance(f, PhoneMaskFilter) for f in each.filters):
            each.addFilter(PhoneMaskFilter())
    # aiogram says "Update id=… is handled" for every update at INFO: noise for the operator, and a line
    # to format per message in a burst; shown with LOG_LEVEL=DEBUG.
    quiet = max(chosen, logging.WARNING) if chosen > logging.DEBUG else chosen
    logging.getLogger("aiogram.event").setLevel(quiet)
    # pymorphy3 announces its dictionaries at INFO on every start: English noise for the operator.
    logging.getLogger("pymorphy3").setLevel(quiet)
