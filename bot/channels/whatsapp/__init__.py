"""WhatsApp Cloud API channel: the signed webhook, the Graph API client and the 24-hour window."""

from bot.channels.whatsapp.channel import CHANNEL, WEBHOOK_PATH, WhatsAppChannel, WhatsAppMessenger
from bot.channels.whatsapp.graph import GraphAuthError, GraphClient, GraphError, WindowClosedError
from bot.channels.whatsapp.setup import build_graph_client, setup_whatsapp
from bot.channels.whatsapp.window import whatsapp_window_open

__all__ = [
    "CHANNEL",
    "WEBHOOK_PATH",
    "GraphAuthError",
    "GraphClient",
    "GraphError",
    "WhatsAppChannel",
    "WhatsAppMessenger",
    "WindowClosedError",
    "build_graph_client",
    "setup_whatsapp",
    "whatsapp_window_open",
]
