"""WhatsApp Cloud API: the token and the phone number id (Graph API), the webhook secrets."""

from __future__ import annotations

import aiohttp

from bot.checks.model import Line, fail, mask, ok, skip
from bot.config import Settings

__all__ = ["check_whatsapp"]

TOKEN_FIX = (
    "в Meta for Developers → ваше приложение → WhatsApp → API Setup создайте постоянный токен "
    "(токен System User в Business Settings) и впишите его в WHATSAPP_TOKEN"
)
ID_FIX = "скопируйте «Phone number ID» (это не сам номер телефона) из WhatsApp → API Setup в WHATSAPP_PHONE_NUMBER_ID"


async def check_whatsapp(settings: Settings, timeout: float = 10.0) -> list[Line]:
    token, number_id = settings.whatsapp_token, settings.whatsapp_phone_number_id
    if token is None and not number_id:
        return [skip("WhatsApp", "не настроен (WHATSAPP_TOKEN пуст)")]
    item = "WhatsApp"
    if token is None:
        return [fail(item, "WHATSAPP_PHONE_NUMBER_ID задан, а WHATSAPP_TOKEN пуст", TOKEN_FIX)]
    if not number_id:
        return [fail(item, "WHATSAPP_TOKEN задан, а WHATSAPP_PHONE_NUMBER_ID пуст", ID_FIX)]
    lines = [await _probe(settings, token.get_secret_value(), number_id, timeout)]
    if settings.whatsapp_app_secret is None:
        lines.append(
            fail(
                "Webhook WhatsApp",
                "WHATSAPP_APP_SECRET пуст: входящие сообщения нельзя проверить, и бот их не примет",
                "скопируйте App Secret из приложения Meta → Settings → Basic в WHATSAPP_APP_SECRET",
            )
        )
    elif settings.whatsapp_verify_token is None:
        lines.append(
            fail(
                "Webhook WhatsApp",
                "WHATSAPP_VERIFY_TOKEN пуст: Meta не сможет подтвердить адрес webhook",
                "придумайте длинное случайное слово, впишите его в WHATSAPP_VERIFY_TOKEN и то же слово — "
                "в приложении: WhatsApp → Configuration → Verify token",
            )
        )
    else:
        lines.append(
            ok(
                "Webhook WhatsApp",
                f"App Secret {mask(settings.whatsapp_app_secret)}, Verify token задан; "
                f"в Meta должен быть адрес https://<ваш домен>/webhook/whatsapp (HTTP_PORT {settings.http_port})",
            )
        )
    return lines


async def _probe(settings: Settings, token: str, number_id: str, timeout: float) -> Line:
    item = "Номер WhatsApp"
    url = f"{settings.whatsapp_api_url}/{number_id}"
    params = {"fields": "display_phone_number,verified_name,quality_rating"}
    headers = {"Authorization": f"Bearer {token}"}
    try:
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout)) as session,
            session.get(url, params=params, headers=headers) as response,
        ):
            status = response.status
            try:
                body = await response.json(content_type=None)
            except ValueError:
                body = {}
    except (aiohttp.ClientError, TimeoutError) as exc:
        return fail(
            item,
            f"нет связи с {settings.whatsapp_api_url} ({type(exc).__name__})",
            "проверьте подключение к интернету и WHATSAPP_API_URL (обычно https://graph.facebook.com/v21.0)",
        )
    if status == 200 and isinstance(body, dict):
        shown = body.get("display_phone_number") or number_id
        name = body.get("verified_name") or "?"
        quality = body.get("quality_rating")
        return ok(item, f"{shown} «{name}»" + (f", качество {quality}" if quality else ""))
    error = body.get("error", {}) if isinstance(body, dict) else {}
    message = str(error.get("message", "")) or f"HTTP {status}"
    code = error.get("code")
    if code is not None and f"#{code}" not in message:
        message = f"(#{code}) {message}"  # Meta's error code: what its documentation and support go by
    if status == 401 or code == 190:
        return fail(
            item, f"токен {mask(settings.whatsapp_token)} неверен или просрочен ({message})", TOKEN_FIX
        )
    if code == 100 or status in (400, 404):
        return fail(item, f"Phone number ID {number_id} для этого токена не найден ({message})", ID_FIX)
    if status == 403 or code in (10, 200):
        return fail(
            item,
            f"токену не разрешён номер {number_id} ({message})",
            "дайте System User право whatsapp_business_messaging и назначьте ему аккаунт WhatsApp",
        )
    return fail(item, f"Graph API ответил {status}: {message}", "повторите проверку через минуту")
