"""The MAX Bot API client (httpx), with the platform's errors translated at the edge.

Errors::

    BotError
    └── MaxError            any refusal or failure; `.status`, `.code` (MAX's error code), `.retryable`
        ├── MaxAuthError    401: MAX_BOT_TOKEN is wrong or revoked (logged loudly)
        └── MaxBlockedError 403/404 for a chat: the patient blocked the bot, left, or the chat is gone

MAX answers errors as `{"code": "...", "message": "..."}`. Rate limits (429, `too.many.requests`), server
errors and network failures are retried with exponential backoff (`Retry-After` honoured); everything
else is raised at once. Requests are paced under the platform's 30 a second.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import httpx

from bot.errors import BotError
from bot.http.backoff import retry_after as retry_after_of
from bot.http.backoff import retry_delay

__all__ = ["DEFAULT_API_URL", "MaxAuthError", "MaxBlockedError", "MaxClient", "MaxError"]

log = logging.getLogger(__name__)

DEFAULT_API_URL = "https://platform-api.max.ru"
REQUESTS_PER_SECOND = 30  # the platform's published limit
BLOCKED_CODES = frozenset({"error.dialog.suspended", "chat.denied", "chat.not.found", "user.not.found"})


class MaxError(BotError):
    """The MAX Bot API refused or failed a call."""

    def __init__(self, message: str, *, status: int = 0, code: str = "", retryable: bool = False) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.retryable = retryable


class MaxAuthError(MaxError):
    """MAX_BOT_TOKEN is refused."""


class MaxBlockedError(MaxError):
    """The patient's dialog cannot be written to: the bot was blocked, or the chat does not exist."""


def error_from_response(response: httpx.Response) -> MaxError:
    """MAX's `{"code", "message"}` body as one of our errors."""
    try:
        body = response.json()
    except ValueError:
        body = {}
    if not isinstance(body, dict):
        body = {}
    code = str(body.get("code") or "")
    text = str(body.get("message") or response.reason_phrase or "no message")
    message = f"MAX API {response.status_code}" + (f" {code}" if code else "") + f": {text}"
    status = response.status_code
    if status == 401:
        return MaxAuthError(message, status=status, code=code)
    if status in (403, 404) or code in BLOCKED_CODES:
        return MaxBlockedError(message, status=status, code=code)
    retryable = status == 429 or status >= 500 or code == "too.many.requests"
    return MaxError(message, status=status, code=code, retryable=retryable)


class _Pace:
    """At most `rate` requests a second from this process: the platform then refuses almost nothing."""

    def __init__(self, rate: float) -> None:
        self.interval = 1.0 / rate if rate > 0 else 0.0
        self._next = 0.0
        self._lock = asyncio.Lock()

    async def wait(self) -> None:
        if not self.interval:
            return
        async with self._lock:
            now = time.monotonic()
            if self._next > now:
                await asyncio.sleep(self._next - now)
                now = self._next
            self._next = now + self.interval


