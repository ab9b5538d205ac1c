"""The administrators' chat (`ADMIN_CHAT_ID`): lead alerts with status buttons, handoffs and replies.

Every alert the bot posts is remembered (message id → conversation, lead) in the local database, so an
administrator can answer a patient by replying to any alert about them, even after a restart.
Callback data: `st:<code>:<lead id>` sets a status, `hb` hands the conversation of that alert back.
"""

from __future__ import annotations

import asyncio
import html
import logging
from collections.abc import Sequence
from datetime import datetime
from enum import Enum
from zoneinfo import ZoneInfo

from aiogram import Bot
from aiogram.enums import ChatMemberStatus
from aiogram.exceptions import TelegramBadRequest
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup, Message, User

from bot.channels.admin_words import CHANNEL_NAMES, HAND_BACK, RECENT_LIMIT, STATUS_BUTTONS, STATUS_BY_CODE
from bot.channels.telegram.render import escape, split_text
from bot.channels.telegram.sender import Delivery
from bot.clock import Clock
from bot.dialogue.lead_notes import HANDOFF_NOTE
from bot.dialogue.messages import Address
from bot.http.health import ErrorLog
from bot.notify import AdminNotifier
from bot.storage.db import Database
from sheets.schema import Lead, Status

__all__ = [
    "STATUS_BUTTONS",
    "AlertBook",
    "MemberCheck",
    "Membership",
    "TelegramAdminNotifier",
    "lead_alert_text",
    "link",
]

log = logging.getLogger(__name__)

MEMBER_STATUSES = {ChatMemberStatus.CREATOR, ChatMemberStatus.ADMINISTRATOR, ChatMemberStatus.MEMBER}
MEMBERSHIP_UNKNOWN = (
    "Не удалось проверить, что вы участник чата администраторов: Telegram сейчас не отвечает. "
    "Попробуйте, пожалуйста, нажать ещё раз через минуту."
)

FORGOTTEN_LEAD = (
    "🔒 <b>Заявка {lead_id}</b>: пациент отозвал согласие на обработку персональных данных. "
    "Имя, телефон и контакт удалены из этого оповещения и из таблицы."
)
FORGOTTEN_MESSAGES = (
    "🔒 Пациент отозвал согласие на обработку персональных данных: текст этого оповещения удалён."
)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS telegram_alerts (
    chat_id INTEGER NOT NULL,
    message_id INTEGER NOT NULL,
    conversation TEXT NOT NULL,
    lead_id TEXT NOT NULL DEFAULT '',
    kind TEXT NOT NULL,
    at TEXT NOT NULL,
    PRIMARY KEY (chat_id, message_id)
)
"""


class AlertBook:
    """Which conversation (and lead) each alert in the admin chat is about."""

    def __init__(self, db: Database) -> None:
        self.db = db
        with db.transaction() as conn:
            conn.execute(_SCHEMA)

    def add(self, chat_id: int, message_id: int, conversation: str, lead_id: str, kind: str, at: str) -> None:
        with self.db.transaction() as conn:
            conn.execute(
                "INSERT OR REPLACE INTO telegram_alerts VALUES (?, ?, ?, ?, ?, ?)",
                (chat_id, message_id, conversation, lead_id, kind, at),
            )

    def about(self, chat_id: int, conversation: str) -> list[tuple[int, str, str]]:
        """(message id, kind, lead id) of the alerts posted about a conversation, oldest first."""
        rows = self.db.query(
            "SELECT message_id, kind, lead_id FROM telegram_alerts WHERE chat_id = ? AND conversation = ? "
            "ORDER BY at, message_id",
            (chat_id, conversation),
        )
        return [(int(str(m)), str(k), str(lead)) for m, k, lead in rows]

    def conversation(self, chat_id: int, message_id: int) -> str | None:
        rows = self.db.query(
            "SELECT conversation FROM telegram_alerts WHERE chat_id = ? AND message_id = ?",
            (chat_id, message_id),
        )
        return str(rows[0][0]) if rows else None

    async def await_conversation(self, chat_id: int, message_id: int, patience: float = 2.0) -> str | None:
        """`conversation`, waiting briefly for an alert another process has sent but not yet recorded.

        With TELEGRAM_WORKERS > 1 a worker posts an alert and records it right after Telegram's answer;
        an administrator's press can reach the front in between.
        """
        key = self.conversation(chat_id, message_id)
        waited = 0.0
        while key is None and waited < patience:
            await asyncio.sleep(0.1)
            waited += 0.1
            key = self.conversation(chat_id, message_id)
        return key


def link(channel: str, contact: str, user_id: str = "") -> str:
    """HTML: how an administrator opens the patient's chat (or the plain contact when there is no link)."""
    if channel == "telegram":
        if contact.startswith("@"):
            return f'<a href="https://t.me/{escape(contact[1:])}">{escape(contact)}</a>'
        chat = user_id or contact
        if chat.lstrip("-").isdigit():
            return f'<a href="tg://user?id={chat}">чат {chat}</a>'
    if channel == "whatsapp":
        digits = "".join(ch for ch in contact if ch.isdigit())
        if digits:
            return f'<a href="https://wa.me/{digits}">{escape(contact)}</a>'
    return escape(contact or user_id or "—")


