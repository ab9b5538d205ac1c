"""The console channel: one patient message per input line; buttons numbered, answerable by number or label."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import TextIO

from bot.dialogue.language import fold
from bot.dialogue.messages import Address, Button, Incoming, Outgoing
from bot.notify import PatientMessenger


def render(messages: Sequence[Outgoing], *, colour: bool) -> tuple[str, list[Button]]:
    """Text for the terminal and the buttons offered last (numbered across the reply)."""
    lines: list[str] = []
    buttons: list[Button] = []
    for message in messages:
        prefix = "\033[1;36mБот:\033[0m " if colour else "Бот: "
        lines.append(prefix + message.text)
        if message.buttons:
            buttons = list(message.buttons)
            for number, button in enumerate(buttons, start=1):
                lines.append(f"  [{number}] {button.label}")
        if message.request_contact:
            lines.append("  (можно отправить номер телефона сообщением)")
    return "\n".join(lines), buttons


def to_incoming(line: str, buttons: Sequence[Button]) -> Incoming:
    """A typed line: a button's number or label presses it; anything else is text."""
    stripped = line.strip()
    if stripped.isascii() and stripped.isdigit() and buttons and 1 <= int(stripped) <= len(buttons):
        return Incoming(text=buttons[int(stripped) - 1].label, button=buttons[int(stripped) - 1].data)
    for button in buttons:
        if fold(stripped) == fold(button.label):
            return Incoming(text=button.label, button=button.data)
    return Incoming(text=line)


class ConsoleMessenger(PatientMessenger):
    """Messages sent outside a reply (an administrator's answer) are printed too."""

    channel = "console"

    def __init__(self, out: TextIO = sys.stdout, colour: bool = False) -> None:
        self.out = out
        self.colour = colour

    async def send(self, address: Address, messages: Sequence[Outgoing]) -> bool:
        text, _ = render(messages, colour=self.colour)
        print(text, file=self.out, flush=True)
        return True
