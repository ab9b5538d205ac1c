"""Telegram worker processes: patients' chats shared out over `TELEGRAM_WORKERS` processes (cores).

One Python process answers about a thousand messages a second; a burst of a thousand patients writing at
once would wait up to a second for the last answer. With `TELEGRAM_WORKERS` = N > 1 this process (the front)
still receives every update (polling or the webhook) and keeps it (`UpdateLog`), answers the admin chat and
its own share of the patients, and passes each other private chat's updates to worker `chat_id % N`, a
process of its own (`worker`). One chat always goes to the same process, so its messages stay in order and
its debounce window and keyboards are in one place. Messages to a patient outside a reply (an
administrator's answer, a reminder) go through the process that owns the chat, too.

Conversation state is in the shared SQLite file; a save that lost a race with another process is retried
from a fresh read (the state's revision). A worker that dies is restarted; the updates it had not finished
are answered here meanwhile (they were kept), and its chats come back to it once it is up again.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import os
import socket
import sys
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

from aiogram import BaseMiddleware
from aiogram.types import TelegramObject, Update

from bot.channels.telegram import wire
from bot.channels.telegram.channel import TelegramChannel, TelegramMessenger
from bot.channels.telegram.once import UpdateLog
from bot.config import Settings
from bot.dialogue.messages import Address, Outgoing

__all__ = ["ShardRouter", "ShardedMessenger", "Shards", "WorkerProcess", "chat_of"]

log = logging.getLogger(__name__)

_ROOT = Path(__file__).resolve().parents[3]  # the folder holding the `bot` package


def chat_of(update: Update) -> int | None:
    """The private chat an update belongs to (None: not a patient's chat)."""
    message = update.message or update.edited_message
    if message is not None:
        return message.chat.id if message.chat.type == "private" else None
    query = update.callback_query
    if query is not None:
        if query.message is not None:
            return query.message.chat.id if query.message.chat.type == "private" else None
        return query.from_user.id
    return None


class WorkerProcess:
    """One worker: the child process, the socket to it, and the M frames waiting for their R."""

    def __init__(
        self,
        index: int,
        settings: Settings,
        *,
        on_leads: Callable[[], None],
        on_finished: Callable[[list[int]], None],
        on_exit: Callable[[int], None],
    ) -> None:
        self.index = index
        self.settings = settings
        self.on_leads = on_leads
        self.on_finished = on_finished
        self.on_exit = on_exit
        self.up = False
        self.process: asyncio.subprocess.Process | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._reading: asyncio.Task[None] | None = None
        self._waiting: dict[int, asyncio.Future[bool]] = {}
        self._outgoing: list[bytes] = []
        self._next_id = 0
        self._stopping = False

    async def start(self, timeout: float = 60.0) -> None:
        """Start the process and wait until it is ready; raises RuntimeError when it cannot start."""
        ours, theirs = socket.socketpair()
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(_ROOT), env.get("PYTHONPATH", "")) if p)
        try:
            self.process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "bot.channels.telegram.worker",
                "--fd",
                str(theirs.fileno()),
                "--log-level",
                logging.getLevelName(logging.getLogger().getEffectiveLevel()),
                pass_fds=(theirs.fileno(),),
                stdin=asyncio.subprocess.DEVNULL,
                env=env,
            )
        finally:
            theirs.close()
        reader, self._writer = await asyncio.open_connection(sock=ours, limit=wire.LIMIT)
        self._writer.write(wire.settings_frame(self.settings))
        try:
            ready = await asyncio.wait_for(reader.readline(), timeout)
        except TimeoutError:
            ready = b""
        if ready[:1] != wire.READY:
            await self._kill()
            raise RuntimeError(
                f"Telegram: рабочий процесс {self.index} не запустился (причина в строках журнала выше)"
            )
        self.up = True
        self._stopping = False
        self._reading = asyncio.get_running_loop().create_task(self._read(reader))

    def forward(self, payload: str) -> None:
        """Queue an update for the worker; the frames of one turn of the loop go in one write."""
        self._outgoing.append(wire.frame(wire.UPDATE, payload))
        if len(self._outgoing) == 1:
            asyncio.get_running_loop().call_soon(self._flush)

    def _flush(self) -> None:
        frames, self._outgoing = self._outgoing, []
        if self._writer is not None and frames:
            self._writer.write(b"".join(frames))

    async def send(self, chat_id: int, messages: Sequence[Outgoing], timeout: float = 120.0) -> bool:
        """Messages to a patient of this worker, sent by it (its chat memory sees them); False if not sent."""
        if not self.up or self._writer is None:
            return False
        self._next_id += 1
        request = self._next_id
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._waiting[request] = future
        self._flush()  # in order after the updates of this turn
        self._writer.write(wire.send_frame(request, chat_id, messages))
        try:
            return await asyncio.wait_for(future, timeout)
        except TimeoutError:
            log.error("Telegram: рабочий процесс %d вовремя не подтвердил сообщение %s", self.index, chat_id)
            return False
        finally:
            self._waiting.pop(request, None)

    async def _read(self, reader: asyncio.StreamReader) -> None:
        try:
            while line := await reader.readline():
                kind, payload = line[:1], line[1:].rstrip(b"\n")
                if kind == wire.FINISHED:
                    self.on_finished([int(x) for x in payload.split(b",")])
                elif kind == wire.LEADS:
                    self.on_leads()
                elif kind == wire.SENT:
                    answer = json.loads(payload)
                    future = self._waiting.get(int(answer["id"]))
                    if future is not None and not future.done():
                        future.set_result(bool(answer["ok"]))
        except (ConnectionError, ValueError) as exc:
            log.error("Telegram: рабочий процесс %d: связь прервана (%s)", self.index, exc)
        self.up = False
        for future in self._waiting.values():
            if not future.done():
                future.set_result(False)
        if not self._stopping:
            self.on_exit(self.index)

    async def stop(self, timeout: float) -> None:
        """Ask the worker to finish what it has and exit; killed after `timeout` seconds."""
        self._stopping = True
        if self._writer is not None and self.up:
            with contextlib.suppress(ConnectionError):
                self._flush()  # the updates already forwarded are answered before it quits
                self._writer.write(wire.frame(wire.QUIT))
                await self._writer.drain()
        if self.process is not None:
            try:
                await asyncio.wait_for(self.process.wait(), timeout)
            except TimeoutError:
                log.warning(
                    "Telegram: рабочий процесс %d не остановился за %.0f с; завершён принудительно",
                    self.index,
                    timeout,
                )
                await self._kill()
        if self._reading is not None:
            await asyncio.gather(self._reading, return_exceptions=True)
        self._close_socket()

    async def _kill(self) -> None:
        if self.process is not None and self.process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.process.kill()
            await self.process.wait()
        self._close_socket()

    def _close_socket(self) -> None:
        if self._writer is not None:
            with contextlib.suppress(Exception):
                self._writer.close()
            self._writer = None