def lead_alert_text(lead: Lead, *, updated: bool = False) -> str:
    if lead.status == Status.UNCONFIRMED and HANDOFF_NOTE in lead.comment:
        title = "⏳ Не подтверждённая заявка (пациент попросил администратора)"
    elif lead.status == Status.UNCONFIRMED:
        title = "⏳ Не подтверждённая заявка (пациент оставил телефон и замолчал)"
    else:
        title = "🔄 Заявка обновлена" if updated else "🆕 Новая заявка"
    rows = [
        ("Имя", escape(lead.name)),
        ("Телефон", escape(lead.phone)),
        ("Врач / услуга", escape(lead.service)),
        ("Время приёма", escape(lead.window)),
        ("Обращение", escape(lead.visit)),
        ("Канал", escape(CHANNEL_NAMES.get(lead.channel, lead.channel))),
        ("Контакт", link(lead.channel, lead.contact)),
        ("Комментарий", escape(lead.comment)),
        ("Статус", f"<b>{escape(lead.status)}</b>"),
    ]
    body = "\n".join(f"{name}: {value}" for name, value in rows if value)
    return f"<b>{title}</b> · <code>{escape(lead.id)}</code>\n{body}\n<i>{escape(lead.created)}</i>"


def status_keyboard(lead_id: str) -> InlineKeyboardMarkup:
    buttons = [
        InlineKeyboardButton(text=label, callback_data=f"st:{code}:{lead_id}")
        for code, label, _ in STATUS_BUTTONS
    ]
    return InlineKeyboardMarkup(inline_keyboard=[buttons[:2], buttons[2:]])


def hand_back_keyboard() -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        inline_keyboard=[[InlineKeyboardButton(text="Вернуть боту", callback_data=HAND_BACK)]]
    )


def who(user: User | None) -> str:
    if user is None:
        return "администратор"
    name = user.full_name or (f"@{user.username}" if user.username else str(user.id))
    return name


class Membership(Enum):
    MEMBER = "member"
    STRANGER = "stranger"  # not (or no longer) in the admin chat
    UNKNOWN = "unknown"  # Telegram could not say: treated as a stranger (fail closed)


class MemberCheck:
    """Is this user in the admin chat now? Asked of Telegram at every press, never cached.

    A cached "yes" let an administrator removed from the chat keep setting statuses for minutes; presses
    are rare enough that one getChatMember each costs nothing. When Telegram cannot answer, the answer is
    UNKNOWN and the press is refused.
    """

    def __init__(self, bot: Bot, chat_id: int, timeout: float = 5.0) -> None:
        self.bot = bot
        self.chat_id = chat_id
        self.timeout = timeout  # the press waits for this answer: shorter than the bot's long-poll timeout

    async def __call__(self, user_id: int) -> Membership:
        try:
            member = await self.bot.get_chat_member(self.chat_id, user_id, request_timeout=int(self.timeout))
        except TelegramBadRequest as exc:  # "user not found", "participant id invalid": never was a member
            log.warning(
                "Telegram не дал проверить, состоит ли %s в чате администраторов: %s", user_id, exc.message
            )
            return Membership.STRANGER
        except Exception as exc:  # cannot ask (outage, timeout, 429): refuse, and say why in the log
            log.warning("не удалось проверить, состоит ли %s в чате администраторов: %s", user_id, exc)
            return Membership.UNKNOWN
        if member.status in MEMBER_STATUSES:
            return Membership.MEMBER
        if member.status == ChatMemberStatus.RESTRICTED and bool(getattr(member, "is_member", False)):
            return Membership.MEMBER  # muted, but still in the chat
        return Membership.STRANGER

    async def refusal(self, user_id: int, stranger: str) -> str | None:
        """None when the user may press; otherwise the polite answer to the press."""
        membership = await self(user_id)
        if membership is Membership.MEMBER:
            return None
        return stranger if membership is Membership.STRANGER else MEMBERSHIP_UNKNOWN


