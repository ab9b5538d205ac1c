"""Limits of the widget: message size, token buckets per session and per IP address, and which address a
request counts against (`client_ip`: X-Forwarded-For only from `TRUSTED_PROXIES`)."""

from __future__ import annotations

import ipaddress
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

__all__ = ["Bucket", "Network", "RateLimiter", "WebLimits", "client_ip", "networks"]

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


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
    failed_resumes_burst: int = 10  # unknown session tokens from one IP address in a row...
    failed_resumes_per_minute: float = 2  # ...then this many a minute; beyond, its resumes are refused
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

    def exhausted(self, key: str) -> bool:
        """True when `allow(key)` would refuse now (takes nothing)."""
        bucket = self._buckets.get(key)
        if bucket is None:
            return self.burst < 1
        return min(float(self.burst), bucket.tokens + (self.now() - bucket.at) * self.rate) < 1.0

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


def networks(values: Iterable[str]) -> tuple[Network, ...]:
    """`TRUSTED_PROXIES` entries (already validated by the settings) as networks."""
    return tuple(ipaddress.ip_network(value, strict=False) for value in values)


def _trusted(address: str, trusted: Sequence[Network]) -> bool:
    try:
        ip = ipaddress.ip_address(address.strip().strip("[]"))
    except ValueError:
        return False
    return any(ip in network for network in trusted)


def client_ip(remote: str, forwarded: Sequence[str], trusted: Sequence[Network]) -> str:
    """The address a request counts against. `X-Forwarded-For` is read only when the direct peer is a trusted
    proxy, and then from the right: the right-most address that is not a trusted proxy is the visitor (what
    the nearest untrusted hop told our proxies; everything left of it anyone may have written)."""
    if not forwarded or not _trusted(remote, trusted):
        return remote
    hops = [hop.strip() for value in forwarded for hop in value.split(",") if hop.strip()]
    nearest = remote
    for hop in reversed(hops):
        try:
            ipaddress.ip_address(hop.strip("[]"))
        except ValueError:
            return nearest  # not an address: the proxy next to it is all we know
        if not _trusted(hop, trusted):
            return hop
        nearest = hop
    return nearest
