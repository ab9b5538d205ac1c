"""Wiring the MAX channel into the running service: webhook (with its secret) or long polling."""

from __future__ import annotations

import logging
import os
import re
import secrets
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from aiohttp import web

from bot.bootstrap import App
from bot.channels.max.admin import MaxAdminNotifier
from bot.channels.max.api import MaxClient, MaxError
from bot.channels.max.channel import POLL_TIMEOUT, WEBHOOK_PATH, MaxChannel, MaxMessenger
from bot.channels.max.inbound import UPDATE_TYPES
from bot.clock import Clock
from bot.config import Settings
from bot.errors import ConfigError

__all__ = [
    "EXTRAS_KEY",
    "SECRET_FILE",
    "MaxRuntime",
    "build_max_admin",
    "build_max_client",
    "setup_max",
    "subscription_url",
    "webhook_secret",
]

log = logging.getLogger(__name__)

EXTRAS_KEY = "max"
SECRET_FILE = "max_webhook_secret"
_SECRET_SHAPE = re.compile(r"^[A-Za-z0-9_-]{5,256}$")  # what MAX accepts for a subscription's secret


def build_max_client(settings: Settings, **options: object) -> MaxClient:
    """The Bot API client from MAX_API_URL and MAX_BOT_TOKEN."""
    if settings.max_bot_token is None:
        raise ConfigError("MAX is not configured: set MAX_BOT_TOKEN (the bot's page on business.max.ru)")
    return MaxClient(settings.max_api_url, settings.max_bot_token.get_secret_value(), **options)  # type: ignore[arg-type]


def subscription_url(configured: str) -> str:
    """MAX_WEBHOOK_URL as given when its path ends with `/webhook/max`, otherwise with that path appended
    (`https://clinic.ru` → `https://clinic.ru/webhook/max`), as TELEGRAM_WEBHOOK_URL is read."""
    parts = urlsplit(configured.strip())
    path = parts.path.rstrip("/")
    if not path.endswith(WEBHOOK_PATH):
        path += WEBHOOK_PATH
    return urlunsplit((parts.scheme, parts.netloc, path, parts.query, ""))


def webhook_secret(settings: Settings) -> str:
    """MAX_WEBHOOK_SECRET, or one generated once and kept in DATA_DIR: the webhook is never open to anyone."""
    if settings.max_webhook_secret is not None:
        secret = settings.max_webhook_secret.get_secret_value()
        if not _SECRET_SHAPE.match(secret):
            raise ConfigError(
                "MAX_WEBHOOK_SECRET must be 5 to 256 characters of Latin letters, digits, '_' or '-' "
                "(MAX refuses other secrets); leave it empty and the bot makes one itself"
            )
        return secret
    path: Path = settings.data_dir / SECRET_FILE
    try:
        kept = path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        kept = ""
    if _SECRET_SHAPE.match(kept):
        return kept
    secret = secrets.token_urlsafe(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(secret + "\n")
    log.info("MAX_WEBHOOK_SECRET не задан: бот создал секрет и сохранил его в %s", path)
    return secret


def build_max_admin(settings: Settings, client: MaxClient, clock: Clock) -> MaxAdminNotifier | None:
    """The MAX admin chat's notifier when MAX_ADMIN_CHAT_ID is set (share `client` with `setup_max`)."""
    if settings.max_admin_chat_id is None:
        return None
    return MaxAdminNotifier(client, settings.max_admin_chat_id, clock=clock, tz=settings.tz)


class MaxRuntime:
    """The channel and how it gets its updates; `start` once the HTTP server listens."""

    def __init__(self, channel: MaxChannel, *, webhook_url: str | None) -> None:
        self.channel = channel
        self.webhook_url = webhook_url

    async def start(self, *, polling_timeout: int = POLL_TIMEOUT) -> None:
        client = self.channel.client
        if self.webhook_url:
            secret = self.channel.webhook_secret or ""
            try:
                await client.subscribe(self.webhook_url, secret, UPDATE_TYPES)
            except MaxError as exc:  # the rest of the service goes on; `check` says the same
                log.error("MAX: не удалось подписать webhook на %s: %s", self.webhook_url, exc)
                self.channel.errors.record("max", f"webhook subscription failed: {exc}")
                return
            log.info("MAX: режим webhook, адрес %s", self.webhook_url)
            return
        try:  # a subscription left from webhook mode would take the updates away from polling
            for subscription in await client.subscriptions():
                url = str(subscription.get("url") or "")
                if url:
                    log.info("MAX: убираю подписку webhook %s и получаю сообщения сам (long polling)", url)
                    await client.unsubscribe(url)
        except MaxError as exc:  # polling itself will say if it cannot work
            log.warning("MAX: подписки webhook неизвестны (%s); получаю сообщения сам (long polling)", exc)
        self.channel.resume()
        self.channel.start_polling(polling_timeout)
        log.info("MAX: бот получает сообщения (long polling)")

    async def stop(self, timeout: float = 5.0) -> None:
        await self.channel.close(timeout)


def setup_max(
    app: App,
    http_app: web.Application,
    *,
    client: MaxClient | None = None,
    admin: MaxAdminNotifier | None = None,
) -> MaxRuntime:
    """Build the channel; in webhook mode add `POST /webhook/max`. Registers the "max" messenger.

    `admin` is the MAX admin chat's notifier (`build_max_admin`), also given to `build_app` as the notifier.
    """
    settings = app.settings
    webhook_url = settings.max_webhook_url
    secret = webhook_secret(settings) if webhook_url else None
    if admin is not None:
        admin.attach(app.db)
    channel = MaxChannel(app, client or build_max_client(settings), webhook_secret=secret, admin=admin)
    if webhook_url:
        http_app.router.add_post(WEBHOOK_PATH, channel.receive)

        async def _resume(_: web.Application) -> None:  # before the server listens: crash leftovers first
            channel.resume()

        http_app.on_startup.append(_resume)
    app.messengers.register(MaxMessenger(channel))
    app.extras[EXTRAS_KEY] = channel
    return MaxRuntime(channel, webhook_url=subscription_url(webhook_url) if webhook_url else None)
