"""aiogram routers: patients in private chats, administrators in `ADMIN_CHAT_ID`. Handlers only translate."""

from __future__ import annotations

import asyncio
import importlib
import logging
from typing import Any

from aiogram import Router
from aiogram.filters import Command, CommandObject, CommandStart
from aiogram.types import BufferedInputFile, CallbackQuery, Message

from bot.channels.telegram.admin import (
    HAND_BACK,
    AlertBook,
    MemberCheck,
    TelegramAdminNotifier,
    hand_back_keyboard,
    lead_alert_text,
    parse_status,
    status_keyboard,
    status_line,
    who,
)
from bot.channels.telegram.channel import TelegramChannel
from bot.channels.telegram.filters import CallbackData, InChat, PrivateChat, RepliesToMessage
from bot.channels.telegram.inbound import address_of, incoming_of
from bot.channels.telegram.render import escape, split_text
from bot.dialogue.messages import Incoming, Outgoing

__all__ = ["build_admin_router", "build_patient_router"]

log = logging.getLogger(__name__)

STALE = "Эти кнопки уже неактуальны — ответьте, пожалуйста, на последнее сообщение."
EDITED = (
    "Я вижу, что вы исправили сообщение, но читаю только новые. Напишите, пожалуйста, исправление "
    "отдельным сообщением — например: «имя Анна» или новый номер телефона."
)
NOT_A_MEMBER_STATUS = "Менять статус могут только участники чата администраторов."
NOT_A_MEMBER = "Это могут только участники чата администраторов."
ADMIN_HELP = (
    "Здесь появляются новые заявки и просьбы позвать администратора.\n"
    "• Кнопки под заявкой меняют её статус в таблице.\n"
    "• Ответьте (Reply) на сообщение о пациенте — ответ уйдёт ему в его мессенджер.\n"
    "• «Вернуть боту» — бот снова отвечает этому пациенту.\n"
    "• /report [дней] — сводка за последние дни (по умолчанию 7)."
)


def build_patient_router(channel: TelegramChannel, *, admin_chat: int | None = None) -> Router:
    router = Router(name="telegram.patients")
    patients = PrivateChat(besides=admin_chat)
    router.message.filter(patients)
    router.edited_message.filter(patients)
    router.callback_query.filter(patients)

    @router.message(CommandStart())
    async def start(message: Message) -> None:
        address = address_of(message.chat, message.from_user)
        greeted = channel.app.store.load(address).greeted
        text = "/start" if greeted else "Здравствуйте"  # first contact: the greeting, not "start over"
        channel.memory(message.chat.id).last_message = message.message_id
        channel.put(address, Incoming(text=text), debounce=False)

    @router.message(Command("help"))
    async def help_(message: Message) -> None:
        await channel.send(message.chat.id, [Outgoing(channel.app.texts.get("help"))])

    @router.message()
    async def any_message(message: Message) -> None:
        address = address_of(message.chat, message.from_user)
        channel.memory(message.chat.id).last_message = message.message_id
        incoming = incoming_of(message)
        plain = incoming.contact_phone is None and incoming.unsupported is None
        channel.put(address, incoming, debounce=plain, message_id=message.message_id)

    @router.edited_message()
    async def edited(message: Message) -> None:
        """An edit of a message not read yet (the debounce window) replaces it; one already answered is not
        re-read (it would answer twice): the patient is asked to write the fix anew."""
        address = address_of(message.chat, message.from_user)
        if channel.edit(address, message.message_id, incoming_of(message)):
            log.info("Telegram: исправление ещё не прочитанного сообщения в %s принято", message.chat.id)
            return
        if message.message_id != channel.memory(message.chat.id).last_message:
            log.info("Telegram: исправление старого сообщения в %s пропущено", message.chat.id)
            return
        texts = channel.app.texts
        note = texts.get("edited_message") if texts.has("edited_message") else EDITED
        await channel.send(message.chat.id, [Outgoing(note)])

    @router.callback_query()
    async def pressed(query: CallbackQuery) -> None:
        message = query.message
        if not isinstance(message, Message) or query.data is None:
            await query.answer()
            return
        memory = channel.memory(message.chat.id)
        if memory.keyboard_message and message.message_id != memory.keyboard_message:
            await query.answer(STALE)
            return
        await query.answer()
        label = next(
            (b.text for row in (message.reply_markup.inline_keyboard if message.reply_markup else []) for b in row
             if b.callback_data == query.data),
            "",
        )  # fmt: skip
        memory.keyboard_message = -1  # pressed: this keyboard is spent until the next one is sent
        if memory.keyboard_text and label:
            text = f"{memory.keyboard_text}\n\n<i>✓ {escape(label)}</i>"
            await channel.delivery.call(
                message.chat.id,
                "editMessageText",
                lambda: channel.bot.edit_message_text(
                    text, chat_id=message.chat.id, message_id=message.message_id
                ),
            )
        address = address_of(message.chat, query.from_user)
        channel.put(address, Incoming(text=label, button=query.data), debounce=False)

    return router