class MaxClient:
    """Calls `{MAX_API_URL}/...` with the `Authorization: <token>` header."""

    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        timeout: float = 15.0,
        max_attempts: int = 5,
        base_delay: float = 1.0,
        max_delay: float = 30.0,
        rate: float = REQUESTS_PER_SECOND,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.max_attempts = max(1, max_attempts)
        self.base_delay = base_delay
        self.max_delay = max_delay
        self._sleep = sleep
        self._pace = _Pace(rate)
        self._http = httpx.AsyncClient(
            base_url=base_url.rstrip("/") + "/",
            headers={"Authorization": token},
            timeout=timeout,
            transport=transport,
        )
        self.sent = 0
        self.retries = 0

    async def aclose(self) -> None:
        await self._http.aclose()

    # --- the methods the channel uses ---------------------------------------------------------------

    async def me(self) -> dict[str, Any]:
        """The bot's own user (`GET /me`): proves the token."""
        return await self._call("GET", "me", attempts=1)

    async def send_message(
        self,
        *,
        user_id: str | None = None,
        chat_id: str | None = None,
        text: str,
        attachments: Sequence[dict[str, Any]] = (),
    ) -> dict[str, Any]:
        """`POST /messages` to a user's dialog (or a chat); returns the sent message."""
        params = {"user_id": user_id} if user_id is not None else {"chat_id": str(chat_id)}
        body: dict[str, Any] = {"text": text}
        if attachments:
            body["attachments"] = list(attachments)
        data = await self._call("POST", "messages", body, params=params)
        self.sent += 1
        message = data.get("message")
        return message if isinstance(message, dict) else {}

    async def edit_message(self, mid: str, *, text: str, attachments: Sequence[dict[str, Any]] = ()) -> None:
        """`PUT /messages?message_id=`: the text and keyboard replaced (an empty list takes the keyboard away)."""
        body = {"text": text, "attachments": list(attachments)}
        await self._call("PUT", "messages", body, params={"message_id": mid})

    async def answer_callback(
        self, callback_id: str, *, notification: str | None = None, message: dict[str, Any] | None = None
    ) -> None:
        """`POST /answers`: the press is acknowledged (and its message replaced, when given); one try."""
        body: dict[str, Any] = {}
        if message is not None:
            body["message"] = message
        if notification is not None:
            body["notification"] = notification
        await self._call("POST", "answers", body, params={"callback_id": callback_id}, attempts=1)

    async def typing(self, chat_id: str) -> None:
        """`POST /chats/{chatId}/actions` `typing_on` while the answer is prepared; one try."""
        await self._call("POST", f"chats/{chat_id}/actions", {"action": "typing_on"}, attempts=1)

    async def updates(
        self, marker: int | None, *, timeout: int, limit: int = 100, types: Sequence[str] = ()
    ) -> tuple[list[dict[str, Any]], int | None]:
        """`GET /updates` (long polling): the updates after `marker`, and the marker to ask with next."""
        params: dict[str, str] = {"timeout": str(timeout), "limit": str(limit)}
        if marker is not None:
            params["marker"] = str(marker)
        if types:
            params["types"] = ",".join(types)
        data = await self._call("GET", "updates", params=params, attempts=1, read_timeout=timeout + 10.0)
        updates = [u for u in data.get("updates") or [] if isinstance(u, dict)]
        next_marker = data.get("marker")
        return updates, int(next_marker) if isinstance(next_marker, int) else marker

    async def subscriptions(self) -> list[dict[str, Any]]:
        data = await self._call("GET", "subscriptions")
        return [s for s in data.get("subscriptions") or [] if isinstance(s, dict)]

    async def subscribe(self, url: str, secret: str, update_types: Sequence[str]) -> None:
        """`POST /subscriptions`: MAX posts updates to `url` with `X-Max-Bot-Api-Secret: secret`."""
        body = {"url": url, "secret": secret, "update_types": list(update_types)}
        data = await self._call("POST", "subscriptions", body)
        if data.get("success") is False:
            raise MaxError(f"MAX refused the webhook subscription: {data.get('message') or 'no reason'}")

    async def unsubscribe(self, url: str) -> None:
        await self._call("DELETE", "subscriptions", params={"url": url})

    # --- one call, retried when worth it -----------------------------------------------------------

    async def _call(
        self,
        method: str,
        path: str,
        payload: dict[str, Any] | None = None,
        *,
        params: dict[str, str] | None = None,
        attempts: int | None = None,
        read_timeout: float | None = None,
    ) -> dict[str, Any]:
        attempts = attempts or self.max_attempts
        extra: dict[str, Any] = {}
        if read_timeout is not None:
            extra["timeout"] = httpx.Timeout(read_timeout, connect=10.0)
        for attempt in range(1, attempts + 1):
            retry_after: float | None = None
            await self._pace.wait()
            try:
                response = await self._http.request(method, path, json=payload, params=params, **extra)
            except httpx.HTTPError as exc:
                error = MaxError(f"MAX API unreachable: {exc!r}", retryable=True)
            else:
                if response.is_success:
                    try:
                        data = response.json()
                    except ValueError:
                        data = {}
                    return data if isinstance(data, dict) else {}
                error = error_from_response(response)
                retry_after = retry_after_of(response)
            if isinstance(error, MaxAuthError):
                log.critical(
                    "MAX Bot API отклонил MAX_BOT_TOKEN (%s). Пока токен не заменён, пациенты в MAX не "
                    "получают ответов: скопируйте токен со страницы бота на платформе партнёров MAX "
                    "(business.max.ru) в MAX_BOT_TOKEN.",
                    error,
                )
            if not error.retryable or attempt == attempts:
                raise error
            self.retries += 1
            delay = retry_delay(attempt, retry_after, base=self.base_delay, most=self.max_delay)
            log.warning("MAX API: %s; повтор %d/%d через %.2f с", error, attempt, attempts - 1, delay)
            await self._sleep(delay)
        raise AssertionError("unreachable")  # pragma: no cover
