"""Ports to the people around a conversation: the administrators, and patients reached outside a reply."""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import Sequence

from bot.dialogue.messages import Address, Outgoing
from bot.redact import mask_key, mask_phones
from sheets.schema import Lead

log = logging.getLogger(__name__)


class AdminNotifier(ABC):
    """Contract: tells the administrators' chat about leads, handoffs and warnings. Never raises: a
    failure is logged and reported as False (the alerts about conversations are kept and posted again,
    see `bot.alerts`; the lead itself is already safe in the local record)."""

    @abstractmethod
    async def lead(self, lead: Lead, address: Address, *, updated: bool = False) -> bool:
        """A new (or completed / unconfirmed) lead, with every field and status buttons; True once posted."""

    @abstractmethod
    async def handoff(
        self, address: Address, reason: str, recent: Sequence[str], *, urgent: bool = False
    ) -> bool:
        """A patient asked for a person (`urgent`: emergency signs, the bot goes on answering); replies
        to this alert go back to the patient."""

    @abstractmethod
    async def relay(self, address: Address, text: str) -> bool:
        """A patient's message during a handoff."""

    @abstractmethod
    async def warn(self, text: str) -> bool:
        """Something the administrators must know (a parked lead, a broken knowledge file)."""

    async def forget(self, conversation: str, lead_ids: Sequence[str]) -> int:
        """The patient withdrew consent: clear the personal data from the alerts already posted about these
        leads and from the conversation's handoff and relayed messages; how many alerts were cleared. A
        notifier that keeps no alerts (the log) has nothing to clear."""
        return 0


class LogNotifier(AdminNotifier):
    """The embedded default: alerts go to the log (no admin chat configured). The log is no place for a
    patient's data (152-FZ): at INFO only what happened and to which lead, the alert's full text at DEBUG."""

    def __init__(self) -> None:
        self.sent: list[str] = []

    def _emit(self, text: str, summary: str) -> bool:
        self.sent.append(text)
        log.info("оповещение (чата для него нет): %s", summary)
        log.debug("admin alert in full: %s", text)
        return True

    async def lead(self, lead: Lead, address: Address, *, updated: bool = False) -> bool:
        text = f"lead {lead.id} {lead.status}: {lead.name} {lead.phone} {lead.service}"
        return self._emit(text, f"заявка {lead.id} ({lead.status}) от {mask_key(address.key)}")

    async def handoff(
        self, address: Address, reason: str, recent: Sequence[str], *, urgent: bool = False
    ) -> bool:
        kind = "URGENT" if urgent else "handoff"
        return self._emit(
            f"{kind} {address.key}: {reason}",
            f"{'СРОЧНО: ' if urgent else ''}пациенту {mask_key(address.key)} нужен ответ сотрудника клиники",
        )

    async def relay(self, address: Address, text: str) -> bool:
        return self._emit(f"relay {address.key}: {text}", f"сообщение пациента {mask_key(address.key)}")

    async def warn(self, text: str) -> bool:
        # Warnings are the service's own words (a parked lead, a knowledge file), yet some quote what a
        # patient gave (a withdrawal's lead ids, a sink's error): only their first line at INFO.
        return self._emit(
            f"warning: {text}", f"предупреждение: {mask_phones(text.splitlines()[0] if text else '')}"
        )


class PatientMessenger(ABC):
    """Contract: sends messages to a patient outside a reply (administrator's answer, reminders).
    Returns False when the channel cannot deliver now (e.g. outside WhatsApp's 24-hour window)."""

    channel: str = ""

    @abstractmethod
    async def send(self, address: Address, messages: Sequence[Outgoing]) -> bool: ...


class MessengerRegistry:
    """One messenger per channel name, filled by the channels that run."""

    def __init__(self) -> None:
        self._by_channel: dict[str, PatientMessenger] = {}

    def register(self, messenger: PatientMessenger) -> None:
        self._by_channel[messenger.channel] = messenger

    def get(self, channel: str) -> PatientMessenger | None:
        return self._by_channel.get(channel)

    async def send(self, address: Address, messages: Sequence[Outgoing]) -> bool:
        messenger = self._by_channel.get(address.channel)
        if messenger is None:
            log.warning(
                "нет мессенджера для канала %s; сообщение %s не отправлено",
                address.channel,
                mask_key(address.key),
            )
            return False
        return await messenger.send(address, messages)