def build_admin_router(
    channel: TelegramChannel, notifier: TelegramAdminNotifier, alerts: AlertBook, members: MemberCheck
) -> Router:
    app = channel.app
    router = Router(name="telegram.admins")
    admin_chat = notifier.chat_id
    router.message.filter(InChat(admin_chat))
    router.callback_query.filter(InChat(admin_chat))

    @router.callback_query(CallbackData(prefix="st:"))
    async def set_status(query: CallbackQuery) -> None:
        parsed = parse_status(query.data or "")
        if parsed is None or not isinstance(query.message, Message):
            await query.answer()
            return
        refused = await members.refusal(query.from_user.id, NOT_A_MEMBER_STATUS)
        if refused is not None:
            await query.answer(refused, show_alert=True)
            return
        status, lead_id = parsed
        by = who(query.from_user)
        lead = await app.service.set_status(lead_id, status, by)
        if lead is None:
            await query.answer("Заявка не найдена.", show_alert=True)
            return
        await query.answer(f"Статус: {status}")
        text = lead_alert_text(lead) + status_line(status, by, notifier.now_text())
        await channel.delivery.call(
            admin_chat,
            "editMessageText",
            lambda: channel.bot.edit_message_text(
                text, chat_id=admin_chat, message_id=query.message.message_id,  # type: ignore[union-attr]
                reply_markup=status_keyboard(lead.id),
            ),
        )  # fmt: skip

    @router.callback_query(CallbackData(exact=HAND_BACK))
    async def hand_back(query: CallbackQuery) -> None:
        message = query.message
        if not isinstance(message, Message):
            await query.answer()
            return
        refused = await members.refusal(query.from_user.id, NOT_A_MEMBER)
        if refused is not None:
            await query.answer(refused, show_alert=True)
            return
        key = await alerts.await_conversation(admin_chat, message.message_id)
        if key is None or not await app.service.hand_back(key, app.texts.get("handed_back")):
            await query.answer("Разговор не найден.", show_alert=True)
            return
        await query.answer("Бот снова отвечает пациенту.")
        text = (
            message.html_text or ""
        ) + f"\n\n🤖 Возвращено боту — {escape(who(query.from_user))}, {notifier.now_text()}"
        await channel.delivery.call(
            admin_chat,
            "editMessageText",
            lambda: channel.bot.edit_message_text(text, chat_id=admin_chat, message_id=message.message_id),
        )

    @router.callback_query()
    async def other_button(query: CallbackQuery) -> None:
        """Old or unknown buttons in the admin chat: answered, so Telegram's spinner stops."""
        await query.answer("Эта кнопка больше не действует.")

    @router.message(Command("report"))
    async def report(message: Message, command: CommandObject) -> None:
        days = int(command.args) if command.args and command.args.strip().isdigit() else 7
        try:
            module: Any = importlib.import_module("bot.report.build")
            render_report = module.render_report
        except (ImportError, AttributeError):
            await notifier.post("Отчёт пока недоступен в этой версии.")
            return
        try:
            text, png = await asyncio.to_thread(render_report, app, days)
        except Exception as exc:  # a report failure must not take the admin chat down
            log.exception("сбой отчёта для чата администраторов")
            await notifier.post(f"Не удалось построить отчёт: {escape(str(exc))}")
            return
        for piece in split_text(text, 3900):
            await notifier.post(f"<pre>{escape(piece)}</pre>")
        if png:
            photo = BufferedInputFile(png, filename=f"report-{days}d.png")
            await channel.delivery.call(
                admin_chat,
                "sendPhoto",
                lambda: channel.bot.send_photo(admin_chat, photo, caption=f"За {days} дн."),
            )

    @router.message(Command("help"))
    async def admin_help(message: Message) -> None:
        await notifier.post(escape(ADMIN_HELP))

    @router.message(RepliesToMessage())
    async def reply(message: Message) -> None:
        """An administrator's reply to an alert goes to that patient, in the patient's channel."""
        original = message.reply_to_message
        if original is None or not message.text:
            return
        ours = original.from_user is not None and original.from_user.id == channel.bot.id
        key = await alerts.await_conversation(admin_chat, original.message_id, patience=2.0 if ours else 0.0)
        if key is None:
            return
        delivered = await app.service.admin_reply(key, [Outgoing(message.text)])
        if delivered:
            note = "✓ Отправлено пациенту. Бот молчит в этом разговоре, пока вы не нажмёте «Вернуть боту»."
        else:
            note = "✗ Не удалось доставить ответ пациенту (канал недоступен или вне окна WhatsApp)."
        await notifier.post(
            note, conversation=key, kind="reply", markup=hand_back_keyboard(), reply_to=message.message_id
        )

    @router.message()
    async def other(message: Message) -> None:
        """Administrators talk among themselves in a group; a private admin chat gets the help instead."""
        if message.chat.type == "private":
            await notifier.post(escape(ADMIN_HELP))

    return router
