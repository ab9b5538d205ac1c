"""A Telegram worker process: the patients of its share of the chats, for the front process (see `shards`).

Started by the front as `python -m bot.channels.telegram.worker --fd N` with one end of a socket pair. It
gets the front's settings, builds the same application on the same local record (SQLite) and answers the
updates it is given with the same aiogram dispatcher and channel as the front. The front keeps what only one
process may do: polling or the webhook, the admin chat, the outbox, timers and reports; a lead committed
here is announced to the front (an `L` frame), which delivers the outbox.

A `Q` frame (or SIGTERM) finishes the messages in hand, then exits. The end of the socket without `Q` means
the front died (`kill -9`): the worker exits at once, and the next front answers what was left from the
updates it had kept.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import signal
import socket
import sys
from typing import Any

from aiogram.types import Update

from bot import event_loop, heap
from bot.bootstrap import App, build_app
from bot.channels.telegram import wire
from bot.channels.telegram.setup import TelegramRuntime, build_admin_notifier, build_bot, setup_telegram
from bot.cli import setup_logging
from bot.clock import SystemClock
from bot.config import Settings
from bot.dialogue.messages import outgoing_from_plain
from bot.knowledge.watch import watch_knowledge
from bot.storage.checkpoints import keep_checkpointing
from sheets.outbox import OutboxFlusher

__all__ = ["main", "serve_worker"]

log = logging.getLogger("bot.telegram.worker")


def tell(writer: asyncio.StreamWriter, data: bytes) -> None:
    """A frame to the front; dropped once the front is gone (killed: what was not reported is redone by its
    next run, which finds it still kept)."""
    if not writer.is_closing():
        writer.write(data)


def build_worker(settings: Settings, writer: asyncio.StreamWriter) -> tuple[App, TelegramRuntime]:
    """The application as the front builds it, except that the outbox is delivered by the front."""
    clock = SystemClock()
    bot = build_bot(settings)
    notifier = build_admin_notifier(bot, settings, clock) if settings.admin_chat_id is not None else None
    app = build_app(settings, clock=clock, notifier=notifier)
    # No sinks here: `deliver_leads` only wakes this flusher, and the wake-up is passed to the front.
    app.flusher = OutboxFlusher(app.outbox, {}, clock)
    app.service.flusher = app.flusher
    runtime = setup_telegram(
        app,
        bot,
        notifier,
        report_finished=lambda ids: tell(writer, wire.frame(wire.FINISHED, ",".join(map(str, ids)))),
    )
    return app, runtime


async def _announce_leads(flusher: OutboxFlusher, writer: asyncio.StreamWriter) -> None:
    while True:
        await flusher.wakeup.wait()
        flusher.wakeup.clear()
        tell(writer, wire.frame(wire.LEADS))


class _Worker:
    def __init__(self, app: App, runtime: TelegramRuntime, writer: asyncio.StreamWriter) -> None:
        self.app = app
        self.runtime = runtime
        self.writer = writer
        self.tasks: set[asyncio.Task[Any]] = set()

    def _spawn(self, work: Any) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    def take(self, line: bytes) -> None:
        kind, payload = line[:1], line[1:].rstrip(b"\n")
        if kind == wire.UPDATE:
            bot = self.runtime.bot
            update = Update.model_validate_json(payload, context={"bot": bot})
            self._spawn(self.runtime.dispatcher.feed_update(bot, update))
        elif kind == wire.SEND:
            self._spawn(self._send(json.loads(payload)))
        else:
            log.warning("неизвестный кадр %r от главного процесса; пропущен", kind)

    async def _send(self, request: dict[str, Any]) -> None:
        try:
            ok = await self.runtime.channel.send(
                int(request["chat"]), outgoing_from_plain(request["messages"])
            )
        except Exception:  # the front must hear back either way
            log.exception("Telegram: не удалось отправить в чат %s", request.get("chat"))
            ok = False
        tell(self.writer, wire.frame(wire.SENT, json.dumps({"id": request["id"], "ok": ok})))

    async def finish(self, timeout: float) -> None:
        """Answer what was received, then let go of the network and the database."""
        if self.tasks:
            await asyncio.wait(list(self.tasks), timeout=timeout)
        await self.runtime.channel.close(timeout)
        await self.runtime.updates.close()


async def _read(reader: asyncio.StreamReader) -> bytes:
    """The next chunk from the front; b"" at its end, whether it closed the socket or was killed (reset)."""
    try:
        return await reader.read(1 << 16)
    except ConnectionError:
        return b""


async def _take_frames(reader: asyncio.StreamReader, worker: _Worker) -> bool:
    """Frames until Q (True) or the end of the socket (False). Read in chunks, not line by line: a burst's
    frames arrive together and are taken in one turn of the loop, as one polled batch would be."""
    pending = b""
    while chunk := await _read(reader):
        *lines, pending = (pending + chunk).split(b"\n")
        for line in lines:
            if not line:
                continue
            if line[:1] == wire.QUIT:
                return True
            try:
                worker.take(line)
            except Exception:  # one unreadable frame must not end the worker
                log.exception("не удалось обработать кадр от главного процесса")
    log.warning("главный процесс пропал; этот рабочий процесс Telegram останавливается")
    return False


async def serve_worker(sock: socket.socket, *, stop_timeout: float = 5.0) -> int:
    reader, writer = await asyncio.open_connection(sock=sock, limit=wire.LIMIT)
    first = await reader.readline()
    if first[:1] != wire.SETTINGS:
        log.error("рабочий процесс Telegram запускает сам сервис (`python -m bot run`)")
        return 2
    settings = wire.settings_from(first[1:].rstrip(b"\n"))
    app, runtime = build_worker(settings, writer)
    sigterm = False
    loop = asyncio.get_running_loop()

    def on_sigterm() -> None:  # finish what is in hand, as on a Q frame
        nonlocal sigterm
        sigterm = True
        reader.feed_eof()

    with contextlib.suppress(NotImplementedError):
        loop.add_signal_handler(signal.SIGTERM, on_sigterm)
    background = [
        loop.create_task(_announce_leads(app.flusher, writer)),
        loop.create_task(watch_knowledge(app, announce=False)),
        loop.create_task(keep_checkpointing(app.db)),
    ]
    worker = _Worker(app, runtime, writer)
    graceful = False
    try:
        app.warm_up()
        heap.tune()
        heap.settle()
        tell(writer, wire.frame(wire.READY))
        graceful = await _take_frames(reader, worker) or sigterm
        if graceful:
            await worker.finish(stop_timeout)
        else:  # the front is gone: nothing more is sent that it could not hear of
            runtime.channel.abandon()
            for task in worker.tasks:
                task.cancel()
    finally:
        for task in background:
            task.cancel()
        await asyncio.gather(*background, return_exceptions=True)
        with contextlib.suppress(Exception):
            runtime.updates.save()  # what was answered is reported (if the front is still there)
        with contextlib.suppress(Exception):
            await runtime.bot.session.close()
        app.close()
        with contextlib.suppress(Exception):
            writer.close()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fd", type=int, required=True, help="the socket to the front process")
    parser.add_argument("--log-level", default="INFO", help="the front's: DEBUG, INFO, WARNING...")
    args = parser.parse_args(argv)
    setup_logging(args.log_level)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the front, which tells its workers
    sock = socket.socket(fileno=args.fd)
    return event_loop.run(serve_worker(sock))


if __name__ == "__main__":
    sys.exit(main())