class Shards:
    """The worker processes of the front, which chat goes where, and what happens when one dies."""

    def __init__(
        self,
        count: int,
        settings: Settings,
        *,
        admin_chat: int | None,
        updates: UpdateLog,
        deliver_leads: Callable[[], Awaitable[None]],
        handle_here: Callable[[list[str]], Awaitable[None]],
        restart_after: Sequence[float] = (1.0, 5.0, 30.0, 120.0),
    ) -> None:
        self.count = count
        self.admin_chat = admin_chat
        self.updates = updates
        self.deliver_leads = deliver_leads
        self.handle_here = handle_here
        self.restart_after = restart_after
        self._leads = asyncio.Event()
        self.workers = {
            i: WorkerProcess(
                i, settings, on_leads=self._leads.set, on_finished=updates.finished, on_exit=self._exited
            )
            for i in range(1, count)
        }
        self.restarts = 0
        self._tasks: set[asyncio.Task[Any]] = set()
        self._stopping = False

    # --- routing -----------------------------------------------------------------------------------

    def owner(self, chat_id: int | None) -> int:
        """The process a chat belongs to: 0 for this one (and for the admin chat), else a worker's index."""
        if chat_id is None or chat_id == self.admin_chat:
            return 0
        return chat_id % self.count

    def worker_for_chat(self, chat_id: int | None) -> WorkerProcess | None:
        """The worker that owns this chat; None when it is this process's (or its worker is down)."""
        worker = self.workers.get(self.owner(chat_id))
        return worker if worker is not None and worker.up else None

    def worker_for(self, update: Update) -> WorkerProcess | None:
        return self.worker_for_chat(chat_of(update))

    def _shard_of(self, payload: str) -> int:
        return self.owner(chat_of(Update.model_validate_json(payload)))

    # --- life --------------------------------------------------------------------------------------

    async def start(self) -> None:
        """Start every worker (in parallel); one that cannot start leaves its chats to this process."""
        self._spawn(self._deliver_forever())
        results = await asyncio.gather(*(w.start() for w in self.workers.values()), return_exceptions=True)
        for worker, result in zip(self.workers.values(), results, strict=True):
            if isinstance(result, BaseException):
                log.error("%s; его пациентам отвечает главный процесс", result)
                self._spawn(self._restart(worker.index))
        log.info("Telegram: запущено рабочих процессов: %d", sum(w.up for w in self.workers.values()))

    async def stop(self, timeout: float) -> None:
        self._stopping = True
        await asyncio.gather(*(w.stop(timeout) for w in self.workers.values()))
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._leads.is_set():
            await self.deliver_leads()

    def _spawn(self, work: Any) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _deliver_forever(self) -> None:
        """A worker committed leads: deliver the outbox here (several announcements, one delivery)."""
        while True:
            await self._leads.wait()
            self._leads.clear()
            await self.deliver_leads()

    def _exited(self, index: int) -> None:
        if self._stopping:
            return
        log.error(
            "Telegram: рабочий процесс %d неожиданно остановился; пока его пациентам отвечает главный процесс",
            index,
        )
        self.updates.save()  # what reached this process is on disk before it is looked for
        payloads = self.updates.take_back(lambda payload: self._shard_of(payload) == index)
        if payloads:
            self._spawn(self.handle_here(payloads))
        self._spawn(self._restart(index))

    async def _restart(self, index: int) -> None:
        worker = self.workers[index]
        for delay in itertools.chain(self.restart_after, itertools.repeat(self.restart_after[-1])):
            await asyncio.sleep(delay)
            if self._stopping:
                return
            try:
                await worker.start()
            except (RuntimeError, OSError) as exc:
                log.error("%s", exc)
                continue
            self.restarts += 1
            log.info("Telegram: рабочий процесс %d снова работает", index)
            return


class ShardRouter(BaseMiddleware):
    """An outer update middleware after `UpdateLog`: a worker's chat goes to its worker, kept until done."""

    def __init__(self, shards: Shards, updates: UpdateLog) -> None:
        self.shards = shards
        self.updates = updates
        self.forwarded = 0

    async def __call__(self, handler: Any, event: TelegramObject, data: dict[str, Any]) -> Any:
        worker = self.shards.worker_for(event) if isinstance(event, Update) else None
        if worker is None:
            return await handler(event, data)
        assert isinstance(event, Update)
        self.updates.hand_over()
        worker.forward(self.updates.payload(event))
        self.forwarded += 1
        return None


class ShardedMessenger(TelegramMessenger):
    """Messages to a Telegram patient outside a reply, sent by the process that owns the chat."""

    def __init__(self, telegram: TelegramChannel, shards: Shards) -> None:
        super().__init__(telegram)
        self.shards = shards

    async def send(self, address: Address, messages: Sequence[Outgoing]) -> bool:
        worker = self.shards.worker_for_chat(int(address.user_id))
        if worker is None:
            return await super().send(address, messages)
        return await worker.send(int(address.user_id), messages)
