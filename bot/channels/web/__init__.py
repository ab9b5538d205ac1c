"""The website chat widget: one `<script src=".../widget.js">` line on the clinic's site (channel `web`)."""

from bot.channels.web.channel import WebChannel, WebMessenger
from bot.channels.web.limits import WebLimits
from bot.channels.web.server import setup_web

__all__ = ["WebChannel", "WebLimits", "WebMessenger", "setup_web"]
