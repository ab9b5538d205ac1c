"""The MAX channel: updates in (long polling, or the webhook with its secret header), replies out.

Every update is on disk in the inbox (`inbox.py`) before the webhook answers 200 or the polling marker
moves; the dialogue runs after, in a background task per patient (their messages in order). An update MAX
delivers again is recognised by its key (message id, callback id) and answered once. When the local record
cannot be written the webhook answers 503 and polling asks again with the old marker.

At start (`resume`) the updates a crash left unfinished are queued in their arrival order, ahead of
anything new from the same patient.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hmac
import logging
import random
from collections import Counter
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from aiohttp import web

from bot.bootstrap import App
from bot.channels.apology import apology
from bot.channels.console import to_incoming
from bot.channels.in_order import InOrder
from bot.channels.max.admin import MaxAdminNotifier, handle_admin_update, is_admin_update
from bot.channels.max.api import MaxAuthError, MaxBlockedError, MaxClient, MaxError
from bot.channels.max.inbound import UPDATE_TYPES, InboundUpdate, parse_update, update_key
from bot.channels.max.inbox import MaxInbox, MaxInboxEntry
from bot.channels.max.offered import SPENT, MaxOffered
from bot.channels.max.render import render
from bot.dialogue.messages import Address, Button, Incoming, Outgoing
from bot.errors import StorageError
from bot.http.bounded_json import JsonTooDeep, loads_bounded
from bot.http.health import error_log
from bot.notify import PatientMessenger

__all__ = ["CHANNEL", "SECRET_HEADER", "WEBHOOK_PATH", "MaxChannel", "MaxMessenger"]

log = logging.getLogger(__name__)

CHANNEL = "max"
WEBHOOK_PATH = "/webhook/max"
SECRET_HEADER = "X-Max-Bot-Api-Secret"
ADMINS = "admins"  # the inbox's "user" of the admin chat's updates: handled in order, one after another
STALE = "Эти кнопки уже неактуальны — ответьте, пожалуйста, на последнее сообщение."
POLL_TIMEOUT = 30  # seconds MAX holds a long poll open (at most 90)


class MaxChannel:
    """Translates between MAX updates / the Bot API and the conversation service."""

    def __init__(
        self,
        app: App,
        client: MaxClient,
        *,
        webhook_secret: str | None = None,
        admin: MaxAdminNotifier | None = None,
    ) -> None:
        self.app = app
        self.client = client
        self.webhook_secret = webhook_secret
        self.admin = admin  # the MAX admin chat (MAX_ADMIN_CHAT_ID), when there is one
        self.inbox = MaxInbox(app.db)
        self.offered = MaxOffered(app.db)
        self.errors = error_log(app)
        self.counts: Counter[str] = Counter()  # received, duplicate, ignored, refused, sent, blocked...
        self._jobs = InOrder("MAX")
        self._poller: asyncio.Task[None] | None = None

    # --- the webhook ------------------------------------------------------------------------------

    async def receive(self, request: web.Request) -> web.Response:
        """POST /webhook/max: the secret header checked in constant time, the update recorded, 200."""
        given = request.headers.get(SECRET_HEADER)
        expected = self.webhook_secret
        if not expected or given is None or not hmac.compare_digest(given.encode(), expected.encode()):
            self.counts["refused"] += 1
            log.warning(
                "MAX: webhook отклонён: %s %s (от %s)",
                "нет заголовка" if given is None else "неверный заголовок",
                SECRET_HEADER,
                request.remote,
            )
            return web.json_response({"ok": False, "error": "unauthorized"}, status=401)
        raw = await request.read()
        try:
            payload = loads_bounded(raw)
        except JsonTooDeep:
            log.warning(
                "MAX: webhook с верным секретом, но слишком глубоко вложенным JSON (%d байт)", len(raw)
            )
            return web.json_response({"ok": False, "error": "JSON nested too deeply"}, status=400)
        except ValueError:  # UnicodeDecodeError is one too
            log.warning("MAX: webhook с верным секретом, но без JSON (%d байт)", len(raw))
            return web.json_response({"ok": False, "error": "not JSON"}, status=400)
        if isinstance(payload, dict) and isinstance(payload.get("updates"), list):
            updates = payload["updates"]
        else:
            updates = [payload]
        try:
            self.accept(updates)
        except StorageError as exc:  # not on disk: MAX must deliver it again
            log.error("MAX: событие не записано, прошу MAX прислать его снова: %s", exc)
            self.errors.record(CHANNEL, f"входящее событие не записано: {exc}")
            return web.json_response({"ok": False, "error": "try again later"}, status=503)
        return web.json_response({"ok": True})

    # --- long polling -----------------------------------------------------------------------------

    def start_polling(self, timeout: int = POLL_TIMEOUT) -> None:
        self._poller = asyncio.get_running_loop().create_task(self.poll_forever(timeout), name="max-polling")

    async def poll_forever(self, timeout: int = POLL_TIMEOUT) -> None:
        """`GET /updates` in a loop; the marker moves on only once the batch is on disk."""
        marker = self.inbox.marker()
        failures = 0
        while True:
            try:
                updates, next_marker = await self.client.updates(marker, timeout=timeout, types=UPDATE_TYPES)
                self.accept(updates, marker=next_marker)
            except (MaxError, StorageError) as exc:
                failures += 1
                delay = min(2.0 ** min(failures, 5), 30.0) * random.uniform(0.8, 1.2)
                if failures == 1 or failures % 10 == 0:
                    log.error(
                        "MAX: сбой получения сообщений (long polling), подряд: %d; повтор через %.0f с: %s",
                        failures,
                        delay,
                        exc,
                    )
                    self.errors.record(CHANNEL, f"сбой получения сообщений (long polling): {exc}")
                if isinstance(exc, MaxAuthError):
                    delay = max(delay, 30.0)
                await asyncio.sleep(delay)
                continue
            except Exception as exc:  # a bug must not stop MAX patients being heard: logged, polling goes on
                failures += 1
                log.exception(
                    "MAX: непредвиденный сбой получения сообщений (long polling), подряд: %d", failures
                )
                self.errors.record(
                    CHANNEL, f"непредвиденный сбой получения сообщений (long polling): {exc!r}"
                )
                await asyncio.sleep(min(2.0 ** min(failures, 5), 30.0))
                continue
            failures = 0
            marker = next_marker

    # --- accepting updates ------------------------------------------------------------------------

    def accept(self, updates: Sequence[Any], *, marker: int | None = None) -> int:
        """Record the new updates (on disk, with the marker) and start them; returns how many started."""
        rows: list[tuple[str, str, dict[str, Any]]] = []
        for raw in updates:
            if self._for_admins(raw):
                key = update_key(raw)
                if key:
                    rows.append((key, ADMINS, raw))
                    continue
            parsed = parse_update(raw) if isinstance(raw, dict) else None
            if parsed is None:
                self.counts["ignored"] += 1
                log.debug("MAX update ignored: %s", raw.get("update_type") if isinstance(raw, dict) else raw)
                continue
            rows.append((parsed.key, parsed.user_id, raw))
        entries = self.inbox.record(rows, self.app.clock.now(), marker=marker)
        again = Counter(key for key, _, _ in rows) - Counter(e.key for e in entries)
        for key, times in again.items():
            self.counts["duplicate"] += times
            log.info("MAX: событие %s пришло повторно; оно уже принято", key)
        for entry in entries:
            self.counts["received"] += 1
            self._jobs.schedule(entry.user_id, functools.partial(self.process, entry))
        return len(entries)

    def resume(self) -> int:
        """Queue the updates a crash left unfinished, in arrival order; returns how many."""
        entries = self.inbox.unfinished()
        for entry in entries:
            self._jobs.schedule(entry.user_id, functools.partial(self.process, entry))
        self.counts["resumed"] += len(entries)
        if entries:
            log.warning("MAX: обрабатываю события, оставшиеся от прошлого запуска: %d", len(entries))
        return len(entries)

    # --- one update -------------------------------------------------------------------------------

    async def process(self, entry: MaxInboxEntry) -> None:
        """The press acknowledged and "typing…", the dialogue, the replies; then the row is finished."""
        if self.admin is not None and self._for_admins(entry.update):
            await handle_admin_update(self.admin, self.app, entry.update)
            self.inbox.finish(entry.seq, self.app.clock.now())
            return
        update = parse_update(entry.update)
        if update is None:
            self.inbox.finish(entry.seq, self.app.clock.now(), state="skipped")
            return
        replies = entry.replies
        side: list[asyncio.Task[None]] = []
        if replies is None:
            if update.kind == "callback":
                if self._stale(update):
                    await self._refuse_stale(update)
                    self.inbox.finish(entry.seq, self.app.clock.now(), state="stale")
                    return
                side.append(asyncio.create_task(self._answer_callback(update)))
            side.append(asyncio.create_task(self._typing(update.chat_id)))
            replies = await self._answer(update)
            self.inbox.answered(entry.seq, replies)  # at once: a crash from here on resends, not re-asks
            if update.kind == "callback":
                self.offered.set_keyboard(update.user_id, SPENT)
        else:
            log.info("MAX: событие %s: отправляю ответ, сохранённый до перезапуска", entry.key)
        for task in side:
            await task
        if replies:
            await self.deliver(update.user_id, replies)
        self.inbox.finish(entry.seq, self.app.clock.now())

    def _for_admins(self, raw: Any) -> bool:
        return self.admin is not None and isinstance(raw, dict) and is_admin_update(raw, self.admin.chat_id)

    async def _answer(self, update: InboundUpdate) -> tuple[Outgoing, ...]:
        address = Address(CHANNEL, update.user_id, update.contact)
        incoming = update.incoming
        if update.kind == "started" and self.app.store.load(address).greeted:
            incoming = replace(incoming, text="/start")  # opened again: start over, as Telegram's /start
        incoming = self._resolve(incoming, self.offered.get(update.user_id))
        # A turn committed before a crash is recognised by its receipt: its replies come back, not decided twice.
        incoming = replace(incoming, receipts=(update.key,))
        try:
            replies = await self.app.service.handle(address, incoming)
        except Exception as exc:  # one error handler: a polite reply and a log line with context
            log.exception("MAX: сбой обработки события %s от пользователя %s", update.key, update.user_id)
            self.errors.record(CHANNEL, f"сбой обработки сообщения: {exc!r}")
            replies = [Outgoing(apology(self.app))]
        return tuple(replies)

    @staticmethod
    def _resolve(incoming: Incoming, offered: Sequence[Button]) -> Incoming:
        """A typed number or label of the options shown last presses that option."""
        if incoming.button is not None or not incoming.text or not offered or incoming.contact_phone:
            return incoming
        typed = to_incoming(incoming.text, offered)
        if typed.button is None:
            return incoming
        return replace(incoming, text=typed.text, button=typed.button)

    def _stale(self, update: InboundUpdate) -> bool:
        """A press on a keyboard that is no longer the live one (an older message, or pressed already)."""
        live = self.offered.keyboard(update.user_id)
        return live is not None and update.message_mid != live

    async def _refuse_stale(self, update: InboundUpdate) -> None:
        self.counts["stale"] += 1
        texts = self.app.texts
        note = texts.get("stale_buttons") if texts.has("stale_buttons") else STALE
        try:
            await self.client.answer_callback(update.callback_id, notification=note)
        except MaxError as exc:
            log.warning("MAX: нет ответа на нажатие кнопки %s: %s", update.callback_id, exc)

    async def _answer_callback(self, update: InboundUpdate) -> None:
        """The spinner on the button stops; the keyboard is taken away and the choice shown under the text."""
        label = update.incoming.text
        try:
            if update.message_text:
                shown = f"{update.message_text}\n\n✓ {label}" if label else update.message_text
                await self.client.answer_callback(
                    update.callback_id, message={"text": shown[:4000], "attachments": []}
                )
            else:
                await self.client.answer_callback(
                    update.callback_id, notification=f"✓ {label}" if label else "✓"
                )
        except MaxError as exc:
            log.warning("MAX: нет ответа на нажатие кнопки %s: %s", update.callback_id, exc)

    async def _typing(self, chat_id: str) -> None:
        try:
            await self.client.typing(chat_id)
        except MaxError as exc:
            log.debug("MAX typing action in chat %s failed: %s", chat_id, exc)

    async def deliver(self, user_id: str, messages: Sequence[Outgoing]) -> bool:
        """Send replies in order; False when MAX refused one (the rest are not sent)."""
        offered = next((m.buttons for m in reversed(messages) if m.buttons), ())
        if offered:
            self.offered.set(user_id, offered)
        for message in messages:
            for piece in render(message):
                try:
                    sent = await self.client.send_message(
                        user_id=user_id, text=piece.text, attachments=piece.attachments
                    )
                except MaxBlockedError as exc:
                    self.counts["blocked"] += 1
                    text = f"пользователю {user_id} нельзя написать (заблокировал бота или вышел): {exc}"
                    log.warning("MAX: %s", text)
                    self.errors.record(CHANNEL, text)
                    return False
                except MaxError as exc:
                    self.counts["send_failed"] += 1
                    text = f"не удалось отправить пользователю {user_id}: {exc}"
                    log.error("MAX: %s", text)
                    self.errors.record(CHANNEL, text)
                    return False
                self.counts["sent"] += 1
                mid = str((sent.get("body") or {}).get("mid") or "")
                if piece.attachments and mid:
                    self.offered.set_keyboard(user_id, mid)
        return True

    # --- background work --------------------------------------------------------------------------

    @property
    def pending(self) -> int:
        return self._jobs.pending

    async def drain(self) -> None:
        """Wait until every accepted update is answered (tests, shutdown)."""
        await self._jobs.drain()

    async def close(self, timeout: float = 10.0) -> None:
        """Stop polling, finish the work in hand (up to `timeout` seconds), close the HTTP client."""
        if self._poller is not None:
            self._poller.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._poller
            self._poller = None
        try:
            await asyncio.wait_for(self.drain(), timeout)
        except TimeoutError:
            log.warning(
                "MAX: при остановке не закончено событий: %d; они будут обработаны при следующем запуске",
                self._jobs.pending,
            )
            await self._jobs.cancel()
        await self.client.aclose()


class MaxMessenger(PatientMessenger):
    """Messages to a MAX patient outside a reply (an administrator's answer, reminders)."""

    channel = CHANNEL

    def __init__(self, max_channel: MaxChannel) -> None:
        self.max_channel = max_channel

    async def send(self, address: Address, messages: Sequence[Outgoing]) -> bool:
        return await self.max_channel.deliver(address.user_id, messages)
