"""WhatsApp Cloud API: the token and the phone number id (Graph API), the webhook secrets."""

from __future__ import annotations

import aiohttp

from bot.checks.model import Line, fail, mask, ok, skip
from bot.config import Settings

__all__ = ["check_whatsapp"]

TOKEN_FIX = (
    "in Meta for Developers → your app → WhatsApp → API Setup create a permanent token "
    "(a System User token in Business Settings) and put it into WHATSAPP_TOKEN"
)
ID_FIX = "copy the «Phone number ID» (not the phone number) from WhatsApp → API Setup into WHATSAPP_PHONE_NUMBER_ID"


async def check_whatsapp(settings: Settings, timeout: float = 10.0) -> list[Line]:
    token, number_id = settings.whatsapp_token, settings.whatsapp_phone_number_id
    if token is None and not number_id:
        return [skip("WhatsApp", "not configured (WHATSAPP_TOKEN is empty)")]
    item = "WhatsApp"
    if token is None:
        return [fail(item, "WHATSAPP_PHONE_NUMBER_ID is set but WHATSAPP_TOKEN is empty", TOKEN_FIX)]
    if not number_id:
        return [fail(item, "WHATSAPP_TOKEN is set but WHATSAPP_PHONE_NUMBER_ID is empty", ID_FIX)]
    lines = [await _probe(settings, token.get_secret_value(), number_id, timeout)]
    if settings.whatsapp_app_secret is None:
        lines.append(
            fail(
                "WhatsApp webhook",
                "WHATSAPP_APP_SECRET is empty: incoming webhooks cannot be verified and are refused",
                "copy the App Secret from your Meta app → Settings → Basic into WHATSAPP_APP_SECRET",
            )
        )
    elif settings.whatsapp_verify_token is None:
        lines.append(
            fail(
                "WhatsApp webhook",
                "WHATSAPP_VERIFY_TOKEN is empty: Meta cannot confirm the webhook",
                "invent a long random word, put it into WHATSAPP_VERIFY_TOKEN and the same into "
                "the app's WhatsApp → Configuration → Verify token",
            )
        )
    else:
        lines.append(
            ok(
                "WhatsApp webhook",
                f"app secret {mask(settings.whatsapp_app_secret)}, verify token set; "
                f"Meta must call https://<your domain>/webhook/whatsapp (HTTP_PORT {settings.http_port})",
            )
        )
    return lines


async def _probe(settings: Settings, token: str, number_id: str, timeout: float) -> Line:
    item = "WhatsApp number"
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
            f"cannot reach {settings.whatsapp_api_url} ({type(exc).__name__})",
            "check the network and WHATSAPP_API_URL (default https://graph.facebook.com/v21.0)",
        )
    if status == 200 and isinstance(body, dict):
        shown = body.get("display_phone_number") or number_id
        name = body.get("verified_name") or "?"
        quality = body.get("quality_rating")
        return ok(item, f"{shown} «{name}»" + (f", quality {quality}" if quality else ""))
    error = body.get("error", {}) if isinstance(body, dict) else {}
    message = str(error.get("message", "")) or f"HTTP {status}"
    code = error.get("code")
    if code is not None and f"#{code}" not in message:
        message = f"(#{code}) {message}"  # Meta's error code: what its documentation and support go by
    if status == 401 or code == 190:
        return fail(
            item, f"the token {mask(settings.whatsapp_token)} is invalid or expired ({message})", TOKEN_FIX
        )
    if code == 100 or status in (400, 404):
        return fail(item, f"phone number id {number_id} is not found for this token ({message})", ID_FIX)
    if status == 403 or code in (10, 200):
        return fail(
            item,
            f"the token may not use number {number_id} ({message})",
            "give the System User the whatsapp_business_messaging permission and assign it the WhatsApp account",
        )
    return fail(item, f"Graph API answered {status}: {message}", "try again in a minute")
