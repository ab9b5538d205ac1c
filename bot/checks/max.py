"""MAX messenger: the bot token (`GET /me`) and the webhook's settings."""

from __future__ import annotations

from bot.checks.model import Line, fail, mask, ok, skip, warn
from bot.config import Settings

__all__ = ["check_max"]

TOKEN_FIX = (
    "open the bot's page on the MAX partners platform (business.max.ru → Чат-боты → Интеграция), copy the "
    "token and put it into MAX_BOT_TOKEN"
)


async def _admin_chat(settings: Settings, timeout: float) -> Line:
    """`GET /chats/{id}`: the bot must be a member of MAX_ADMIN_CHAT_ID to post alerts there."""
    import httpx

    assert settings.max_bot_token is not None
    url = f"{settings.max_api_url}/chats/{settings.max_admin_chat_id}"
    headers = {"Authorization": settings.max_bot_token.get_secret_value()}
    fix = "add the bot to the administrators' group in MAX and put the group's id into MAX_ADMIN_CHAT_ID"
    try:
        async with httpx.AsyncClient(timeout=timeout) as http:
            response = await http.get(url, headers=headers)
            body = response.json() if response.status_code == 200 else {}
    except (httpx.HTTPError, ValueError) as exc:
        return warn(
            "MAX admin chat", f"cannot check chat {settings.max_admin_chat_id} ({type(exc).__name__})"
        )
    if response.status_code == 200:
        title = body.get("title") if isinstance(body, dict) else None
        return ok("MAX admin chat", f"«{title or settings.max_admin_chat_id}»")
    detail = f"chat {settings.max_admin_chat_id} is not reachable for the bot (HTTP {response.status_code})"
    return fail("MAX admin chat", detail, fix)


async def check_max(settings: Settings, timeout: float = 10.0) -> list[Line]:
    from bot.channels.max.api import MaxAuthError, MaxClient, MaxError

    if settings.max_bot_token is None:
        return [skip("MAX", "not configured (MAX_BOT_TOKEN is empty)")]
    client = MaxClient(settings.max_api_url, settings.max_bot_token.get_secret_value(), timeout=timeout)
    try:
        me = await client.me()
    except MaxAuthError as exc:
        return [fail("MAX", f"the token {mask(settings.max_bot_token)} is refused ({exc})", TOKEN_FIX)]
    except MaxError as exc:
        return [
            fail(
                "MAX",
                f"cannot use {settings.max_api_url} ({exc})",
                "check the network and MAX_API_URL (default https://platform-api.max.ru)",
            )
        ]
    finally:
        await client.aclose()
    name = me.get("first_name") or me.get("name") or "?"
    username = f" @{me['username']}" if me.get("username") else ""
    lines = [ok("MAX", f"bot «{name}»{username} (id {me.get('user_id', '?')})")]
    if settings.max_webhook_url:
        from bot.channels.max.setup import subscription_url

        url = subscription_url(settings.max_webhook_url)
        if not url.startswith("https://"):
            lines.append(
                fail(
                    "MAX webhook",
                    f"MAX_WEBHOOK_URL {url} is not HTTPS: MAX refuses such addresses",
                    "put the public https:// address of /webhook/max into MAX_WEBHOOK_URL",
                )
            )
        elif settings.max_webhook_secret is None:
            lines.append(
                ok(
                    "MAX webhook",
                    f"{url}; the secret is generated and kept in DATA_DIR/max_webhook_secret",
                )
            )
        else:
            lines.append(ok("MAX webhook", f"{url}, secret {mask(settings.max_webhook_secret)}"))
    else:
        lines.append(ok("MAX updates", "long polling (set MAX_WEBHOOK_URL for webhook mode)"))
    if settings.max_admin_chat_id is not None:
        lines.append(await _admin_chat(settings, timeout))
    return lines
