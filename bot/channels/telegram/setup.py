"""Wiring Telegram into the running service: the bot, the dispatcher, polling or the webhook, replay after a crash."""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
from collections.abc import Callable
from typing import Any

from aiogram import Bot, Dispatcher
from aiogram.client.default import DefaultBotProperties
from aiogram.client.telegram import TelegramAPIServer
from aiogram.enums import ParseMode
from aiogram.exceptions import ClientDecodeError, TelegramAPIError
from aiogram.types import BotCommand, BotCommandScopeChat, BotCommandScopeDefault, Update
from aiohttp import web

from bot.bootstrap import App
from bot.channels.telegram.admin import AlertBook, MemberCheck, TelegramAdminNotifier
from bot.channels.telegram.channel import TelegramChannel, TelegramMessenger
from bot.channels.telegram.handlers import build_admin_router, build_patient_router
from bot.channels.telegram.once import UpdateLog
from bot.channels.telegram.session import TelegramSession, telegram_pacer
from bot.channels.telegram.shards import ShardedMessenger, ShardRouter, Shards
from bot.channels.telegram.webhook import (
    SECRET_HEADER,
    WEBHOOK_PATH,
    WebhookSecret,
    resolve_secret,
    url_problems,
    webhook_url,
)
from bot.clock import Clock
from bot.config import Settings
from bot.errors import ConfigError
from bot.http.bounded_json import loads_bounded

__all__ = [
    "EXTRAS_KEY",
    "SECRET_HEADER",
    "WEBHOOK_PATH",
    "TelegramRuntime",
    "build_admin_notifier",
    "build_bot",
    "setup_telegram",
]

log = logging.getLogger(__name__)

EXTRAS_KEY = "telegram"
ALLOWED_UPDATES = ["message", "edited_message", "callback_query"]
PATIENT_COMMANDS = [
    BotCommand(command="start", description="Начать: запись к врачу и вопросы"),
    BotCommand(command="help", description="Что умеет бот"),
]
ADMIN_COMMANDS = [
    BotCommand(command="report", description="Сводка за 7 дней (/report 30 — за 30)"),
    BotCommand(command="help", description="Как работать с заявками здесь"),
]


def build_bot(settings: Settings, *, timeout: float = 60.0) -> Bot:
    """aiogram's Bot on TELEGRAM_API_URL (Telegram's, a local Bot API server or a test server), HTML mode."""
    if settings.telegram_bot_token is None:
        raise ConfigError("Telegram is not configured: set TELEGRAM_BOT_TOKEN (from @BotFather)")
    session = TelegramSession(api=TelegramAPIServer.from_base(settings.telegram_api_url), timeout=timeout)
    session.pacer = telegram_pacer(settings)
    return Bot(
        settings.telegram_bot_token.get_secret_value(),
        session=session,
        default=DefaultBotProperties(parse_mode=ParseMode.HTML, link_preview_is_disabled=True),
    )


def build_admin_notifier(bot: Bot, settings: Settings, clock: Clock) -> TelegramAdminNotifier:
    """The admin chat's notifier for `build_app(notifier=...)`; `setup_telegram` attaches it to the app."""
    if settings.admin_chat_id is None:
        raise ConfigError("ADMIN_CHAT_ID is not set: the chat of administrators for alerts")
    return TelegramAdminNotifier(bot, settings.admin_chat_id, clock=clock, tz=settings.tz)


