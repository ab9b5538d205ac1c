"""`python -m bot run`: the service — Telegram and MAX (polling or webhook), WhatsApp, the widget, the outbox,
timers.

Stops gracefully on SIGTERM/SIGINT: no new updates are taken, the messages in hand are answered, the outbox
gets a last flush, exit status 0 within a few seconds.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib
import logging
import signal
import sys
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from bot import event_loop, heap
from bot.bootstrap import App, build_app
from bot.cli import setup_logging
from bot.clock import SystemClock
from bot.config import Settings, load_settings
from bot.http.server import create_http_app, start_http
from bot.knowledge.watch import watch_knowledge
from bot.report.weekly import run_weekly_report, telegram_sender
from bot.scheduler import run_scheduler
from bot.storage.checkpoints import keep_checkpointing
from bot.storage.retention import keep_pruning

__all__ = ["add_arguments", "main", "serve"]

log = logging.getLogger("bot.run")

# The log is no place for patients' data (152-FZ): without an admin chat the alerts' text is at DEBUG only.
NO_ADMIN_CHAT = (
    "чат администраторов не настроен: уведомления о заявках и просьбы позвать администратора никому не "
    "приходят, в журнал они пишутся только при LOG_LEVEL=DEBUG (впишите TELEGRAM_BOT_TOKEN и ADMIN_CHAT_ID "
    "или MAX_BOT_TOKEN и MAX_ADMIN_CHAT_ID в .env, чтобы администраторы получали их с данными пациентов)"
)
NOT_CONFIGURED = (
    "Telegram не настроен (TELEGRAM_BOT_TOKEN пуст), MAX, WhatsApp и чат на сайте выключены: пациентам боту "
    "не написать. Впишите токен от @BotFather в TELEGRAM_BOT_TOKEN в файле .env (и ADMIN_CHAT_ID для уведомлений "
    "администраторам), затем проверьте: make check. Пока работают только отправка заявок и таймеры."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--log-level",
        default=None,
        metavar="УРОВЕНЬ",
        help="подробность журнала: DEBUG, INFO, WARNING (по умолчанию LOG_LEVEL или INFO)",
    )


def _optional(module: str, name: str) -> Callable[..., Any] | None:
    """A channel's setup function when that channel's package exists in this version."""
    try:
        return getattr(importlib.import_module(module), name)  # type: ignore[no-any-return]
    except (ImportError, AttributeError):
        return None


async def serve(
    settings: Settings,
    stop: asyncio.Event,
    *,
    on_ready: Callable[[App, int | None], Awaitable[None] | None] | None = None,
    polling_timeout: int = 25,
) -> int:
    """Run until `stop` is set. `on_ready(app, http_port)` is called once everything listens."""
    clock = SystemClock()
    bot = None
    notifier = None
    if settings.telegram_enabled:
        from bot.channels.telegram import build_admin_notifier, build_bot

        bot = build_bot(settings)
        if settings.admin_chat_id is not None:
            notifier = build_admin_notifier(bot, settings, clock)
    max_client: Any = None
    max_admin: Any = None
    app_notifier: Any = notifier
    if settings.max_enabled and settings.max_admin_chat_id is not None:
        from bot.channels.max import BothNotifiers, build_max_admin, build_max_client

        max_client = build_max_client(settings)
        max_admin = build_max_admin(settings, max_client, clock)
        app_notifier = max_admin if notifier is None else BothNotifiers([notifier, max_admin])
    if app_notifier is None:
        log.warning(NO_ADMIN_CHAT)
    app = build_app(settings, clock=clock, notifier=app_notifier)
    background: list[asyncio.Task[None]] = [
        asyncio.create_task(app.flusher.run_forever(), name="outbox"),
        asyncio.create_task(run_scheduler(app), name="timers"),
        asyncio.create_task(watch_knowledge(app), name="knowledge"),
        asyncio.create_task(keep_checkpointing(app.db), name="checkpoints"),
        asyncio.create_task(keep_pruning(app), name="retention"),
    ]
    if bot is not None and settings.admin_chat_id is not None:
        sender = telegram_sender(bot, settings.admin_chat_id)
        background.append(asyncio.create_task(run_weekly_report(app, sender), name="weekly-report"))
    http_app = create_http_app(app)
    need_http = False
    runtime = None
    max_runtime: Any = None
    runner: web.AppRunner | None = None
    port: int | None = None
    try:
        if bot is not None:
            from bot.channels.telegram import setup_telegram

            runtime = setup_telegram(app, bot, notifier)
            await runtime.prepare()
            log.info("Telegram: бот @%s готов", runtime.username)
            if settings.telegram_webhook_url:
                runtime.add_webhook_route(http_app)
                need_http = True
        if settings.whatsapp_enabled:
            setup_whatsapp = _optional("bot.channels.whatsapp", "setup_whatsapp")
            if setup_whatsapp is None:
                log.error("WhatsApp настроен, но в этой версии бота нет канала WhatsApp")
            else:
                setup_whatsapp(app, http_app)
                need_http = True
        if settings.max_enabled:
            setup_max = _optional("bot.channels.max", "setup_max")
            if setup_max is None:
                log.error("MAX настроен, но в этой версии бота нет канала MAX")
            else:
                max_runtime = setup_max(app, http_app, client=max_client, admin=max_admin)
                need_http = need_http or bool(settings.max_webhook_url)
        if settings.web_demo or settings.web_allowed_origins:
            setup_web = _optional("bot.channels.web", "setup_web")
            if setup_web is None:
                log.error("WEB_DEMO/WEB_ALLOWED_ORIGINS заданы, но в этой версии бота нет чата для сайта")
            else:
                setup_web(app, http_app)
                need_http = True
        if need_http:
            runner, port = await start_http(http_app, settings.http_host, settings.http_port)
            log.info("HTTP-сервер слушает %s:%s", settings.http_host, port)
        if runtime is not None:
            if settings.telegram_webhook_url:
                await runtime.set_webhook()
                log.info("Telegram: режим webhook, адрес %s", settings.telegram_webhook_url)
            else:
                await runtime.start_polling(polling_timeout=polling_timeout)
                log.info("Telegram: бот получает сообщения (long polling)")
        if max_runtime is not None:
            await max_runtime.start(polling_timeout=polling_timeout)
        if runtime is None and max_runtime is None and not need_http:
            log.warning(NOT_CONFIGURED)
            if not log.isEnabledFor(logging.WARNING):  # else the log line above already said it on stderr
                print(NOT_CONFIGURED, file=sys.stderr, flush=True)
        await asyncio.to_thread(app.warm_up)
        heap.tune()
        heap.settle()
        if on_ready is not None:
            result = on_ready(app, port)
            if result is not None:
                await result
        await stop.wait()
        log.info("Остановка: дописываю ответы на уже полученные сообщения")
    finally:
        if runtime is not None:
            await runtime.stop(timeout=5)
        if runner is not None:
            await runner.cleanup()
        if max_runtime is not None:
            await max_runtime.stop(timeout=5)
        for task in background:
            task.cancel()
        await asyncio.gather(*background, return_exceptions=True)
        with contextlib.suppress(Exception):
            await asyncio.wait_for(app.flusher.flush(), 3)
        app.close()
    return 0


async def _main(settings: Settings) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    return await serve(settings, stop)


def main(args: argparse.Namespace) -> int:
    settings = load_settings()
    setup_logging(args.log_level or settings.log_level, tz=settings.tz)
    return event_loop.run(_main(settings))
