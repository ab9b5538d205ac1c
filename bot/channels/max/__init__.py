"""MAX messenger channel (VK's messenger): long polling or the webhook with its secret, the Bot API client."""

from bot.channels.max.admin import BothNotifiers, MaxAdminNotifier
from bot.channels.max.api import MaxAuthError, MaxBlockedError, MaxClient, MaxError
from bot.channels.max.channel import CHANNEL, SECRET_HEADER, WEBHOOK_PATH, MaxChannel, MaxMessenger
from bot.channels.max.setup import MaxRuntime, build_max_admin, build_max_client, setup_max, webhook_secret

__all__ = [
    "CHANNEL",
    "SECRET_HEADER",
    "WEBHOOK_PATH",
    "BothNotifiers",
    "MaxAdminNotifier",
    "MaxAuthError",
    "MaxBlockedError",
    "MaxChannel",
    "MaxClient",
    "MaxError",
    "MaxMessenger",
    "MaxRuntime",
    "build_max_admin",
    "build_max_client",
    "setup_max",
    "webhook_secret",
]
