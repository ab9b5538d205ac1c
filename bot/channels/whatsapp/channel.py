"""The WhatsApp channel: Meta's signed webhook in, the core's replies out through the Graph API.

The webhook answers 200 as soon as the body is verified and each new message is on disk in the inbox
(`inbox.py`: pending until the dialogue handled it and its replies were attempted); the dialogue runs after,
in a background task per patient (messages of one patient in order). A message id Meta delivers again is
recognised by the inbox and processed once. When the local record cannot be written the webhook answers
503, so Meta delivers again later.

At start (`resume`, before the server listens) the messages a crash left unfinished are queued in their
arrival order, ahead of anything new from the same patient.

Too old to answer: a message the patient sent more than `MAX_AGE` (24 hours) ago, by Meta's timestamp, is
not answered but dropped with a warning in the log and in /healthz. WhatsApp allows a free-form reply only
within 24 hours of the patient's message, and an answer a day late would come out of context. This catches
messages left by a long outage and Meta's redeliveries after one (Meta retries for up to 7 days).
"""

from __future__ import annotations

import asyncio
import functools
import hmac
import logging
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from aiohttp import web

from bot.bootstrap import App
from bot.channels.apology import apology
from bot.channels.console import to_incoming
from bot.channels.in_order import InOrder
from bot.channels.pacing import waiting_since
from bot.channels.whatsapp.graph import GraphAuthError, GraphClient, GraphError, WindowClosedError
from bot.channels.whatsapp.inbound import StatusError, StatusUpdate, parse_webhook
from bot.channels.whatsapp.inbox import InboxEntry, WhatsAppInbox
from bot.channels.whatsapp.render import render
from bot.channels.whatsapp.signature import signature_valid
from bot.channels.whatsapp.window import WINDOW, WhatsAppContacts
from bot.dialogue.messages import Address, Button, Incoming, Outgoing
from bot.errors import StorageError
from bot.http.bounded_json import JsonTooDeep, loads_bounded
from bot.http.health import error_log
from bot.notify import PatientMessenger
from bot.redact import mask_phone

__all__ = ["CHANNEL", "WEBHOOK_PATH", "WhatsAppChannel", "WhatsAppMessenger", "mask", "receipt_of"]

log = logging.getLogger(__name__)

CHANNEL = "whatsapp"
WEBHOOK_PATH = "/webhook/whatsapp"
SIGNATURE_HEADER = "X-Hub-Signature-256"
MAX_AGE: timedelta = WINDOW  # older messages are dropped, not answered (see the module docstring)


def receipt_of(message_id: str) -> str:
    """A WhatsApp message as the conversation service's receipt (`Incoming.receipts`)."""
    return f"{CHANNEL}:{message_id}"


def mask(wa_id: str) -> str:
    """A WhatsApp number for logs: enough to tell patients apart, not enough to call them."""
    return mask_phone("+" + wa_id) if len(wa_id) > 6 else "+***"


