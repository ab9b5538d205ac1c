"""MAX messenger: the bot token (`GET /me`) and the webhook's settings."""

from __future__ import annotations

from bot.checks.model import Line, fail, mask, ok, skip, warn
from bot.config import Settings

__all__ = ["check_max"]

TOKEN_FIX = (
    "откройте страницу бота на платформе для партнёров MAX (business.max.ru → Чат-боты → Интеграция), "
    "скопируйте токен и впишите его в MAX_BOT_TOKEN"
)


async def _admin_chat(settings: Settings, timeout: float) -> Line:
    """`GET /chats/{id}`: the bot must be a member of MAX_ADMIN_CHAT_ID to post alerts there."""
    import httpx

    assert settings.max_bot_token is not None
    url = f"{settings.max_api_url}/chats/{settings.max_admin_chat_id}"
    headers = {"Authorization": settings.max_bot_token.get_secret_value()}
    fix = "добавьте бота в группу администраторов в MAX и впишите id группы в MAX_ADMIN_CHAT_ID"
    try:
        async with httpx.AsyncClient(timeout=timeout) as http:
            response = await http.get(url, headers=headers)
            body = response.json() if response.status_code == 200 else {}
    except (httpx.HTTPError, ValueError) as exc:
        return warn(
            "Чат администраторов MAX",
            f"не удалось проверить чат {settings.max_admin_chat_id} ({type(exc).__name__})",
        )
    if response.status_code == 200:
        title = body.get("title") if isinstance(body, dict) else None
        return ok("Чат администраторов MAX", f"«{title or settings.max_admin_chat_id}»")
    detail = f"чат {settings.max_admin_chat_id} недоступен боту (HTTP {response.status_code})"
    return fail("Чат администраторов MAX", detail, fix)


async def check_max(settings: Settings, timeout: float = 10.0) -> list[Line]:
    from bot.channels.max.api import MaxAuthError, MaxClient, MaxError

    if settings.max_bot_token is None:
        return [skip("MAX", "не настроен (MAX_BOT_TOKEN пуст)")]
    client = MaxClient(settings.max_api_url, settings.max_bot_token.get_secret_value(), timeout=timeout)
    try:
        me = await client.me()
    except MaxAuthError as exc:
        return [fail("MAX", f"MAX не принял токен {mask(settings.max_bot_token)} ({exc})", TOKEN_FIX)]
    except MaxError as exc:
        return [
            fail(
                "MAX",
                f"не удаётся обратиться к {settings.max_api_url} ({exc})",
                "проверьте подключение к интернету и MAX_API_URL (обычно https://platform-api.max.ru)",
            )
        ]
    finally:
        await client.aclose()
    name = me.get("first_name") or me.get("name") or "?"
    username = f" @{me['username']}" if me.get("username") else ""
    lines = [ok("MAX", f"бот «{name}»{username} (id {me.get('user_id', '?')})")]
    if settings.max_webhook_url:
        from bot.channels.max.setup import subscription_url

        url = subscription_url(settings.max_webhook_url)
        if not url.startswith("https://"):
            lines.append(
                fail(
                    "Webhook MAX",
                    f"MAX_WEBHOOK_URL {url} — не HTTPS: такие адреса MAX не принимает",
                    "впишите в MAX_WEBHOOK_URL публичный адрес https:// для /webhook/max",
                )
            )
        elif settings.max_webhook_secret is None:
            lines.append(
                ok(
                    "Webhook MAX",
                    f"{url}; секрет создан ботом и хранится в DATA_DIR/max_webhook_secret",
                )
            )
        else:
            lines.append(ok("Webhook MAX", f"{url}, секрет {mask(settings.max_webhook_secret)}"))
    else:
        lines.append(
            ok(
                "Сообщения MAX",
                "бот сам получает сообщения (long polling; для режима webhook задайте MAX_WEBHOOK_URL)",
            )
        )
    if settings.max_admin_chat_id is not None:
        lines.append(await _admin_chat(settings, timeout))
    return lines
