"""Delivery that survives Telegram: 429 waits `retry_after` and sends anyway, 5xx and network errors back
off and retry, 403 (the patient blocked the bot) is recorded once and not retried, 400 is logged."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

from aiogram.exceptions import (
    ClientDecodeError,
    TelegramAPIError,
    TelegramBadRequest,
    TelegramConflictError,
    TelegramForbiddenError,
    TelegramNetworkError,
    TelegramNotFound,
    TelegramRetryAfter,
    TelegramServerError,
    TelegramUnauthorizedError,
)

from bot.http.health import ErrorLog

__all__ = ["Delivery"]

log = logging.getLogger(__name__)
T = TypeVar("T")


class Delivery:
    """Runs one Bot API call with Telegram's retry rules; None when it could not be done."""

    def __init__(
        self,
        errors: ErrorLog,
        *,
        attempts: int = 5,
        base_delay: float = 0.5,
        max_retry_after: float = 120.0,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.errors = errors
        self.attempts = attempts
        self.base_delay = base_delay
        self.max_retry_after = max_retry_after
        self.sleep = sleep
        self.blocked: set[int] = set()  # chats that blocked the bot (cleared when they write again)
        self.counts: dict[str, int] = {"sent": 0, "retried": 0, "failed": 0, "blocked": 0}

    async def call(self, chat_id: int, what: str, make: Callable[[], Awaitable[T]]) -> T | None:
        """`make()` builds and awaits the call; it is called again for each retry."""
        failures = 0
        waits = 0
        while True:
            try:
                result = await make()
            except TelegramRetryAfter as exc:
                waits += 1
                if waits > 10:
                    self._give_up(chat_id, what, exc)
                    return None
                self.counts["retried"] += 1
                log.info("Telegram asks to wait %ss before %s to %s", exc.retry_after, what, chat_id)
                await self.sleep(min(float(exc.retry_after), self.max_retry_after))
                continue
            except TelegramForbiddenError as exc:
                if chat_id not in self.blocked:
                    log.warning("chat %s blocked the bot (%s); %s not sent", chat_id, exc.message, what)
                    self.errors.record("telegram", f"chat {chat_id} blocked the bot: {what} not sent")
                self.blocked.add(chat_id)
                self.counts["blocked"] += 1
                return None
            except (
                TelegramBadRequest,
                TelegramNotFound,
                TelegramConflictError,
                TelegramUnauthorizedError,
            ) as exc:
                self._give_up(chat_id, what, exc)
                return None
            except (TelegramServerError, TelegramNetworkError) as exc:
                failures += 1
                if failures >= self.attempts:
                    self._give_up(chat_id, what, exc)
                    return None
                self.counts["retried"] += 1
                delay = min(self.base_delay * 2 ** (failures - 1), 30.0)
                log.info("Telegram %s to %s failed (%s); retry in %.1fs", what, chat_id, exc, delay)
                await self.sleep(delay)
                continue
            except (
                TelegramAPIError,
                ClientDecodeError,
            ) as exc:  # anything else Telegram says: logged, not retried
                self._give_up(chat_id, what, exc)
                return None
            self.counts["sent"] += 1
            return result

    def _give_up(self, chat_id: int, what: str, exc: Exception) -> None:
        """Count, log and record a call that will not be retried."""
        self.counts["failed"] += 1
        log.error("Telegram %s to %s failed: %s", what, chat_id, exc)
        self.errors.record("telegram", f"{what} to {chat_id} failed: {exc}")
