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

from bot.channels.telegram.webhook import (
    SECRET_FIX,
    read_generated_secret,
    secret_path,
    secret_problem,
    url_problems,
    webhook_url,
)
from bot.checks.model import Line, fail, mask, ok, skip, warn
from bot.config import Settings
from bot.russian import count

__all__ = ["check_telegram"]

TOKEN_FIX = (
    "откройте @BotFather, /mybots → ваш бот → API Token и впишите токен в TELEGRAM_BOT_TOKEN в файле .env"
)
MEMBER_STATUSES = {"creator", "administrator", "member", "restricted"}


async def check_telegram(settings: Settings, timeout: float = 10.0) -> list[Line]:
    token = settings.telegram_bot_token
    if token is None:
        return [skip("Telegram", "не настроен (TELEGRAM_BOT_TOKEN пуст): в Telegram бот не отвечает")]
    shown = mask(token)
    try:
        session = AiohttpSession(api=TelegramAPIServer.from_base(settings.telegram_api_url), timeout=timeout)
        bot = Bot(token.get_secret_value(), session=session)
    except TokenValidationError:
        return [fail("Токен Telegram", f"{shown} не похож на токен бота (123456789:AA…)", TOKEN_FIX)]
    try:
        lines = await _probe(bot, settings, shown)
    finally:
        await bot.session.close()
    return lines + webhook_mode(settings)


def webhook_mode(settings: Settings) -> list[Line]:
    """Webhook or polling, the URL Telegram is given and its secret (configured or generated, masked)."""
    item = "Режим webhook Telegram"
    configured = settings.telegram_webhook_url
    if not configured:
        return [
            ok(
                item,
                "выключен: бот сам получает сообщения (long polling, TELEGRAM_WEBHOOK_URL пуст), "
                "публичный адрес не нужен",
            )
        ]
    lines = [_secret_line(settings, webhook_url(configured))]
    for problem in url_problems(configured, settings.telegram_api_url):
        make = fail if problem.fatal else warn
        lines.append(make("Адрес webhook Telegram", problem.detail, problem.fix))
    return lines


def _secret_line(settings: Settings, url: str) -> Line:
    item = "Режим webhook Telegram"
    on = f"включён: Telegram присылает сообщения на {url}"
    secret = settings.telegram_webhook_secret
    if secret is not None:
        problem = secret_problem(secret.get_secret_value().strip())
        if problem is not None:
            return fail(item, f"{on}; {problem}", SECRET_FIX)
        return ok(item, f"{on}; секрет задан в TELEGRAM_WEBHOOK_SECRET ({mask(secret)})")
    path = secret_path(settings)
    generated = read_generated_secret(settings)
    if generated is None:
        return ok(item, f"{on}; секрет не задан: `make run` создаст его сам и сохранит в {path}")
    mode = path.stat().st_mode & 0o777
    if mode & 0o077:
        return warn(
            item,
            f"{on}; секрет создан ботом и хранится в {path} ({mask(generated)}), но файл могут читать другие "
            f"пользователи (права {mode:o})",
            f"chmod 600 {path} (`make run` тоже делает это при запуске)",
        )
    return ok(item, f"{on}; секрет создан ботом, хранится в {path} ({mask(generated)})")


async def _probe(bot: Bot, settings: Settings, shown: str) -> list[Line]:
    try:
        me = await bot.get_me()
    except TelegramUnauthorizedError:
        return [fail("Токен Telegram", f"{shown}: Telegram не принял токен (401 Unauthorized)", TOKEN_FIX)]
    except (TelegramNotFound, TelegramBadRequest) as exc:
        return [fail("Токен Telegram", f"{shown}: Telegram не принял токен ({exc.message})", TOKEN_FIX)]
    except TelegramNetworkError as exc:
        return [
            fail(
                "Токен Telegram",
                f"нет связи с {settings.telegram_api_url} ({exc.message})",
                "проверьте подключение к интернету и TELEGRAM_API_URL (обычно https://api.telegram.org)",
            )
        ]
    except TelegramAPIError as exc:
        return [
            fail(
                "Токен Telegram", f"запрос getMe не удался: {exc.message}", "повторите проверку через минуту"
            )
        ]
    lines = [ok("Токен Telegram", f"{shown}, бот @{me.username} ({me.first_name})")]
    lines.append(await _admin_chat(bot, settings, me.id, me.username or ""))
    lines.append(await _webhook(bot, settings))
    return lines


async def _admin_chat(bot: Bot, settings: Settings, bot_id: int, username: str) -> Line:
    item = "Чат администраторов"
    chat_id = settings.admin_chat_id
    add_fix = (
        f"добавьте @{username} в группу администраторов, напишите там любое сообщение и впишите в ADMIN_CHAT_ID "
        "номер группы (отрицательное число, например -1001234567890)"
    )
    if chat_id is None:
        return fail(
            item,
            "ADMIN_CHAT_ID не задан: о новых заявках и просьбах позвать администратора никто не узнает",
            add_fix,
        )
    try:
        title = await _title(bot, chat_id)
        member = await bot.get_chat_member(chat_id, bot_id)
    except (TelegramBadRequest, TelegramNotFound, TelegramForbiddenError) as exc:
        return fail(item, f"чат {chat_id} недоступен ({exc.message})", add_fix)
    except TelegramAPIError as exc:
        return fail(item, f"чат {chat_id}: {exc.message}", "повторите проверку через минуту")
    if member.status not in MEMBER_STATUSES:
        return fail(item, f"бота нет среди участников {title} (статус {member.status})", add_fix)
    return ok(item, f"{title}, бот в чате ({member.status})")


async def _title(bot: Bot, chat_id: int) -> str:
    """The chat's title; a reply this aiogram cannot parse (a newer or older Bot API) still means it exists."""
    try:
        chat = await bot.get_chat(chat_id)
    except ClientDecodeError:
        return f"чат {chat_id}"
    return f"«{chat.title or chat.username or chat_id}» ({chat.type})"


async def _webhook(bot: Bot, settings: Settings) -> Line:
    item = "Webhook Telegram"
    try:
        info = await bot.get_webhook_info()
    except TelegramAPIError as exc:
        return fail(
            item, f"запрос getWebhookInfo не удался: {exc.message}", "повторите проверку через минуту"
        )
    wanted = webhook_url(settings.telegram_webhook_url) if settings.telegram_webhook_url else None
    error = (
        f"; последняя ошибка доставки у Telegram: {info.last_error_message}"
        if info.last_error_message
        else ""
    )
    pending = (
        f", ждут обработки: {count(info.pending_update_count, 'сообщение', 'сообщения', 'сообщений')}"
        if info.pending_update_count
        else ""
    )
    if wanted:
        if not info.url:
            return warn(item, f"пока не установлен{pending}; `make run` установит {wanted}")
        if info.url != wanted:
            return warn(item, f"сейчас {info.url}, а не {wanted}{pending}; `make run` заменит его")
        if info.last_error_message:
            return fail(
                item,
                f"{info.url}{pending}{error}",
                f"проверьте, что {wanted} по HTTPS приходит на этот компьютер, на порт HTTP_PORT",
            )
        return ok(item, f"{info.url}{pending}")
    if info.url:
        return warn(
            item,
            f"установлен {info.url}, хотя TELEGRAM_WEBHOOK_URL пуст{pending}; "
            "`make run` уберёт его при запуске и будет получать сообщения сам (long polling)",
            "ничего делать не нужно; если нужен режим webhook, задайте TELEGRAM_WEBHOOK_URL",
        )
    return ok(item, f"не установлен: бот сам получает сообщения (long polling){pending}")