class TelegramAdminNotifier(AdminNotifier):
    """Posts alerts to the admin chat. Never raises: a failed alert is logged (the lead is already safe)."""

    def __init__(self, bot: Bot, chat_id: int, *, clock: Clock, tz: ZoneInfo) -> None:
        self.bot = bot
        self.chat_id = chat_id
        self.clock = clock
        self.tz = tz
        self.delivery = Delivery(ErrorLog(clock))
        self.alerts: AlertBook | None = None  # set by `attach` once the application's database exists
        self.posted: list[int] = []

    def attach(self, alerts: AlertBook, delivery: Delivery) -> None:
        """Remember alerts in the application's database; share the channel's delivery (and error log)."""
        self.alerts = alerts
        self.delivery = delivery

    def now_text(self) -> str:
        return self.clock.now().astimezone(self.tz).strftime("%d.%m %H:%M")

    async def post(
        self, text: str, *, conversation: str = "", lead_id: str = "", kind: str = "note",
        markup: InlineKeyboardMarkup | None = None, reply_to: int | None = None,
    ) -> Message | None:  # fmt: skip
        """Send an HTML alert (trimmed under Telegram's limit) and remember what it is about."""
        if len(text) > 4000:
            text = text[:3990].rsplit("\n", 1)[0] + "\n…"
        try:
            sent = await self.delivery.call(
                self.chat_id,
                f"admin {kind} alert",
                lambda: self.bot.send_message(
                    self.chat_id, text, reply_markup=markup, reply_to_message_id=reply_to
                ),
            )
        except Exception:  # the notifier's contract: never raise into the conversation
            log.exception("сбой оповещения администраторам (%s)", kind)
            return None
        if sent is None:
            return None
        self.posted.append(sent.message_id)
        if conversation and self.alerts is not None:
            at = self.clock.now().isoformat(timespec="seconds")
            self.alerts.add(self.chat_id, sent.message_id, conversation, lead_id, kind, at)
        return sent

    async def lead(self, lead: Lead, address: Address, *, updated: bool = False) -> bool:
        return (
            await self.post(
                lead_alert_text(lead, updated=updated),
                conversation=address.key,
                lead_id=lead.id,
                kind="lead",
                markup=status_keyboard(lead.id),
            )
            is not None
        )

    async def handoff(
        self, address: Address, reason: str, recent: Sequence[str], *, urgent: bool = False
    ) -> bool:
        title = (
            "🚨 <b>СРОЧНО: возможно неотложное состояние</b>"
            if urgent
            else "🙋 <b>Пациент просит администратора</b>"
        )
        lines = [f"{title} · {escape(CHANNEL_NAMES.get(address.channel, address.channel))}"]
        lines.append(f"Контакт: {link(address.channel, address.contact, address.user_id)}")
        if reason:
            lines.append(f"Причина: {escape(reason)}")
        if recent:
            lines.append("\n<b>Последние сообщения:</b>")
            lines.extend(escape(line[:300]) for line in list(recent)[-RECENT_LIMIT:])
        lines.append(
            "\n<i>Бот продолжает отвечать пациенту. Ответьте на это сообщение (Reply) — ответ уйдёт пациенту, "
            "и бот замолчит, пока вы не нажмёте «Вернуть боту».</i>"
            if urgent
            else "\n<i>Ответьте на это сообщение (Reply) — ответ уйдёт пациенту. Бот молчит, пока вы не нажмёте «Вернуть боту».</i>"
        )
        return (
            await self.post(
                "\n".join(lines), conversation=address.key, kind="handoff", markup=hand_back_keyboard()
            )
            is not None
        )

    async def relay(self, address: Address, text: str) -> bool:
        body = escape(split_text(text, 3500)[0] if text else "")
        return (
            await self.post(
                f"💬 {link(address.channel, address.contact, address.user_id)}:\n{body}",
                conversation=address.key,
                kind="relay",
                markup=hand_back_keyboard(),
            )
            is not None
        )

    async def forget(self, conversation: str, lead_ids: Sequence[str]) -> int:
        if self.alerts is None:
            return 0
        cleared = 0
        forgotten = set(lead_ids)
        for message_id, kind, lead_id in self.alerts.about(self.chat_id, conversation):
            if kind == "lead" and lead_id in forgotten:
                text = FORGOTTEN_LEAD.format(lead_id=escape(lead_id))
                markup: InlineKeyboardMarkup | None = status_keyboard(lead_id)
            elif kind in ("handoff", "relay"):
                text, markup = FORGOTTEN_MESSAGES, None
            else:
                continue
            edited = await self.delivery.call(
                self.chat_id,
                "editMessageText (consent withdrawn)",
                lambda m=message_id, t=text, k=markup: self.bot.edit_message_text(  # type: ignore[misc]
                    t, chat_id=self.chat_id, message_id=m, reply_markup=k
                ),
            )
            cleared += edited is not None
        return cleared

    async def warn(self, text: str) -> bool:
        return await self.post(f"⚠️ {escape(text)}", kind="warning") is not None


def unescape(text: str) -> str:
    return html.unescape(text)


def status_line(status: str, by: str, when: str) -> str:
    return f"\n\n✅ <b>{escape(status)}</b> — {escape(by)}, {escape(when)}"


def parse_status(data: str) -> tuple[Status, str] | None:
    kind, _, rest = data.partition(":")
    code, _, lead_id = rest.partition(":")
    if kind != "st" or code not in STATUS_BY_CODE or not lead_id:
        return None
    return STATUS_BY_CODE[code], lead_id


def clinic_time(moment: datetime, tz: ZoneInfo) -> str:
    return moment.astimezone(tz).strftime("%d.%m %H:%M")
