"""Our aiogram session sends exactly the form aiogram's own would, field for field."""

from __future__ import annotations

from typing import Any

import pytest
from aiogram import Bot
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.enums import ChatAction, ParseMode
from aiogram.methods import (
    AnswerCallbackQuery,
    EditMessageText,
    SendChatAction,
    SendMessage,
    SendPhoto,
    SetMyCommands,
    TelegramMethod,
)
from aiogram.types import (
    BotCommand,
    BotCommandScopeChat,
    BufferedInputFile,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    KeyboardButton,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
)

from bot.channels.telegram.session import TelegramSession

TOKEN = "42:TEST"

METHODS: list[TelegramMethod[Any]] = [
    SendMessage(chat_id=7, text="Здравствуйте! <b>Анна</b> & co"),
    SendMessage(
        chat_id=7,
        text="К какому врачу?",
        reply_markup=InlineKeyboardMarkup(
            inline_keyboard=[
                [InlineKeyboardButton(text="ЛОР", callback_data="sp:1")],
                [InlineKeyboardButton(text="Сайт", url="https://example.org/?a=1&b=2")],
            ]
        ),
    ),
    SendMessage(
        chat_id=7,
        text="Телефон?",
        reply_markup=ReplyKeyboardMarkup(
            keyboard=[[KeyboardButton(text="📱 Отправить номер", request_contact=True)]],
            resize_keyboard=True,
            one_time_keyboard=True,
        ),
    ),
    SendMessage(chat_id=7, text="Спасибо", reply_markup=ReplyKeyboardRemove(), disable_notification=False),
    EditMessageText(chat_id=-100500, message_id=3, text="✓ Записан"),
    AnswerCallbackQuery(callback_query_id="q1", text="Статус: записан", show_alert=True),
    SendChatAction(chat_id=7, action=ChatAction.TYPING),
    SetMyCommands(
        commands=[BotCommand(command="report", description="Сводка")],
        scope=BotCommandScopeChat(chat_id=-100500),
    ),
]


def _fields(session: AiohttpSession, bot: Bot, method: TelegramMethod[Any]) -> list[tuple[str, Any]]:
    form = session.build_form_data(bot, method)
    return [(options["name"], value) for options, _headers, value in form._fields]


@pytest.mark.parametrize(
    "defaults",
    [DefaultBotProperties(), DefaultBotProperties(parse_mode=ParseMode.HTML, link_preview_is_disabled=True)],
)
@pytest.mark.parametrize("method", METHODS, ids=lambda m: type(m).__name__)
async def test_the_same_fields_as_aiogram_sends(
    method: TelegramMethod[Any], defaults: DefaultBotProperties
) -> None:
    ours, theirs = TelegramSession(), AiohttpSession()
    bot = Bot(TOKEN, session=ours, default=defaults)
    assert _fields(ours, bot, method) == _fields(theirs, bot, method)
    await ours.close()
    await theirs.close()


async def test_files_are_attached_the_same_way() -> None:
    ours, theirs = TelegramSession(), AiohttpSession()
    bot = Bot(TOKEN, session=ours)
    photo = BufferedInputFile(b"\x89PNG fake", filename="report.png")
    method = SendPhoto(chat_id=-100500, photo=photo, caption="За 7 дн.")

    def shape(session: AiohttpSession) -> list[tuple[str, str]]:
        """Names, with the random attachment key (attach://<key>) replaced by a placeholder."""
        fields = session.build_form_data(bot, method)._fields
        key = next(options["name"] for options, _h, _v in fields if "filename" in options)
        return [
            (options["name"].replace(key, "KEY"), str(value).replace(key, "KEY") if isinstance(value, str) else
             f"file:{options['filename']}")
            for options, _h, value in fields
        ]  # fmt: skip

    assert shape(ours) == shape(theirs)
    assert ("photo", "attach://KEY") in shape(ours)
    assert ("KEY", "file:report.png") in shape(ours)
    await ours.close()
    await theirs.close()