class WhatsAppChannel:
    """Translates between Meta's webhooks / Graph API and the conversation service."""

    def __init__(
        self,
        app: App,
        graph: GraphClient,
        *,
        app_secret: str | None,
        verify_token: str | None,
        phone_number_id: str,
    ) -> None:
        self.app = app
        self.graph = graph
        self.app_secret = app_secret
        self.verify_token = verify_token
        self.phone_number_id = phone_number_id
        self.contacts = WhatsAppContacts(app.db)
        self.inbox = WhatsAppInbox(app.db)
        self.errors = error_log(app)
        self.counts: Counter[str] = Counter()  # received, duplicate, resumed, dropped, status:<name>, sent...
        self._jobs = InOrder("WhatsApp")

    # --- the webhook ------------------------------------------------------------------------------

    async def verify(self, request: web.Request) -> web.Response:
        """Meta's subscription handshake: echo `hub.challenge` when `hub.verify_token` is ours."""
        query = request.query
        token = query.get("hub.verify_token", "")
        if (
            query.get("hub.mode") == "subscribe"
            and self.verify_token
            and hmac.compare_digest(token.encode(), self.verify_token.encode())
        ):
            log.info("WhatsApp: Meta подтвердила webhook")
            return web.Response(text=query.get("hub.challenge", ""), content_type="text/plain")
        log.warning("WhatsApp: проверка webhook отклонена: неверный hub.verify_token или hub.mode")
        return web.Response(status=403, text="verification failed")

    async def receive(self, request: web.Request) -> web.Response:
        """A signed delivery: checked over the raw bytes, recorded, answered at once; work goes on after."""
        raw = await request.read()
        if not signature_valid(raw, request.headers.get(SIGNATURE_HEADER), self.app_secret):
            self.counts["refused"] += 1
            log.warning(
                "WhatsApp: webhook отклонён, подпись: %s (%d байт от %s)",
                "нет" if SIGNATURE_HEADER not in request.headers else "неверная",
                len(raw),
                request.remote,
            )
            return web.Response(status=401, text="invalid signature")
        try:
            payload = loads_bounded(raw)
        except JsonTooDeep:
            log.warning(
                "WhatsApp: webhook с верной подписью, но слишком глубоко вложенным JSON (%d байт)", len(raw)
            )
            return web.Response(status=400, text="JSON nested too deeply")
        except ValueError:  # UnicodeDecodeError is one too
            log.warning("WhatsApp: webhook с верной подписью, но без JSON (%d байт)", len(raw))
            return web.Response(status=400, text="not JSON")
        try:
            self.accept(payload)
        except StorageError as exc:  # not on disk: Meta must deliver it again
            log.error("WhatsApp: доставка не записана, Meta пришлёт её снова: %s", exc)
            self.errors.record(CHANNEL, f"входящее сообщение не записано: {exc}")
            return web.Response(status=503, text="try again later")
        return web.Response(text="EVENT_RECEIVED")

    def accept(self, payload: Any) -> int:
        """Record statuses and new messages (on disk), start their processing; returns how many started."""
        messages, statuses = parse_webhook(payload)
        for status in statuses:
            self._on_status(status)
        ours = []
        for message in messages:
            if message.phone_number_id and message.phone_number_id != self.phone_number_id:
                log.warning(
                    "WhatsApp: сообщение для другого номера (id %s) пропущено", message.phone_number_id
                )
                continue
            ours.append(message)
        entries = self.inbox.record(ours, self.app.clock.now())
        again = Counter(m.message_id for m in ours) - Counter(e.message.message_id for e in entries)
        for message_id, times in again.items():
            self.counts["duplicate"] += times
            log.info("WhatsApp: сообщение %s пришло повторно; оно уже принято", message_id)
        for entry in entries:
            self.counts["received"] += 1
            self._jobs.schedule(entry.message.wa_id, functools.partial(self.process, entry))
        return len(entries)

    def resume(self) -> int:
        """Queue the messages a crash left unfinished, in arrival order; returns how many."""
        entries = self.inbox.unfinished()
        for entry in entries:
            self._jobs.schedule(entry.message.wa_id, functools.partial(self.process, entry))
        self.counts["resumed"] += len(entries)
        if entries:
            log.warning("WhatsApp: обрабатываю сообщения, оставшиеся от прошлого запуска: %d", len(entries))
        return len(entries)

    def _on_status(self, status: StatusUpdate) -> None:
        self.counts[f"status:{status.status}"] += 1
        if status.status != "failed":
            log.debug("WhatsApp message %s: %s", status.message_id, status.status)
            return
        now = self.app.clock.now()
        for error in status.errors or (StatusError(0, "причина не указана"),):
            if error.code == 131047:
                self.contacts.close(status.recipient, status.timestamp or now)
            text = f"сообщение {mask(status.recipient)} не доставлено: {error.code} {error.title}"
            if error.details:
                text += f" ({error.details})"
            log.warning("WhatsApp: %s", text)
            self.errors.record(CHANNEL, text)

    # --- one message ------------------------------------------------------------------------------

    async def process(self, entry: InboxEntry) -> None:
        """Read receipt and typing, the dialogue, the replies; the inbox row is finished after them.

        Failures of the dialogue are answered with the apology and logged; a failure to write the inbox
        leaves the row unfinished, for the next start.
        """
        message = entry.message
        now = self.app.clock.now()
        if now - entry.sent_at >= MAX_AGE:
            self._drop(entry, now)
            return
        self.contacts.inbound(message.wa_id, entry.sent_at)
        replies = entry.replies
        receipt: asyncio.Task[None] | None = None
        if replies is None:
            replies, receipt = await self._answer(entry)
            self.inbox.answered(entry.seq, replies)  # at once: a crash from here on resends, not re-asks
        else:
            log.info(
                "WhatsApp: сообщение %s: отправляю ответ, сохранённый до перезапуска", message.message_id
            )
        if receipt is not None:
            await receipt  # blue ticks before the answer
        if replies:
            # its place in the pace: when the message came in (who wrote earlier is answered first)
            waited = max(0.0, (self.app.clock.now() - entry.received_at).total_seconds())
            with waiting_since(time.monotonic() - waited):
                await self.deliver(message.wa_id, replies)
        self.inbox.finish(entry.seq, self.app.clock.now())

    async def _answer(self, entry: InboxEntry) -> tuple[tuple[Outgoing, ...], asyncio.Task[None]]:
        """The dialogue's replies, and the read receipt under way."""
        message = entry.message
        address = Address(CHANNEL, message.wa_id, "+" + message.wa_id)
        receipt = asyncio.create_task(self._mark_read(message.message_id))  # while the answer is prepared
        incoming = self._resolve(message.incoming, self.contacts.offered(message.wa_id))
        # A turn committed before a crash is recognised by its receipt: its replies come back, not decided twice.
        incoming = replace(incoming, receipts=(receipt_of(message.message_id),))
        try:
            replies = await self.app.service.handle(address, incoming)
        except Exception as exc:  # one error handler: a polite reply and a log line with context
            log.exception(
                "WhatsApp: сбой обработки сообщения %s от %s", message.message_id, mask(message.wa_id)
            )
            self.errors.record(CHANNEL, f"сбой обработки сообщения: {exc!r}")
            replies = [Outgoing(apology(self.app))]
        return tuple(replies), receipt

    def _drop(self, entry: InboxEntry, now: datetime) -> None:
        self.counts["dropped"] += 1
        age = now - entry.sent_at
        text = (
            f"сообщение {entry.message.message_id} от {mask(entry.message.wa_id)} пропущено без ответа: "
            f"отправлено {age.total_seconds() / 3600:.0f} ч назад, отвечать можно только в течение 24 часов"
        )
        log.warning("WhatsApp: %s", text)
        self.errors.record(CHANNEL, text)
        self.inbox.finish(entry.seq, now, state="dropped")

    @staticmethod
    def _resolve(incoming: Incoming, offered: Sequence[Button]) -> Incoming:
        """A typed number or label of the options shown last presses that option."""
        if incoming.button is not None or not incoming.text or not offered:
            return incoming
        typed = to_incoming(incoming.text, offered)
        if typed.button is None:
            return incoming
        return replace(incoming, text=typed.text, button=typed.button)

    async def _mark_read(self, message_id: str) -> None:
        try:
            await self.graph.mark_read(message_id, typing=True)
        except GraphError as exc:
            log.warning("WhatsApp: не удалось отметить %s прочитанным: %s", message_id, exc)
            if isinstance(exc, GraphAuthError):
                self.errors.record(CHANNEL, f"токен отклонён: {exc}")

    async def deliver(self, wa_id: str, messages: Sequence[Outgoing]) -> bool:
        """Send replies in order; False when Graph refused one (the rest are not sent)."""
        offered = next((m.buttons for m in reversed(messages) if m.buttons), ())
        if list(offered) != self.contacts.offered(wa_id):
            self.contacts.offer(wa_id, offered)
        for message in messages:
            for body in render(message):
                try:
                    await self.graph.send_message(wa_id, body)
                except WindowClosedError as exc:
                    self.contacts.close(wa_id, self.app.clock.now())
                    self._failed(wa_id, exc, "прошло больше 24 часов")
                    return False
                except GraphError as exc:
                    self._failed(wa_id, exc, "токен отклонён" if isinstance(exc, GraphAuthError) else "")
                    return False
                self.counts["sent"] += 1
        return True

    def _failed(self, wa_id: str, exc: GraphError, what: str) -> None:
        self.counts["send_failed"] += 1
        text = f"не удалось отправить {mask(wa_id)}" + (f" ({what})" if what else "") + f": {exc}"
        log.error("WhatsApp: %s", text)
        self.errors.record(CHANNEL, text)

    async def send_outside_reply(self, address: Address, messages: Sequence[Outgoing]) -> bool:
        """An administrator's answer or a reminder: only inside the 24-hour window."""
        if not self.contacts.window_open(address.user_id, self.app.clock.now()):
            self.counts["window_closed"] += 1
            log.warning(
                "WhatsApp: сообщение %s не отправлено: прошло больше 24 часов (можно только шаблоны)",
                mask(address.user_id),
            )
            return False
        return await self.deliver(address.user_id, messages)

    # --- background work --------------------------------------------------------------------------

    @property
    def pending(self) -> int:
        return self._jobs.pending

    async def drain(self) -> None:
        """Wait until every accepted message is answered (tests, shutdown)."""
        await self._jobs.drain()

    async def close(self, timeout: float = 10.0) -> None:
        """Finish the work in hand (up to `timeout` seconds), then close the HTTP client."""
        try:
            await asyncio.wait_for(self.drain(), timeout)
        except TimeoutError:
            log.warning(
                "WhatsApp: при остановке не закончено сообщений: %d; они будут обработаны при следующем запуске",
                self._jobs.pending,
            )
            await self._jobs.cancel()
        await self.graph.aclose()


class WhatsAppMessenger(PatientMessenger):
    """Messages to a WhatsApp patient outside a reply; False outside the 24-hour window."""

    channel = CHANNEL

    def __init__(self, whatsapp: WhatsAppChannel) -> None:
        self.whatsapp = whatsapp

    async def send(self, address: Address, messages: Sequence[Outgoing]) -> bool:
        return await self.whatsapp.send_outside_reply(address, messages)
