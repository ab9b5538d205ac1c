"""The sheets' columns as the contract fixes them, and the lead row."""

from __future__ import annotations

import secrets
from dataclasses import asdict, dataclass, replace
from enum import StrEnum

LEADS_SHEET = "Обращения"
DOCTORS_SHEET = "Врачи"
SUMMARY_SHEET = "Сводка"

LEAD_HEADER: tuple[str, ...] = (
    "ID",
    "Дата и время",
    "Имя",
    "Телефон",
    "Врач / услуга",
    "Время приёма",
    "Обращение",
    "Канал",
    "Контакт",
    "Комментарий",
    "Статус",
)
DOCTORS_HEADER: tuple[str, ...] = ("ФИО", "Специальность", "Услуги", "Примечание")


class Status(StrEnum):
    NEW = "новая"
    UNCONFIRMED = "не подтверждена"
    IN_WORK = "в работе"
    BOOKED = "записан"
    REFUSED = "отказ"
    NOT_REACHED = "не дозвонились"


class Window(StrEnum):
    MORNING = "до 14:00"
    AFTERNOON = "после 14:00"
    ANY = "любое"


class Visit(StrEnum):
    FIRST = "первичное"
    REPEAT = "повторное"


# The comment of a row whose patient withdrew consent (shown to administrators in the sheet).
WITHDRAWN_COMMENT = (
    "Пациент отозвал согласие на обработку персональных данных; имя, телефон и контакт удалены"
)

CHANNELS: tuple[str, ...] = ("telegram", "whatsapp", "web", "console")
# Alphabet without look-alikes (0/O, 1/I/l) so an administrator can read an ID over the phone.
_ID_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"


def new_lead_id() -> str:
    return "".join(secrets.choice(_ID_ALPHABET) for _ in range(8))


@dataclass(frozen=True, slots=True)
class Lead:
    """One request, as one row of "Обращения"."""

    id: str
    created: str  # YYYY-MM-DD HH:MM, clinic time
    name: str
    phone: str  # E.164
    service: str  # "ФИО (Специальность)" or the specialty/service alone
    window: str
    visit: str
    channel: str
    contact: str
    comment: str
    status: str = Status.NEW

    def to_row(self) -> list[str]:
        return [
            self.id,
            self.created,
            self.name,
            self.phone,
            self.service,
            self.window,
            self.visit,
            self.channel,
            self.contact,
            self.comment,
            self.status,
        ]

    @classmethod
    def from_row(cls, row: list[str] | tuple[str, ...]) -> Lead:
        cells = [*list(row), *[""] * len(LEAD_HEADER)][: len(LEAD_HEADER)]
        return cls(*(str(c) for c in cells))

    def with_status(self, status: str) -> Lead:
        return replace(self, status=status)

    def without_personal_data(self) -> Lead:
        """The row after the patient withdrew consent: name, phone and contact blank, the comment (which may
        tell a symptom) replaced by the reason; the anonymous request (date, service, channel) stays."""
        return replace(self, name="", phone="", contact="", comment=WITHDRAWN_COMMENT)

    def as_dict(self) -> dict[str, str]:
        return asdict(self)


# The statuses the bot writes itself; every other status (and any text an administrator typed) is theirs.
BOT_STATUSES = frozenset({Status.NEW, Status.UNCONFIRMED})


def is_bot_status(status: str) -> bool:
    """Whether the bot may replace this status: its own (`новая`, `не подтверждена`) or none at all."""
    return " ".join(status.split()).casefold() in {"", *BOT_STATUSES}


def keep_admin_status(lead: Lead, current: str) -> Lead:
    """The bot's new version of a row whose status is `current` now: an administrators' status stays."""
    return lead if is_bot_status(current) else lead.with_status(current)
