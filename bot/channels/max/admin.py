"""The administrators' group chat in MAX (`MAX_ADMIN_CHAT_ID`): alerts with their buttons, replies relayed.

As in the Telegram admin chat: one alert per lead with the status buttons («В работу», «Записан», «Не
дозвонились», «Отказ»), which set the status in the sheet and show who set it; a handoff alert and each
relayed patient message with «Вернуть боту»; a reply (MAX's "Ответить") to one of those alerts goes back to
the patient in their channel. Alerts are plain text (MAX's default format). Which conversation each alert
is about is kept in `max_alerts`.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from bot.channels.admin_words import CHANNEL_NAMES, HAND_BACK, RECENT_LIMIT, STATUS_BUTTONS, STATUS_BY_CODE
from bot.channels.max.api import MaxClient, MaxError
from bot.channels.max.render import keyboard
from bot.clock import Clock
from bot.dialogue.messages import Address, Button, Outgoing
from bot.notify import AdminNotifier
from bot.storage.db import Database
from sheets.schema import Lead, Status

if TYPE_CHECKING:
    from bot.bootstrap import App

__all__ = ["BothNotifiers", "MaxAdminNotifier", "handle_admin_update", "is_admin_update", "lead_text"]

log = logging.getLogger(__name__)

TEXT_LIMIT = 4000
FORGOTTEN_LEAD = (
    "🔒 Заявка {lead_id}: пациент отозвал согласие на обработку персональных данных. "
    "Имя, телефон и контакт удалены из этого оповещения и из таблицы."
)
FORGOTTEN_MESSAGES = (
    "🔒 Пациент отозвал согласие на обработку персональных данных: текст этого оповещения удалён."
)

SCHEMA = """
CREATE TABLE IF NOT EXISTS max_alerts (
    mid TEXT PRIMARY KEY,
    conversation TEXT NOT NULL,
    lead_id TEXT NOT NULL DEFAULT '',
    kind TEXT NOT NULL,
    at TEXT NOT NULL
)
"""


def lead_text(lead: Lead, *, updated: bool = False) -> str:
    if lead.status == Status.UNCONFIRMED:
        title = "⏳ Не подтверждённая заявка (пациент оставил телефон и замолчал)"
    else:
        title = "🔄 Заявка обновлена" if updated else "🆕 Новая заявка"
    rows = [
        ("Имя", lead.name),
        ("Телефон", lead.phone),
        ("Врач / услуга", lead.service),
        ("Время приёма", lead.window),
        ("Обращение", lead.visit),
        ("Канал", CHANNEL_NAMES.get(lead.channel, lead.channel)),
        ("Контакт", lead.contact),
        ("Комментарий", lead.comment),
        ("Статус", lead.status),
    ]
    body = "\n".join(f"{name}: {value}" for name, value in rows if value)
    return f"{title} · {lead.id}\n{body}\n{lead.created}"


def status_buttons(lead_id: str) -> tuple[Button, ...]:
    return tuple(Button(label, f"st:{code}:{lead_id}") for code, label, _ in STATUS_BUTTONS)


def parse_status(payload: str) -> tuple[Status, str] | None:
    kind, _, rest = payload.partition(":")
    code, _, lead_id = rest.partition(":")
    if kind != "st" or code not in STATUS_BY_CODE or not lead_id:
        return None
    return STATUS_BY_CODE[code], lead_id


class MaxAdminNotifier(AdminNotifier):
    """Posts alerts to the MAX admin chat. Never raises: a failed alert is logged and reported as False."""

    def __init__(self, client: MaxClient, chat_id: int, *, clock: Clock, tz: ZoneInfo) -> None:
        self.client = client
        self.chat_id = chat_id
        self.clock = clock
        self.tz = tz
        self.db: Database | None = None  # set by `attach` once the application's database exists

    def attach(self, db: Database) -> None:
        self.db = db
        with db.transaction() as conn:
            conn.execute(SCHEMA)

    def now_text(self) -> str:
        return self.clock.now().astimezone(self.tz).strftime("%d.%m %H:%M")

    def about(self, mid: str) -> tuple[str, str, str] | None:
        """(conversation, kind, lead id) of an alert posted here."""
        if self.db is None:
            return None
        rows = self.db.query("SELECT conversation, kind, lead_id FROM max_alerts WHERE mid = ?", (mid,))
        return (str(rows[0][0]), str(rows[0][1]), str(rows[0][2])) if rows else None

    async def post(
        self,
        text: str,
        *,
        conversation: str = "",
        lead_id: str = "",
        kind: str = "note",
        buttons: Sequence[Button] = (),
    ) -> str | None:
        """Send an alert (trimmed under MAX's limit) and remember what it is about; its mid, or None."""
        if len(text) > TEXT_LIMIT:
            text = text[: TEXT_LIMIT - 10].rsplit("\n", 1)[0] + "\n…"
        markup = keyboard(buttons)
        try:
            sent = await self.client.send_message(
                chat_id=str(self.chat_id), text=text, attachments=[markup] if markup else []
            )
        except MaxError as exc:  # the notifier's contract: never raise into the conversation
            log.error("MAX: сбой оповещения администраторам (%s): %s", kind, exc)
            return None
        mid = str((sent.get("body") or {}).get("mid") or "")
        if mid and conversation and self.db is not None:
            with self.db.transaction() as conn:
                conn.execute(
                    "INSERT OR REPLACE INTO max_alerts VALUES (?, ?, ?, ?, ?)",
                    (mid, conversation, lead_id, kind, self.clock.now().isoformat(timespec="seconds")),
                )
        return mid or "sent"

    async def lead(self, lead: Lead, address: Address, *, updated: bool = False) -> bool:
        text = lead_text(lead, updated=updated)
        posted = await self.post(
            text, conversation=address.key, lead_id=lead.id, kind="lead", buttons=status_buttons(lead.id)
        )
        return posted is not None

    async def handoff(
        self, address: Address, reason: str, recent: Sequence[str], *, urgent: bool = False
    ) -> bool:
        title = "🚨 СРОЧНО: возможно неотложное состояние" if urgent else "🙋 Пациент просит администратора"
        lines = [f"{title} · {CHANNEL_NAMES.get(address.channel, address.channel)}"]
        lines.append(f"Контакт: {address.contact or address.user_id}")
        if reason:
            lines.append(f"Причина: {reason}")
        if recent:
            lines.append("\nПоследние сообщения:")
            lines.extend(line[:300] for line in list(recent)[-RECENT_LIMIT:])
        lines.append(
            "\nБот продолжает отвечать пациенту. Ответьте на это сообщение — ответ уйдёт пациенту, и бот "
            "замолчит, пока вы не нажмёте «Вернуть боту»."
            if urgent
            else "\nОтветьте на это сообщение — ответ уйдёт пациенту. Бот молчит, пока вы не нажмёте «Вернуть боту»."
        )
        posted = await self.post(
            "\n".join(lines),
            conversation=address.key,
            kind="handoff",
            buttons=(Button("Вернуть боту", HAND_BACK),),
        )
        return posted is not None

    async def relay(self, address: Address, text: str) -> bool:
        posted = await self.post(
            f"💬 {address.contact or address.user_id}:\n{text[:3500]}",
            conversation=address.key,
            kind="relay",
            buttons=(Button("Вернуть боту", HAND_BACK),),
        )
        return posted is not None

    async def warn(self, text: str) -> bool:
        return await self.post(f"⚠️ {text}", kind="warning") is not None

    async def forget(self, conversation: str, lead_ids: Sequence[str]) -> int:
        if self.db is None:
            return 0
        rows = self.db.query(
            "SELECT mid, kind, lead_id FROM max_alerts WHERE conversation = ?", (conversation,)
        )
        cleared = 0
        forgotten = set(lead_ids)
        for mid, kind, lead_id in rows:
            if kind == "lead" and lead_id in forgotten:
                text, buttons = FORGOTTEN_LEAD.format(lead_id=lead_id), status_buttons(str(lead_id))
            elif kind in ("handoff", "relay"):
                text, buttons = FORGOTTEN_MESSAGES, ()
            else:
                continue
            markup = keyboard(buttons)
            try:
                await self.client.edit_message(str(mid), text=text, attachments=[markup] if markup else [])
            except MaxError as exc:
                log.warning("MAX: оповещение администраторам %s не убрано: %s", mid, exc)
                continue
            cleared += 1
        return cleared


class BothNotifiers(AdminNotifier):
    """The Telegram and the MAX admin chats together: posted once at least one of them took the alert."""

    def __init__(self, notifiers: Sequence[AdminNotifier]) -> None:
        self.notifiers = list(notifiers)

    async def lead(self, lead: Lead, address: Address, *, updated: bool = False) -> bool:
        return any([await n.lead(lead, address, updated=updated) for n in self.notifiers])

    async def handoff(
        self, address: Address, reason: str, recent: Sequence[str], *, urgent: bool = False
    ) -> bool:
        return any([await n.handoff(address, reason, recent, urgent=urgent) for n in self.notifiers])

    async def relay(self, address: Address, text: str) -> bool:
        return any([await n.relay(address, text) for n in self.notifiers])

    async def warn(self, text: str) -> bool:
        return any([await n.warn(text) for n in self.notifiers])

    async def forget(self, conversation: str, lead_ids: Sequence[str]) -> int:
        return sum([await n.forget(conversation, lead_ids) for n in self.notifiers])


# --- what administrators do in the chat ------------------------------------------------------------


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _chat_of(update: dict[str, Any]) -> Any:
    return _dict(_dict(update.get("message")).get("recipient")).get("chat_id")


def is_admin_update(update: dict[str, Any], chat_id: int) -> bool:
    """A message or a button press in the admin chat (not a patient's dialog)."""
    kind = update.get("update_type")
    return kind in ("message_created", "message_callback") and str(_chat_of(update)) == str(chat_id)


def _who(user: dict[str, Any]) -> str:
    name = " ".join(str(user.get(k) or "") for k in ("first_name", "last_name")).strip()
    return (
        name
        or (f"@{user['username']}" if user.get("username") else "")
        or str(user.get("user_id") or "администратор")
    )


async def handle_admin_update(notifier: MaxAdminNotifier, app: App, update: dict[str, Any]) -> None:
    """A status button, «Вернуть боту», or a reply to an alert that goes back to the patient."""
    message = _dict(update.get("message"))
    if update.get("update_type") == "message_callback":
        await _pressed(notifier, app, _dict(update.get("callback")), message)
        return
    if _dict(message.get("sender")).get("is_bot"):
        return
    link = _dict(message.get("link"))
    replied = str(_dict(link.get("message")).get("mid") or "")
    text = str(_dict(message.get("body")).get("text") or "").strip()
    if link.get("type") != "reply" or not replied or not text:
        return
    about = notifier.about(replied)
    if about is None:
        await notifier.post("Это сообщение не об обращении пациента: ответьте на оповещение о пациенте.")
        return
    conversation, _, _ = about
    delivered = await app.service.admin_reply(conversation, [Outgoing(text)])
    if not delivered:
        await notifier.post("Не удалось отправить ответ пациенту (подробности в журнале сервиса).")


async def _pressed(
    notifier: MaxAdminNotifier, app: App, callback: dict[str, Any], message: dict[str, Any]
) -> None:
    callback_id, payload = str(callback.get("callback_id") or ""), str(callback.get("payload") or "")
    body = _dict(message.get("body"))
    mid, text = str(body.get("mid") or ""), str(body.get("text") or "")
    by = _who(_dict(callback.get("user")))
    answer: dict[str, Any] = {}
    chosen = parse_status(payload)
    if chosen is not None:
        status, lead_id = chosen
        lead = await app.service.set_status(lead_id, status, by)
        if lead is None:
            answer = {"notification": "Заявка не найдена"}
        else:
            shown = text.split("\n\n✅ ")[0] + f"\n\n✅ {status} — {by}, {notifier.now_text()}"
            markup = keyboard(status_buttons(lead_id))
            answer = {"message": {"text": shown[:TEXT_LIMIT], "attachments": [markup] if markup else []}}
    elif payload == HAND_BACK:
        about = notifier.about(mid)
        if about is not None and await app.service.hand_back(about[0]):
            answer = {
                "message": {"text": f"{text}\n\n↩️ Возвращено боту — {by}"[:TEXT_LIMIT], "attachments": []}
            }
        else:
            answer = {"notification": "Разговор не найден"}
    else:
        answer = {"notification": "Кнопка устарела"}
    try:
        await notifier.client.answer_callback(
            callback_id, notification=answer.get("notification"), message=answer.get("message")
        )
    except MaxError as exc:
        log.warning("MAX: нет ответа на нажатие кнопки администратором: %s", exc)
