"""Telegram's rate limits as the fake Bot API enforces them (`FakeBotApi.enforce_limits`): token buckets.

Telegram does not publish its algorithm, only the figures (Bots FAQ, "My bot is hitting limits"): about 30
messages a second in all, about one a second to one chat with short bursts allowed, at most 20 a minute to
one group. A call over a limit is answered 429 with an integer `parameters.retry_after` and costs nothing.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Limits"]


@dataclass
class _Bucket:
    """A token bucket on the server's clock: `rate` a second, `burst` at once."""

    rate: float
    burst: float
    tokens: float = 0.0
    stamp: float | None = None  # None: never used, full

    def take(self, now: float) -> float:
        """0 when a token was taken, else the seconds until there is one (nothing taken)."""
        if self.stamp is None:
            self.tokens = self.burst
        else:
            self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return 0.0
        return (1.0 - self.tokens) / self.rate


@dataclass
class Limits:
    """Telegram's limits as its FAQ puts them: about 30 messages a second for a bot, about one a second to
    one chat ("short bursts" allowed), 20 a minute to one group. "typing…" and button answers count against
    the bot's budget only; everything else that sends or edits, against the bot's and its chat's."""

    per_bot: float = 30.0
    bot_burst: float = 30.0
    per_chat: float = 1.0
    chat_burst: float = 3.0
    per_group_minute: float = 20.0
    group_burst: float = 20.0
    bot: _Bucket | None = None
    chats: dict[str, _Bucket] = field(default_factory=dict)

    def refusal(self, method: str, params: dict[str, Any], now: float) -> float:
        """0 when the call may go now, else `retry_after` in seconds (an integer, as Telegram's)."""
        name = method.lower()
        if not name.startswith(("send", "edit", "copy", "forward", "answercallbackquery")):
            return 0.0
        buckets = []
        if name not in ("sendchataction", "answercallbackquery") and "chat_id" in params:
            chat = str(params["chat_id"])
            bucket = self.chats.get(chat)
            if bucket is None:
                group = chat.startswith(("-", "@"))
                bucket = self.chats[chat] = (
                    _Bucket(self.per_group_minute / 60, self.group_burst)
                    if group
                    else _Bucket(self.per_chat, self.chat_burst)
                )
            buckets.append(bucket)
        if self.bot is None:
            self.bot = _Bucket(self.per_bot, self.bot_burst)
        # the chat's bucket first: a call refused for its chat does not spend the bot's budget
        for bucket in buckets:
            wait = bucket.take(now)
            if wait:
                return float(max(1, math.ceil(wait)))
        wait = self.bot.take(now)
        if wait:
            for bucket in buckets:  # the chat's token back: the call was refused
                bucket.tokens += 1.0
            return float(max(1, math.ceil(wait)))
        return 0.0
