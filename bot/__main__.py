"""`python -m bot COMMAND`; outside the project's environment it says how to run the command instead."""

from __future__ import annotations  # readable by an older system Python, which is then told what to do

import importlib.util
import sys

# Imported by the commands; missing ones mean this is not the interpreter of `.venv` (e.g. the system Python).
REQUIRED = ("pydantic_settings", "aiogram", "aiohttp", "openai", "phonenumbers", "pymorphy3", "rapidfuzz")
MAKE_TARGETS = {
    "chat": "chat",
    "run": "run",
    "check": "check",
    "init-sheet": "init-sheet",
    "report": "report",
}


def _how_to_run(argv: list[str]) -> str:
    """One Russian line: the make target and the venv's own command for what was asked."""
    command = next((a for a in argv if not a.startswith("-")), "")
    target = MAKE_TARGETS.get(command, "chat")
    if command == "check" and "--knowledge" in argv:
        target = "check-knowledge"
    shown = " ".join(argv) if command else "--help"
    return (
        f"Эта команда работает только в окружении проекта: из папки проекта выполните `make {target}` "
        f"(первый запуск сам всё установит) или `.venv/bin/clinic-bot {shown}`."
    )


def _missing() -> list[str]:
    if sys.version_info < (3, 11):  # noqa: UP036 - the system Python may be older than the project's
        return ["Python 3.11+"]
    return [name for name in REQUIRED if importlib.util.find_spec(name) is None]


def run() -> int:
    argv = sys.argv[1:]
    if _missing():
        print(_how_to_run(argv), file=sys.stderr)
        return 2
    from bot.cli import main

    try:
        return main(argv)
    except ModuleNotFoundError as exc:
        if (exc.name or "").split(".")[0] in {"bot", "sheets"}:
            raise  # the project's own code: a real bug, keep the traceback
        print(_how_to_run(argv), file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(run())
