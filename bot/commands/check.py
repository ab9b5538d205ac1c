"""`python -m bot check [--knowledge]`: every setting and configured service, one line each, with the fix.

What it prints is read by the clinic's operator: Russian, and the fix with every ✗."""

from __future__ import annotations

import argparse
import asyncio
import sys

from bot.checks.model import Line
from bot.russian import count


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--knowledge",
        action="store_true",
        help="проверить только файлы знаний и тексты бота (без обращения к сервисам)",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=30.0,
        metavar="СЕКУНДЫ",
        help="сколько ждать ответа каждого сервиса (по умолчанию 30)",
    )


def summary(lines: list[Line], again: str = "make check") -> str:
    """The last line: how many errors and warnings, in Russian, the same count as the ✗ and ! lines."""
    errors = sum(1 for line in lines if line.failed)
    warnings = sum(1 for line in lines if line.warned)
    warned = count(warnings, "предупреждение", "предупреждения", "предупреждений")
    if errors:
        found = count(errors, "ошибка", "ошибки", "ошибок")
        also = f" и {warned} (!)" if warnings else ""
        return f"Найдено: {found} (✗){also}. Исправьте строки с ✗ и запустите проверку снова: {again}"
    if warnings:
        return f"Ошибок нет, но есть {warned}: прочитайте строки с «!» — бот работает, но не всё, что может."
    return "Всё в порядке."


def _print(lines: list[Line], again: str = "make check") -> int:
    for line in lines:
        print(line.render())
    print()
    print(summary(lines, again))
    return 1 if any(line.failed for line in lines) else 0


def main(args: argparse.Namespace) -> int:
    from bot.checks.runner import config_failures, run_checks
    from bot.config import load_settings
    from bot.errors import ConfigError

    try:
        settings = load_settings()
    except ConfigError as exc:
        return _print(config_failures(exc))
    lines = asyncio.run(run_checks(settings, knowledge_only=args.knowledge, timeout=args.timeout))
    code = _print(lines, "make check-knowledge" if args.knowledge else "make check")
    sys.stdout.flush()
    return code
