"""Telegram: the token (getMe), the admin chat (the bot a member), the webhook state."""

from __future__ import annotations

from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import (
    ClientDecodeError,
    TelegramAPIError,
    TelegramBadRequest,
    TelegramForbiddenError,
    TelegramNetworkError,
    TelegramNotFound,
    TelegramUnauthorizedError,
)
from aiogram.utils.token import TokenValidationError

from bot.checks.model import Line, fail, mask, ok, skip, warn
from bot.config import Settings

__all__ = ["check_telegram"]

TOKEN_FIX = "open @BotFather, /mybots → your bot → API Token, and put it into TELEGRAM_BOT_TOKEN in .env"
MEMBER_STATUSES = {"creator", "administrator", "member", "restricted"}


async def check_telegram(settings: Settings, timeout: float = 10.0) -> list[Line]:
    token = settings.telegram_bot_token
    if token is None:
        return [skip("Telegram", "not configured (TELEGRAM_BOT_TOKEN is empty): no Telegram chat")]
    shown = mask(token)
    try:
        session = AiohttpSession(api=TelegramAPIServer.from_base(settings.telegram_api_url), timeout=timeout)
        bot = Bot(token.get_secret_value(), session=session)
    except TokenValidationError:
        return [fail("Telegram token", f"{shown} does not look like a bot token (123456789:AA…)", TOKEN_FIX)]
    try:
        return await _probe(bot, settings, shown)
    finally:
        await bot.session.close()


async def _probe(bot: Bot, settings: Settings, shown: str) -> list[Line]:
    try:
        me = await bot.get_me()
    except TelegramUnauthorizedError:
        return [fail("Telegram token", f"{shown} was rejected by Telegram (401 Unauthorized)", TOKEN_FIX)]
    except (TelegramNotFound, TelegramBadRequest) as exc:
        return [fail("Telegram token", f"{shown} was rejected ({exc.message})", TOKEN_FIX)]
    except TelegramNetworkError as exc:
        return [
            fail(
                "Telegram token",
                f"cannot reach {settings.telegram_api_url} ({exc.message})",
                "check the internet connection and TELEGRAM_API_URL (default https://api.telegram.org)",
            )
        ]
    except TelegramAPIError as exc:
        return [fail("Telegram token", f"getMe failed: {exc.message}", "try again in a minute")]
    lines = [ok("Telegram token", f"{shown} belongs to @{me.username} ({me.first_name})")]
    lines.append(await _admin_chat(bot, settings, me.id, me.username or ""))
    lines.append(await _webhook(bot, settings))
    return lines


async def _admin_chat(bot: Bot, settings: Settings, bot_id: int, username: str) -> Line:
    item = "Admin chat"
    chat_id = settings.admin_chat_id
    add_fix = (
        f"add @{username} to the administrators' group, send a message there, and set ADMIN_CHAT_ID to the "
        "group's id (a negative number, e.g. -1001234567890)"
    )
    if chat_id is None:
        return fail(item, "ADMIN_CHAT_ID is not set: nobody is alerted about new leads", add_fix)
    try:
        title = await _title(bot, chat_id)
        member = await bot.get_chat_member(chat_id, bot_id)
    except (TelegramBadRequest, TelegramNotFound, TelegramForbiddenError) as exc:
        return fail(item, f"chat {chat_id} is not reachable ({exc.message})", add_fix)
    except TelegramAPIError as exc:
        return fail(item, f"chat {chat_id}: {exc.message}", "try again in a minute")
    if member.status not in MEMBER_STATUSES:
        return fail(item, f"the bot is not a member of {title} (status {member.status})", add_fix)
    return ok(item, f"{title}, the bot is {member.status}")


async def _title(bot: Bot, chat_id: int) -> str:
    """The chat's title; a reply this aiogram cannot parse (a newer or older Bot API) still means it exists."""
    try:
        chat = await bot.get_chat(chat_id)
    except ClientDecodeError:
        return f"chat {chat_id}"
    return f"«{chat.title or chat.username or chat_id}» ({chat.type})"


async def _webhook(bot: Bot, settings: Settings) -> Line:
    item = "Telegram webhook"
    try:
        info = await bot.get_webhook_info()
    except TelegramAPIError as exc:
        return fail(item, f"getWebhookInfo failed: {exc.message}", "try again in a minute")
    wanted = settings.telegram_webhook_url
    error = f"; Telegram's last delivery error: {info.last_error_message}" if info.last_error_message else ""
    pending = f", {info.pending_update_count} update(s) waiting" if info.pending_update_count else ""
    if wanted:
        if not info.url:
            return warn(item, f"not set yet{pending}; `python -m bot run` sets it to {wanted}")
        if info.url != wanted:
            return warn(item, f"set to {info.url}, not to {wanted}{pending}; `run` will replace it")
        if info.last_error_message:
            return fail(
                item,
                f"{info.url}{pending}{error}",
                f"make sure {wanted} reaches this machine's HTTP_PORT over HTTPS",
            )
        return ok(item, f"{info.url}{pending}")
    if info.url:
        return warn(
            item,
            f"set to {info.url} while TELEGRAM_WEBHOOK_URL is empty{pending}; "
            "`run` removes it at start and uses long polling",
            "nothing to do, unless you meant webhook mode: then set TELEGRAM_WEBHOOK_URL",
        )
    return ok(item, f"none: long polling{pending}")
