"""The Graph API client for the WhatsApp Cloud API (httpx), with Meta's errors translated at the edge.

Errors::

    BotError
    └── GraphError            any refusal or failure; `.retryable`, `.code` (Graph's error code)
        ├── GraphAuthError    code 190: the token expired or was revoked (logged loudly)
        └── WindowClosedError code 131047: outside the 24-hour window, only templates allowed

Rate limits (HTTP 429, codes 4, 80007, 130429, 131056), server errors and network failures are retried
with exponential backoff; everything else is raised at once.

Messages are paced (`pacer`, WHATSAPP_RATE a second for the business number: Cloud API throughput is 80 by
default) so that the number stays under its throughput; every attempt takes its turn (FIFO). Read receipts
with "typing…" take only budget no message waits for, and are left out when they could only come late.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import httpx

from bot.channels.pacing import TYPING, Limit, Pacer
from bot.errors import BotError
from bot.http.backoff import retry_after as retry_after_of
from bot.http.backoff import retry_delay

__all__ = [
    "TOKEN_EXPIRED",
    "WINDOW_CLOSED",
    "GraphAuthError",
    "GraphClient",
    "GraphError",
    "WindowClosedError",
]

log = logging.getLogger(__name__)

TOKEN_EXPIRED = 190
WINDOW_CLOSED = 131047
RATE_LIMITS = frozenset({4, 80007, 130429, 131056})
TEMPORARY = frozenset({1, 2, 131000, 131016})  # "unknown/service unavailable": worth another try
READ_STALE = 0.5  # seconds a read receipt with "typing…" may wait for the budget before it is left out


def whatsapp_pacer(rate: float) -> Pacer:
    """The business number's throughput, `rate` messages a second (0: not paced), a second's worth at once
    at most 10: a short burst, not a flood."""
    return Pacer(Limit(rate, min(10.0, max(1.0, rate))))


class GraphError(BotError):
    """The Graph API refused or failed a call."""

    def __init__(
        self,
        message: str,
        *,
        status: int = 0,
        code: int | None = None,
        subcode: int | None = None,
        retryable: bool = False,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.subcode = subcode
        self.retryable = retryable


class GraphAuthError(GraphError):
    """WHATSAPP_TOKEN is refused (expired, revoked, or lacks whatsapp_business_messaging)."""


class WindowClosedError(GraphError):
    """The patient wrote more than 24 hours ago: a free-form message is not allowed now."""


def error_from_response(response: httpx.Response) -> GraphError:
    """Graph's `{"error": {...}}` body as one of our errors."""
    try:
        error = response.json().get("error") or {}
    except ValueError:
        error = {}
    if not isinstance(error, dict):
        error = {}
    code = error.get("code") if isinstance(error.get("code"), int) else None
    subcode = error.get("error_subcode") if isinstance(error.get("error_subcode"), int) else None
    details = (
        (error.get("error_data") or {}).get("details") if isinstance(error.get("error_data"), dict) else ""
    )
    text = str(error.get("message") or response.reason_phrase or "no message")
    message = (
        f"Graph API {response.status_code}" + (f" code {code}" if code is not None else "") + f": {text}"
    )
    if details:
        message += f" ({details})"
    if code == TOKEN_EXPIRED:
        return GraphAuthError(message, status=response.status_code, code=code, subcode=subcode)
    if code == WINDOW_CLOSED:
        return WindowClosedError(message, status=response.status_code, code=code, subcode=subcode)
    retryable = (
        response.status_code == 429
        or response.status_code >= 500
        or code in RATE_LIMITS
        or code in TEMPORARY
        or bool(error.get("is_transient"))
    )
    return GraphError(message, status=response.status_code, code=code, subcode=subcode, retryable=retryable)


