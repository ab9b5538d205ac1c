"""aiogram's aiohttp session, cheaper per Bot API call; the requests on the wire stay exactly the same.

Two costs showed up when a thousand patients wrote at once (bench/telegram_load.py):
- aiogram dumps every optional field of a method (an inline button has a dozen) and then drops the empty
  ones one call at a time; dumping without them builds the same form with a fraction of the calls;
- aiogram asks pydantic for `Response[<result type>]` on every call, and pydantic keeps those generic classes
  in a weak cache: once the collector freed one, the next call rebuilt it (about 10 ms each, dozens of times
  in a burst). The result types of the methods the service calls are held here for the life of the process.

It keeps each polled batch the moment it arrives (`on_updates`): aiogram's polling confirms a batch to Telegram
with its next getUpdates, which can leave before the handlers of the batch have run; a `kill -9` in between
would lose those updates if they were kept only when handled.

It paces what it sends (`pacer`, see `bot.channels.pacing`): every message and edit takes a token of the
bot's budget (TELEGRAM_RATE a second) and of its chat's (TELEGRAM_CHAT_RATE a second for a private chat,
TELEGRAM_GROUP_RATE a minute for a group), in the order the sends asked; a button press's answer takes the
bot's budget in its turn and is dropped once Telegram would no longer take it; "typing…" goes only with
budget no reply is waiting for, or not at all. A 429 that still comes keeps that chat quiet as long as asked.

It is also lenient where aiogram is strict for no gain to us: a Bot API server (a local one, a proxy) that
says "ok" but returns a message with fields missing has still sent it; aiogram would raise, the reply would
count as failed and the rest of it would not be sent. Such a message is read as far as it goes.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, cast

from aiogram import Bot, methods
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.exceptions import ClientDecodeError, TelegramRetryAfter
from aiogram.methods import TelegramMethod
from aiogram.methods.base import Response, TelegramType
from aiogram.types import Chat, InputFile, Message, Update
from aiohttp import FormData

from bot.channels.pacing import REPLY, TYPING, Key, Limit, Pacer
from bot.config import Settings

__all__ = ["TelegramSession", "telegram_pacer"]

log = logging.getLogger(__name__)

_METHODS_USED = (
    methods.AnswerCallbackQuery,
    methods.DeleteWebhook,
    methods.EditMessageText,
    methods.GetChat,
    methods.GetChatMember,
    methods.GetMe,
    methods.GetUpdates,
    methods.GetWebhookInfo,
    methods.SendChatAction,
    methods.SendMessage,
    methods.SendPhoto,
    methods.SetMyCommands,
    methods.SetWebhook,
)
_RESPONSE_TYPES: tuple[Any, ...] = tuple(Response[m.__returning__] for m in _METHODS_USED)  # type: ignore[name-defined]

# Bursts kept below what Telegram lets through ("short bursts" over the chat limit), so that the jitter of
# the network between here and Telegram is never read as flooding.
BOT_BURST = 10.0
CHAT_BURST = 2.0
GROUP_BURST = 10.0
ANSWER_STALE = 10.0  # a button press's answer later than this is refused by Telegram ("query is too old")
_NOT_MESSAGES = frozenset({"SendChatAction", "AnswerCallbackQuery"})


def telegram_pacer(settings: Settings) -> Pacer:
    """This process's budgets: its share of the bot's and of each group's (every process of TELEGRAM_WORKERS
    may write to the admin chat), and the whole of each private chat's (a chat belongs to one process)."""
    processes = settings.telegram_workers
    share = settings.telegram_rate / processes
    return Pacer(
        Limit(share, min(BOT_BURST, max(1.0, share))),
        {
            "chat": Limit(settings.telegram_chat_rate, CHAT_BURST),
            "group": Limit.per_minute(
                settings.telegram_group_rate / processes, max(1.0, GROUP_BURST / processes)
            ),
        },
    )


