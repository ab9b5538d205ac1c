"""`python -m bot check [--knowledge]`: every setting and configured service, one line each, with the fix."""

from __future__ import annotations

import argparse
import asyncio
import sys

from bot.checks.model import Line


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--knowledge", action="store_true", help="check only the knowledge files and prompts (no network)"
    )
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds to wait for each service")


def _print(lines: list[Line]) -> int:
    for line in lines:
        print(line.render())
    failed = sum(1 for line in lines if line.failed)
    print()
    if failed:
        print(f"{failed} problem(s): fix the lines marked ✗ and run the check again.")
        return 1
    print("All is well.")
    return 0


def main(args: argparse.Namespace) -> int:
    from bot.checks.runner import config_failures, run_checks
    from bot.config import load_settings
    from bot.errors import ConfigError

    try:
        settings = load_settings()
    except ConfigError as exc:
        return _print(config_failures(exc))
    lines = asyncio.run(run_checks(settings, knowledge_only=args.knowledge, timeout=args.timeout))
    code = _print(lines)
    sys.stdout.flush()
    return code
