"""Wiring the WhatsApp channel into the running service."""

from __future__ import annotations

import logging

from aiohttp import web

from bot.bootstrap import App
from bot.channels.whatsapp.channel import WEBHOOK_PATH, WhatsAppChannel, WhatsAppMessenger
from bot.channels.whatsapp.graph import GraphClient, whatsapp_pacer
from bot.config import Settings
from bot.errors import ConfigError

__all__ = ["EXTRAS_KEY", "build_graph_client", "setup_whatsapp"]

log = logging.getLogger(__name__)

EXTRAS_KEY = "whatsapp"


def build_graph_client(settings: Settings, **options: object) -> GraphClient:
    """The Graph API client from WHATSAPP_API_URL, WHATSAPP_TOKEN and WHATSAPP_PHONE_NUMBER_ID."""
    if settings.whatsapp_token is None or not settings.whatsapp_phone_number_id:
        raise ConfigError(
            "WhatsApp is not configured: set WHATSAPP_TOKEN and WHATSAPP_PHONE_NUMBER_ID "
            "(Meta app → WhatsApp → API Setup)"
        )
    options.setdefault("pacer", whatsapp_pacer(settings.whatsapp_rate))
    return GraphClient(
        settings.whatsapp_api_url,
        settings.whatsapp_token.get_secret_value(),
        settings.whatsapp_phone_number_id,
        **options,  # type: ignore[arg-type]
    )


def setup_whatsapp(
    app: App, http_app: web.Application, *, graph: GraphClient | None = None
) -> WhatsAppChannel:
    """Add `GET/POST /webhook/whatsapp` to the server and the "whatsapp" messenger to `app.messengers`.

    When the server starts, the messages the last run left unfinished are processed (`WhatsAppChannel.resume`).
    """
    settings = app.settings
    if settings.whatsapp_app_secret is None:
        raise ConfigError(
            "WHATSAPP_APP_SECRET is not set, so WhatsApp webhooks cannot be verified; copy the App secret "
            "from the Meta app's Settings → Basic into WHATSAPP_APP_SECRET"
        )
    if settings.whatsapp_verify_token is None:
        log.warning(
            "WHATSAPP_VERIFY_TOKEN не задан: Meta не сможет подтвердить адрес webhook %s; придумайте любое "
            "секретное слово и впишите его сюда и в приложении Meta: WhatsApp → Configuration",
            WEBHOOK_PATH,
        )
    graph = graph or build_graph_client(settings)
    channel = WhatsAppChannel(
        app,
        graph,
        app_secret=settings.whatsapp_app_secret.get_secret_value(),
        verify_token=(
            settings.whatsapp_verify_token.get_secret_value() if settings.whatsapp_verify_token else None
        ),
        phone_number_id=graph.phone_number_id,
    )
    http_app.router.add_get(WEBHOOK_PATH, channel.verify)
    http_app.router.add_post(WEBHOOK_PATH, channel.receive)

    async def _resume(_: web.Application) -> None:  # before the server listens: crash leftovers first
        channel.resume()

    async def _close(_: web.Application) -> None:
        await channel.close()

    http_app.on_startup.append(_resume)
    http_app.on_cleanup.append(_close)
    app.messengers.register(WhatsAppMessenger(channel))
    app.extras[EXTRAS_KEY] = channel
    return channel
