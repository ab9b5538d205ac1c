"""The Telegram channel on aiogram 3: patients in private chats, administrators in `ADMIN_CHAT_ID`."""

from bot.channels.telegram.setup import TelegramRuntime, build_admin_notifier, build_bot, setup_telegram

__all__ = ["TelegramRuntime", "build_admin_notifier", "build_bot", "setup_telegram"]
