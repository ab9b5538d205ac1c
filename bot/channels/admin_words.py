"""What every admin chat (Telegram, MAX) shows the same way: the status buttons and the channels' names."""

from __future__ import annotations

from sheets.schema import Status

__all__ = ["CHANNEL_NAMES", "HAND_BACK", "RECENT_LIMIT", "STATUS_BUTTONS", "STATUS_BY_CODE"]

# (callback code, label, status): the codes are short because a button's data is limited (64 bytes in Telegram).
STATUS_BUTTONS: tuple[tuple[str, str, Status], ...] = (
    ("w", "В работу", Status.IN_WORK),
    ("b", "Записан", Status.BOOKED),
    ("n", "Не дозвонились", Status.NOT_REACHED),
    ("r", "Отказ", Status.REFUSED),
)
STATUS_BY_CODE = {code: status for code, _, status in STATUS_BUTTONS}
HAND_BACK = "hb"
CHANNEL_NAMES = {
    "telegram": "Telegram",
    "whatsapp": "WhatsApp",
    "max": "MAX",
    "web": "сайт",
    "console": "консоль",
}
RECENT_LIMIT = 10  # the patient's last messages shown with a handoff
