"""Filters of our routers, as async `Filter`s.

aiogram runs a plain callable filter (a magic `F` expression included) in a worker thread, one thread hop per
check per update; these answer on the event loop, which keeps a burst of patients from queueing on threads.
"""

from __future__ import annotations

from aiogram.filters import Filter
from aiogram.types import CallbackQuery, Chat, Message

__all__ = ["CallbackData", "InChat", "PrivateChat", "RepliesToMessage"]


def _chat(event: Message | CallbackQuery) -> Chat | None:
    if isinstance(event, Message):
        return event.chat
    return event.message.chat if event.message is not None else None


class PrivateChat(Filter):
    """A one-to-one chat with the bot (a patient), for messages and button presses; `besides` one chat."""

    def __init__(self, *, besides: int | None = None) -> None:
        self.besides = besides

    async def __call__(self, event: Message | CallbackQuery) -> bool:
        chat = _chat(event)
        return chat is not None and chat.type == "private" and chat.id != self.besides


class InChat(Filter):
    """Events of one chat (the administrators' chat)."""

    def __init__(self, chat_id: int) -> None:
        self.chat_id = chat_id

    async def __call__(self, event: Message | CallbackQuery) -> bool:
        chat = _chat(event)
        return chat is not None and chat.id == self.chat_id


class CallbackData(Filter):
    """A button press whose data equals `exact` or starts with `prefix`."""

    def __init__(self, *, exact: str | None = None, prefix: str | None = None) -> None:
        self.exact = exact
        self.prefix = prefix

    async def __call__(self, query: CallbackQuery) -> bool:
        data = query.data or ""
        if self.exact is not None:
            return data == self.exact
        return self.prefix is not None and data.startswith(self.prefix)


class RepliesToMessage(Filter):
    """A message written as a reply to another one."""

    async def __call__(self, message: Message) -> bool:
        return message.reply_to_message is not None
