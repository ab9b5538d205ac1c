"""`python -m bot chat [--user ID]`: a patient conversation in the terminal on the configured engine."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys

from bot.bootstrap import build_app
from bot.channels.console import ConsoleMessenger, render, to_incoming
from bot.cli import setup_logging
from bot.config import load_settings
from bot.dialogue.messages import Address, Button


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--user",
        default=None,
        metavar="ИМЯ",
        help="кто пишет: с тем же именем разговор продолжится с того же места (по умолчанию имя пользователя)",
    )


def banner(clinic_name: str) -> str:
    """The first line of an interactive chat; the clinic's name is shown as the operator wrote it."""
    who = f"с ботом: {clinic_name}" if clinic_name else "с ботом клиники"
    return f"Чат {who}. Пишите как пациент; пустая строка или Ctrl+D — выход.\n"


async def _chat(user: str) -> int:
    settings = load_settings()
    setup_logging("WARNING", tz=settings.tz)
    app = build_app(settings)
    interactive = sys.stdin.isatty() and sys.stdout.isatty()
    app.messengers.register(ConsoleMessenger(colour=interactive))
    address = Address("console", user, user)
    buttons: list[Button] = []
    if interactive:
        print(banner(app.knowledge().clinic.name))
    try:
        while True:
            if interactive:
                print("Вы: ", end="", flush=True)
            line = sys.stdin.readline()
            if not line or (interactive and not line.strip()):
                break
            line = line.rstrip("\n")
            replies = await app.service.handle(address, to_incoming(line, buttons))
            text, offered = render(replies, colour=interactive)
            if replies:
                buttons = offered
                print(text, flush=True)
            if interactive:
                print()
        await app.flusher.flush()
    finally:
        app.close()
    return 0


def main(args: argparse.Namespace) -> int:
    user = args.user or getpass.getuser() or "local"
    return asyncio.run(_chat(str(user)))