class TelegramRuntime:
    """The bot, its dispatcher and channel, and how updates come in (polling or webhook).

    With `report_finished` it is the runtime of a Telegram worker process (`shards`): fed by the front,
    patients only, the updates it finished reported to the front."""

    def __init__(
        self,
        app: App,
        bot: Bot,
        notifier: TelegramAdminNotifier | None,
        *,
        debounce: float | None = None,
        report_finished: Callable[[list[int]], None] | None = None,
    ):
        worker = report_finished is not None
        self.app = app
        self.bot = bot
        self.notifier = notifier
        self.channel = TelegramChannel(app, bot, debounce=debounce)
        # Conversation state lives in our own store; aiogram's FSM would only cost time per update.
        self.dispatcher = Dispatcher(disable_fsm=True)
        self.updates = UpdateLog(app.db, bot.id, report=report_finished)
        self.dispatcher.update.outer_middleware(self.updates)
        self.channel.updates = self.updates
        admin_chat = notifier.chat_id if notifier is not None else None
        self.shards: Shards | None = None
        self.shard_router: ShardRouter | None = None
        if not worker and app.settings.telegram_workers > 1:
            self.shards = Shards(
                app.settings.telegram_workers,
                app.settings,
                admin_chat=admin_chat,
                updates=self.updates,
                deliver_leads=app.service.deliver_leads,
                handle_here=self._handle_here,
            )
            self.shard_router = ShardRouter(self.shards, self.updates)
            self.dispatcher.update.outer_middleware(self.shard_router)
        # Patients first: nearly every update is theirs, and the admin chat (even a private one) is kept out
        # of their router, so an update meets one router's filters, not two.
        self.dispatcher.include_router(build_patient_router(self.channel, admin_chat=admin_chat))
        if notifier is not None:
            alerts = AlertBook(app.db)
            notifier.attach(alerts, self.channel.delivery)
            if not worker:  # a worker never sees the admin chat's updates
                members = MemberCheck(bot, notifier.chat_id)
                self.dispatcher.include_router(build_admin_router(self.channel, notifier, alerts, members))
        self._polling: asyncio.Task[None] | None = None
        self._secret: WebhookSecret | None = None
        self._feeds: set[asyncio.Task[Any]] = set()
        self.username = ""

    async def prepare(self) -> None:
        """getMe, the commands menu (patients and the admin chat); updates a stopped run left are handled."""
        me = await self.bot.get_me()
        self.username = me.username or ""
        if self.shards is not None:
            await self.shards.start()
        await self.replay()
        await self.channel.delivery.call(
            0,
            "setMyCommands",
            lambda: self.bot.set_my_commands(PATIENT_COMMANDS, scope=BotCommandScopeDefault()),
        )
        if self.notifier is not None:
            chat = self.notifier.chat_id
            await self.channel.delivery.call(
                chat,
                "setMyCommands",
                lambda: self.bot.set_my_commands(ADMIN_COMMANDS, scope=BotCommandScopeChat(chat_id=chat)),
            )

    async def replay(self) -> int:
        """Handle again, in order, the updates the last run received but had not answered (`kill -9`)."""
        pending = self.updates.pending()
        await self._handle_here(pending)
        if pending:
            log.info("Telegram: отвечено на сообщения, оставшиеся от прошлого запуска: %d", len(pending))
        return len(pending)

    async def _handle_here(self, payloads: list[str]) -> None:
        """Kept updates (let through the redelivery check) through this dispatcher, in order."""
        for payload in payloads:
            try:
                update = Update.model_validate_json(payload, context={"bot": self.bot})
            except ValueError as exc:  # written by an older version, say: not worth a crash loop
                log.error("сохранённое сообщение Telegram не читается (%s); пропущено", exc)
                continue
            try:
                await self.dispatcher.feed_update(self.bot, update)
            except Exception:  # one bad update must not keep the service from starting
                log.exception("сохранённое сообщение Telegram снова не обработано; пропущено")
                self.updates.finished((update.update_id,))

    # --- long polling ------------------------------------------------------------------------------

    def keep_polled_batches(self) -> None:
        """Each batch getUpdates returns goes to the update log at once (see `TelegramSession`)."""
        if isinstance(self.bot.session, TelegramSession):
            self.bot.session.on_updates = self.updates.keep_polled

    async def start_polling(self, *, polling_timeout: int = 25) -> None:
        """Poll in the background (a webhook left from webhook mode is removed first)."""
        try:
            info = await self.bot.get_webhook_info()
            if info.url:
                log.info("Telegram: убираю webhook %s и получаю сообщения сам (long polling)", info.url)
                await self.bot.delete_webhook(drop_pending_updates=False)
        except (TelegramAPIError, ClientDecodeError) as exc:  # polling itself will say if it cannot work
            log.warning(
                "Telegram: состояние webhook неизвестно (%s); получаю сообщения сам (long polling)", exc
            )
        self.keep_polled_batches()
        self._polling = asyncio.get_running_loop().create_task(
            self.dispatcher.start_polling(
                self.bot,
                polling_timeout=polling_timeout,
                handle_signals=False,
                close_bot_session=False,
                allowed_updates=ALLOWED_UPDATES,
            )
        )

    # --- webhook -----------------------------------------------------------------------------------

    @property
    def webhook_secret(self) -> WebhookSecret:
        """The secret Telegram is given and every delivery must carry (configured, or generated once)."""
        if self._secret is None:
            self._secret = resolve_secret(self.app.settings)
            if self._secret.path is not None:
                log.info(
                    "секрет webhook Telegram: создан ботом (TELEGRAM_WEBHOOK_SECRET пуст), %s",
                    self._secret.path,
                )
        return self._secret

    def add_webhook_route(self, http_app: web.Application) -> None:
        """`POST /webhook/telegram`; the secret is settled first, so a bad one stops `run` before it listens."""
        _ = self.webhook_secret
        http_app.router.add_post(WEBHOOK_PATH, self.receive)

    async def set_webhook(self) -> None:
        settings = self.app.settings
        if not settings.telegram_webhook_url:
            raise ConfigError("TELEGRAM_WEBHOOK_URL is not set")
        for problem in url_problems(settings.telegram_webhook_url, settings.telegram_api_url):
            log.warning("TELEGRAM_WEBHOOK_URL: %s (как исправить: %s)", problem.detail, problem.fix)
        url = webhook_url(settings.telegram_webhook_url)
        secret = self.webhook_secret.value
        await self.bot.set_webhook(url, secret_token=secret, allowed_updates=ALLOWED_UPDATES)

    async def receive(self, request: web.Request) -> web.Response:
        """POST /webhook/telegram: the secret header checked (401 otherwise), 200 at once, work after."""
        expected = self.webhook_secret.value.encode()
        given = request.headers.get(SECRET_HEADER, "").encode("utf-8", "replace")
        if not hmac.compare_digest(given, expected):
            log.warning("Telegram: webhook отклонён, секретный токен: %s", "неверный" if given else "нет")
            return web.Response(status=401, text="Unauthorized")
        try:
            payload = loads_bounded(await request.read())
            update = Update.model_validate(payload, context={"bot": self.bot})
        except ValueError:  # not JSON, nested past reason (JsonTooDeep), or not an update
            return web.Response(status=400, text="Bad Request")
        if not self.updates.admit(update):  # Telegram retrying one we already have
            return web.json_response({"ok": True})
        self.updates.save()  # kept on disk before Telegram hears 200 and forgets it
        task = asyncio.get_running_loop().create_task(self.dispatcher.feed_update(self.bot, update))
        self._feeds.add(task)
        task.add_done_callback(self._feeds.discard)
        return web.json_response({"ok": True})

    # --- stop --------------------------------------------------------------------------------------

    async def stop(self, timeout: float = 8.0) -> None:
        """Stop taking updates, answer what was received, close the session."""
        if self._polling is not None:
            with contextlib.suppress(RuntimeError):  # polling already ended
                await self.dispatcher.stop_polling()
            self._polling.cancel()
            await asyncio.gather(self._polling, return_exceptions=True)
        if self._feeds:
            await asyncio.wait(list(self._feeds), timeout=timeout)
        if self.shards is not None:  # the workers and this process finish their chats side by side
            await asyncio.gather(self.shards.stop(timeout), self.channel.close(timeout))
        else:
            await self.channel.close(timeout)
        await self.app.service.alerts.drain(timeout)  # the admin chat's alerts of the last answers
        await self.updates.close()
        await self.bot.session.close()


def setup_telegram(
    app: App,
    bot: Bot,
    notifier: TelegramAdminNotifier | None = None,
    *,
    debounce: float | None = None,
    report_finished: Callable[[list[int]], None] | None = None,
) -> TelegramRuntime:
    """The Telegram runtime for `app`: the "telegram" messenger registered, routers built."""
    runtime = TelegramRuntime(app, bot, notifier, debounce=debounce, report_finished=report_finished)
    if runtime.shards is not None:
        app.messengers.register(ShardedMessenger(runtime.channel, runtime.shards))
    else:
        app.messengers.register(TelegramMessenger(runtime.channel))
    app.extras[EXTRAS_KEY] = runtime
    return runtime
