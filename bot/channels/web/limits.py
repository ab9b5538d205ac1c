"""Limits of the widget: message size, and token buckets per session and per IP address."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["Bucket", "RateLimiter", "WebLimits"]


@dataclass(frozen=True, slots=True)
class WebLimits:
    """What one browser may do. The defaults let a fast typist through and stop a script."""

    max_chars: int = 1000  # one patient message
    max_frame: int = 16 * 1024  # one WebSocket frame or HTTP body, bytes
    session_burst: int = 8  # messages in a row per session...
    session_per_minute: float = 20  # ...then this many a minute
    ip_burst: int = 30  # messages in a row from one IP address (all its sessions)...
    ip_per_minute: float = 60
    new_sessions_burst: int = 10  # new sessions from one IP address in a row...
    new_sessions_per_minute: float = 2
    sockets_per_ip: int = 20  # open WebSockets from one IP address
    poll_timeout: float = 25.0  # seconds a long poll of the HTTP fallback waits


@dataclass(slots=True)
class Bucket:
    tokens: float
    at: float


class RateLimiter:
    """Token buckets keyed by any string: `allow(key)` takes one token if there is one."""

    def __init__(
        self, burst: int, per_minute: float, now: Callable[[], float] = time.monotonic, max_keys: int = 10_000
    ) -> None:
        self.burst = burst
        self.rate = per_minute / 60.0
        self.now = now
        self.max_keys = max_keys
        self._buckets: dict[str, Bucket] = {}

    def allow(self, key: str) -> bool:
        now = self.now()
        bucket = self._buckets.get(key)
        if bucket is None:
            if len(self._buckets) >= self.max_keys:
                self._prune(now)
            bucket = self._buckets[key] = Bucket(float(self.burst), now)
        bucket.tokens = min(float(self.burst), bucket.tokens + (now - bucket.at) * self.rate)
        bucket.at = now
        if bucket.tokens < 1.0:
            return False
        bucket.tokens -= 1.0
        return True

    def retry_after(self, key: str) -> float:
        """Seconds until `key` has a token again (0 when it has one)."""
        bucket = self._buckets.get(key)
        if bucket is None or self.rate <= 0:
            return 0.0 if bucket is None else float("inf")
        missing = 1.0 - min(float(self.burst), bucket.tokens + (self.now() - bucket.at) * self.rate)
        return max(0.0, missing / self.rate)

    def _prune(self, now: float) -> None:
        """Forget buckets that are full again (idle keys), so the table cannot grow without bound."""
        full = [k for k, b in self._buckets.items() if b.tokens + (now - b.at) * self.rate >= self.burst]
        for key in full:
            del self._buckets[key]
        if len(self._buckets) >= self.max_keys:  # everybody is busy: drop the oldest half
            for key in sorted(self._buckets, key=lambda k: self._buckets[k].at)[: self.max_keys // 2]:
                del self._buckets[key]
