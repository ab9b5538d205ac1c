"""The Telegram patients' channel: one worker per chat keeps messages in order and joins quick ones.

Handlers only queue what arrived (`TelegramChannel.put`); the chat's worker waits `TELEGRAM_DEBOUNCE` for
more text from the same chat, asks the conversation service once with everything together, and sends the
replies with "typing…" shown meanwhile. Buttons, contacts and commands are never held back.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from aiogram import Bot
from aiogram.enums import ChatAction

from bot.bootstrap import App
from bot.channels.apology import apology
from bot.channels.console import to_incoming
from bot.channels.pacing import waiting_since
from bot.channels.telegram.inbound import CHANNEL, merge
from bot.channels.telegram.once import UpdateLog
from bot.channels.telegram.render import render
from bot.channels.telegram.sender import Delivery
from bot.dialogue.messages import Address, Button, Incoming, Outgoing
from bot.http.health import error_log
from bot.notify import PatientMessenger

__all__ = ["ChatMemory", "TelegramChannel", "TelegramMessenger"]

log = logging.getLogger(__name__)

TYPING_EVERY = 4.5  # Telegram shows "typing…" for 5 seconds
TYPING_AFTER = 0.3  # a button's answer: "typing…" only when it is not there at once


@dataclass
class ChatMemory:
    """What the channel remembers of a chat between messages (in memory; a restart forgets it safely)."""

    offered: tuple[Button, ...] = ()
    keyboard_message: int = 0  # the last message with inline buttons: older ones are stale
    keyboard_text: str = ""
    contact_keyboard: bool = False
    last_message: int = 0  # the patient's latest message id (edits of older ones are ignored)


@dataclass
class _Item:
    address: Address
    incoming: Incoming
    debounce: bool
    update_id: int | None = None  # kept in the update log until this item is answered
    message_id: int = 0  # the patient's message, while an edit of it can still be taken (not yet read)
    queued_at: float = field(default_factory=time.monotonic)  # its replies' place in the pace (FIFO)


@dataclass
class _Worker:
    queue: asyncio.Queue[_Item] = field(default_factory=asyncio.Queue)
    task: asyncio.Task[None] | None = None
    unread: dict[int, _Item] = field(default_factory=dict)  # message id -> queued or in the debounce window


class _Typing:
    """ "typing…" that starts only if the answer takes longer than `after` seconds.

    A timer, not a task, until then: most answers are ready in milliseconds, and a task per message
    created and cancelled unused was a measurable part of a burst's CPU time.
    """

    def __init__(self, keep_typing: Callable[[], Coroutine[Any, Any, None]], *, after: float) -> None:
        self._keep_typing = keep_typing
        self._task: asyncio.Task[None] | None = None
        self._timer = asyncio.get_running_loop().call_later(after, self._start)

    def _start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._keep_typing())

    def stop(self) -> None:
        self._timer.cancel()
        if self._task is not None:
            self._task.cancel()


class TelegramChannel:
    """Translates between aiogram and the conversation service; owns delivery and the per-chat workers."""

    def __init__(self, app: App, bot: Bot, *, debounce: float | None = None, max_chats: int = 50_000) -> None:
        self.app = app
        self.bot = bot
        self.errors = error_log(app)
        self.delivery = Delivery(self.errors)
        self.debounce = app.settings.telegram_debounce.total_seconds() if debounce is None else debounce
        self.max_wait = max(self.debounce * 4, 0.0)
        self._memory: OrderedDict[int, ChatMemory] = OrderedDict()
        self._max_chats = max_chats
        self._workers: dict[str, _Worker] = {}
        self.closing = False
        self.handled = 0
        self.updates: UpdateLog | None = None  # set by the runtime: keeps updates until answered

    # --- memory ----------------------------------------------------------------------------------

    def memory(self, chat_id: int) -> ChatMemory:
        found = self._memory.get(chat_id)
        if found is None:
            found = self._memory[chat_id] = ChatMemory()
            while len(self._memory) > self._max_chats:
                self._memory.popitem(last=False)
        else:
            self._memory.move_to_end(chat_id)
        return found

    # --- inbound ---------------------------------------------------------------------------------

    def put(
        self, address: Address, incoming: Incoming, *, debounce: bool = True, message_id: int = 0
    ) -> None:
        """Queue one patient message for its chat's worker (started on demand, ends when idle)."""
        worker = self._workers.get(address.key)
        if worker is None:
            worker = self._workers[address.key] = _Worker()
            worker.task = asyncio.get_running_loop().create_task(self._work(address.key, worker))
        update_id = self.updates.defer() if self.updates is not None else None
        if update_id is not None:
            incoming = replace(incoming, receipts=(f"{CHANNEL}:{self.bot.id}:{update_id}",))
        item = _Item(address, incoming, debounce and self.debounce > 0, update_id, message_id)
        if message_id:
            worker.unread[message_id] = item
        worker.queue.put_nowait(item)

    def edit(self, address: Address, message_id: int, incoming: Incoming) -> bool:
        """The patient edited a message the bot has not read yet (still in the debounce window or queued):
        the new text is read instead. False when it was already read (too late to take the edit)."""
        worker = self._workers.get(address.key)
        item = worker.unread.get(message_id) if worker is not None else None
        if item is None or item.incoming.contact_phone or item.incoming.unsupported:
            return False
        item.incoming = replace(incoming, receipts=item.incoming.receipts)  # still the same update to answer
        return True

    async def _work(self, key: str, worker: _Worker) -> None:
        queue = worker.queue
        try:
            while not queue.empty():
                item = queue.get_nowait()
                if not item.debounce:
                    await self._answer(worker, [item], typing_after=TYPING_AFTER)
                    continue
                items, follow = await self._gather(item, queue)
                await self._answer(worker, items)
                if follow is not None:
                    await self._answer(worker, [follow])
        finally:
            if self._workers.get(key) is worker:
                del self._workers[key]

    async def _answer(
        self, worker: _Worker, items: list[_Item], *, typing_after: float = TYPING_EVERY
    ) -> None:
        """Answer these messages of one chat together; those a crashed run had answered get its replies."""
        self._read(worker, items)
        address = items[0].address
        fresh = items
        receipts = [r for i in items for r in i.incoming.receipts]
        # One message needs no look here: `handle` itself gives back the replies of a turn already committed.
        # Quick messages joined may have been answered in part by a crashed run: split before they are merged.
        if len(items) > 1 and receipts:
            replayed = self.app.service.answered(receipts)
            if replayed.receipts:
                log.info(
                    "%s: на повторно полученные сообщения уже был ответ: %d",
                    address.key,
                    len(replayed.receipts),
                )
                if replayed.replies:
                    await self.send(int(address.user_id), replayed.replies)
                fresh = [
                    i
                    for i in items
                    if not (i.incoming.receipts and replayed.receipts >= set(i.incoming.receipts))
                ]
        if fresh:
            with waiting_since(items[0].queued_at):
                await self.process(address, merge([i.incoming for i in fresh]), typing_after=typing_after)
        self._finished(items)

    @staticmethod
    def _read(worker: _Worker, items: list[_Item]) -> None:
        """From here on an edit of these messages comes too late."""
        for item in items:
            worker.unread.pop(item.message_id, None)

    def _finished(self, items: list[_Item]) -> None:
        """Answered: the update log may forget them (not called when cancelled: replayed at next start)."""
        if self.updates is not None:
            self.updates.finished(i.update_id for i in items if i.update_id is not None)

    async def _gather(self, first: _Item, queue: asyncio.Queue[_Item]) -> tuple[list[_Item], _Item | None]:
        """Texts arriving within the debounce window of each other, up to `max_wait` in all."""
        parts = [first]
        loop = asyncio.get_running_loop()
        give_up = loop.time() + self.max_wait
        await self._typing(int(first.address.user_id))  # shown while the window waits for more
        while not self.closing:
            wait = min(self.debounce, give_up - loop.time())
            if wait <= 0:
                break
            try:
                nxt = await asyncio.wait_for(queue.get(), wait)
            except TimeoutError:
                break
            if not nxt.debounce:
                return parts, nxt
            parts.append(nxt)
        return parts, None

    async def _typing(self, chat_id: int) -> None:
        try:
            await self.bot.send_chat_action(chat_id, ChatAction.TYPING)
        except Exception as exc:  # "typing…" is decoration: never worth a retry or a failure
            log.debug("typing action to %s failed: %s", chat_id, exc)

    async def _keep_typing(self, chat_id: int) -> None:
        while True:
            await self._typing(chat_id)
            await asyncio.sleep(TYPING_EVERY)

    async def process(
        self, address: Address, incoming: Incoming, *, typing_after: float = TYPING_EVERY
    ) -> None:
        """The dialogue for one (possibly merged) message, then the replies. Never raises."""
        chat_id = int(address.user_id)
        memory = self.memory(chat_id)
        incoming = self._resolve(incoming, memory.offered)
        self.delivery.blocked.discard(chat_id)
        typing = _Typing(lambda: self._keep_typing(chat_id), after=typing_after)
        try:
            replies = await self.app.service.handle(address, incoming)
        except Exception as exc:  # one error handler: a polite reply and a log line with context
            log.exception("Telegram: сбой обработки сообщения от %s", address.key)
            self.errors.record(CHANNEL, f"handling a message from {address.key} failed: {exc!r}")
            replies = [Outgoing(apology(self.app))]
        finally:
            typing.stop()
        self.handled += 1
        if replies:
            await self.send(chat_id, replies)

    @staticmethod
    def _resolve(incoming: Incoming, offered: Sequence[Button]) -> Incoming:
        """A typed label of the buttons shown last (the reply keyboard sends labels) presses that button."""
        if incoming.button is not None or not incoming.text or not offered or incoming.contact_phone:
            return incoming
        typed = to_incoming(incoming.text, offered)
        if typed.button is None or typed.text.strip() != incoming.text.strip():
            return incoming
        return replace(incoming, button=typed.button)

    # --- outbound --------------------------------------------------------------------------------

    async def send(self, chat_id: int, messages: Sequence[Outgoing]) -> bool:
        """Send in order; False when a message could not be delivered (the rest are not sent)."""
        memory = self.memory(chat_id)
        offered = next((m.buttons for m in reversed(messages) if m.buttons), ())
        if offered:
            memory.offered = offered
        for message in messages:
            for piece in render(message, contact_keyboard_shown=memory.contact_keyboard):
                sent = await self.delivery.call(
                    chat_id,
                    "sendMessage",
                    lambda p=piece: self.bot.send_message(chat_id, p.text, reply_markup=p.markup),  # type: ignore[misc]
                )
                if sent is None:
                    return False
                if piece.markup is not None:
                    memory.contact_keyboard = message.request_contact
                if message.buttons and not message.request_contact and piece.markup is not None:
                    memory.keyboard_message = sent.message_id
                    memory.keyboard_text = piece.text
        return True

    # --- stop ------------------------------------------------------------------------------------

    @property
    def pending(self) -> int:
        return len(self._workers)

    async def drain(self) -> None:
        """Wait until every queued message is answered (tests, shutdown)."""
        while self._workers:
            tasks = [w.task for w in self._workers.values() if w.task is not None]
            await asyncio.gather(*tasks, return_exceptions=True)

    def abandon(self) -> None:
        """Drop the work in hand at once, answering nothing more (a Telegram worker whose front process died:
        what it would send now could not be reported, so the front's next run would send it again). The
        updates stay kept: that run answers them, once."""
        self.closing = True
        for worker in self._workers.values():
            if worker.task is not None:
                worker.task.cancel()

    async def close(self, timeout: float = 10.0) -> None:
        """Answer what was received (debounce windows cut short), up to `timeout` seconds."""
        self.closing = True
        try:
            await asyncio.wait_for(self.drain(), timeout)
        except TimeoutError:
            log.warning("Telegram: при остановке не закончено чатов: %d", len(self._workers))


class TelegramMessenger(PatientMessenger):
    """Messages to a Telegram patient outside a reply (an administrator's answer, a reminder)."""

    channel = CHANNEL

    def __init__(self, telegram: TelegramChannel) -> None:
        self.telegram = telegram

    async def send(self, address: Address, messages: Sequence[Outgoing]) -> bool:
        return await self.telegram.send(int(address.user_id), messages)
