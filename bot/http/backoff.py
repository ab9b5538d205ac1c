"""The pause before retrying an HTTP call: the server's `Retry-After` when it gives one, else jittered
exponential backoff; shared by the Graph (WhatsApp) and MAX clients."""

from __future__ import annotations

import random

import httpx

__all__ = ["retry_after", "retry_delay"]


def retry_delay(attempt: int, retry_after: float | None, *, base: float, most: float) -> float:
    """Seconds to wait after failed `attempt` (1-based): the server's wish capped at `most`, or backoff."""
    if retry_after is not None:
        return min(retry_after, most)
    backoff = min(base * 2 ** (attempt - 1), most)
    return backoff * random.uniform(0.8, 1.2)


def retry_after(response: httpx.Response) -> float | None:
    """The response's `Retry-After` in seconds (never negative), or None when absent or not a number."""
    try:
        return max(0.0, float(response.headers["Retry-After"]))
    except (KeyError, ValueError):
        return None