def _pace_of(method: TelegramMethod[Any]) -> tuple[tuple[Key, ...], int, float | None] | None:
    """(keys, priority, stale after) of a call that sends; None for the others (not paced)."""
    name = type(method).__name__
    if name == "SendChatAction":
        return (), TYPING, 0.0
    if name == "AnswerCallbackQuery":
        return (), REPLY, ANSWER_STALE
    if not name.startswith(("Send", "Edit", "Copy", "Forward")) or name in _NOT_MESSAGES:
        return None
    chat = getattr(method, "chat_id", None)
    if chat is None:  # an inline message's edit: the bot's budget only
        return (), REPLY, None
    private = isinstance(chat, int) and chat > 0
    return ((("chat", chat) if private else ("group", chat)),), REPLY, None


class TelegramSession(AiohttpSession):
    """`AiohttpSession` with a leaner `build_form_data` (same fields, same encoding), lenient on results."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._partial_logged: set[str] = set()
        self.on_updates: Callable[[list[Update]], None] | None = None  # a polled batch, as it arrives
        self.pacer: Pacer | None = None  # None: every call goes at once
        self.refused = 0  # 429s Telegram answered in spite of the pace

    async def make_request(
        self, bot: Bot, method: TelegramMethod[TelegramType], timeout: int | None = None
    ) -> TelegramType:
        pace = _pace_of(method) if self.pacer is not None else None
        if pace is None or self.pacer is None:
            return await super().make_request(bot, method, timeout)
        keys, priority, stale = pace
        if not await self.pacer.acquire(keys, priority=priority, stale_after=stale):
            # "typing…" or a press's answer that could only come too late: taken as Telegram's "ok"
            return cast(TelegramType, True)
        try:
            return await super().make_request(bot, method, timeout)
        except TelegramRetryAfter as exc:
            self.refused += 1
            self.pacer.hold(keys, float(exc.retry_after))
            raise

    def check_response(
        self, bot: Bot, method: TelegramMethod[Any], status_code: int, content: str
    ) -> Response[Any]:
        try:
            response = super().check_response(
                bot=bot, method=method, status_code=status_code, content=content
            )
        except ClientDecodeError as exc:
            data = exc.data
            if not (200 <= status_code < 300 and isinstance(data, dict) and data.get("ok") is True):
                raise
            result = _partial_result(method, data.get("result"))
            if result is None:
                raise
            if type(method).__name__ not in self._partial_logged:  # once per method, not per message
                self._partial_logged.add(type(method).__name__)
                log.warning("Telegram %s: the server's result lacks fields aiogram expects; taken as sent",
                            type(method).__name__)  # fmt: skip
            return Response[Any].model_construct(ok=True, result=result)
        if self.on_updates is not None and isinstance(method, methods.GetUpdates) and response.result:
            self.on_updates(list(response.result))
        return response

    def build_form_data(self, bot: Bot, method: TelegramMethod[Any]) -> FormData:
        # aiogram's own loop, over the fields that are set: `prepare_value` drops None values anyway.
        form = FormData(quote_fields=False)
        files: dict[str, InputFile] = {}
        for key, value in method.model_dump(warnings=False, exclude_none=True).items():
            prepared = self.prepare_value(value, bot=bot, files=files)
            if not prepared:
                continue
            form.add_field(key, prepared)
        for key, file in files.items():
            form.add_field(key, file.read(bot), filename=file.filename or key)
        return form


def _partial_result(method: TelegramMethod[Any], raw: object) -> object | None:
    """What a sent message or a yes/no answer can be read as; None for anything else (aiogram's error stays)."""
    returning = str(method.__returning__)
    if "Message" in returning and isinstance(raw, dict):
        given = raw.get("chat")
        chat: dict[str, Any] = given if isinstance(given, dict) else {}
        chat_id = getattr(method, "chat_id", None)
        return Message.model_construct(
            message_id=int(raw.get("message_id") or 0),
            date=raw.get("date") or 0,
            chat=Chat.model_construct(
                id=int(chat.get("id") or chat_id or 0), type=str(chat.get("type") or "private")
            ),
            text=raw.get("text"),
        )
    if returning == str(bool) or "bool" in returning:
        return True
    return None