class GraphClient:
    """Sends to `{WHATSAPP_API_URL}/{phone number id}/messages` with the bearer token."""

    def __init__(
        self,
        base_url: str,
        token: str,
        phone_number_id: str,
        *,
        timeout: float = 15.0,
        max_attempts: int = 5,
        base_delay: float = 1.0,
        max_delay: float = 30.0,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        transport: httpx.AsyncBaseTransport | None = None,
        loud_auth_errors: bool = True,
        pacer: Pacer | None = None,
    ) -> None:
        self.loud_auth_errors = loud_auth_errors
        self.pacer = pacer
        self.phone_number_id = phone_number_id
        self.max_attempts = max(1, max_attempts)
        self.base_delay = base_delay
        self.max_delay = max_delay
        self._sleep = sleep
        self._http = httpx.AsyncClient(
            base_url=base_url.rstrip("/") + "/",
            headers={"Authorization": f"Bearer {token}"},
            timeout=timeout,
            transport=transport,
        )
        self.sent = 0
        self.retries = 0

    async def aclose(self) -> None:
        await self._http.aclose()

    async def send_message(self, to: str, body: dict[str, Any]) -> str:
        """Send one message (`body` holds `type` and its object); returns Graph's message id (wamid)."""
        payload = {"messaging_product": "whatsapp", "recipient_type": "individual", "to": to, **body}
        data = await self._call(
            "POST", f"{self.phone_number_id}/messages", payload, self.max_attempts, paced=True
        )
        self.sent += 1
        messages = data.get("messages") if isinstance(data, dict) else None
        if isinstance(messages, list) and messages and isinstance(messages[0], dict):
            return str(messages[0].get("id", ""))
        return ""

    async def mark_read(self, message_id: str, *, typing: bool = True) -> None:
        """Blue ticks on the patient's message and, while the answer is prepared, "typing…" (one try)."""
        payload: dict[str, Any] = {
            "messaging_product": "whatsapp",
            "status": "read",
            "message_id": message_id,
        }
        if typing:
            payload["typing_indicator"] = {"type": "text"}
        if self.pacer is not None and not await self.pacer.acquire(priority=TYPING, stale_after=READ_STALE):
            return  # the answer is going out: blue ticks and "typing…" later would be worth nothing
        await self._call("POST", f"{self.phone_number_id}/messages", payload, 1)

    async def phone_number(self) -> dict[str, Any]:
        """The business phone number's details: proves the token and the phone number id together."""
        return await self._call(
            "GET", self.phone_number_id, None, 1, params={"fields": "display_phone_number,verified_name"}
        )

    async def _call(
        self,
        method: str,
        path: str,
        payload: dict[str, Any] | None,
        attempts: int,
        params: dict[str, str] | None = None,
        *,
        paced: bool = False,
    ) -> dict[str, Any]:
        for attempt in range(1, attempts + 1):
            retry_after: float | None = None
            if paced and self.pacer is not None:
                await self.pacer.acquire()
            try:
                response = await self._http.request(method, path, json=payload, params=params)
            except httpx.HTTPError as exc:
                error: GraphError = GraphError(f"Graph API unreachable: {exc!r}", retryable=True)
            else:
                if response.is_success:
                    try:
                        data = response.json()
                    except ValueError:
                        data = {}
                    return data if isinstance(data, dict) else {}
                error = error_from_response(response)
                retry_after = retry_after_of(response)
            if isinstance(error, GraphAuthError) and self.loud_auth_errors:
                log.critical(
                    "WHATSAPP_TOKEN was refused by the Graph API (%s). WhatsApp patients get no answers "
                    "until it is replaced: create a permanent System User token with "
                    "whatsapp_business_messaging in Meta Business settings and set WHATSAPP_TOKEN.",
                    error,
                )
            if not error.retryable or attempt == attempts:
                raise error
            self.retries += 1
            delay = retry_delay(attempt, retry_after, base=self.base_delay, most=self.max_delay)
            log.warning("Graph API: %s; retry %d/%d in %.2fs", error, attempt, attempts - 1, delay)
            await self._sleep(delay)
        raise AssertionError("unreachable")  # pragma: no cover
