"""Garbage-collector settings for the long-running service (`run`).

A burst of patients allocates many short-lived objects (aiogram's models, requests, states). With CPython's
defaults the collector then scans, again and again, everything the service holds for its whole life (the
morphology dictionaries' wrappers, the knowledge indexes, aiogram's and pydantic's schemas): in
bench/telegram_load.py that was a full collection of about 200 ms in the middle of a burst. So, once
started, what lives for the whole run is frozen out of the collector's sight, and young collections run
less often.
"""

from __future__ import annotations

import gc

__all__ = ["resettle", "settle", "tune"]

YOUNG_THRESHOLD = 20_000  # allocations between young collections (CPython's default is 700)
_settled = False


def tune() -> None:
    """Fewer young collections: each costs the same fixed scan, whatever it frees."""
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, middle, old)


def settle() -> None:
    """Collect once, then keep everything alive now out of later collections (start-up, a reload).

    Frozen objects are still freed by reference counting; only cycles among them would wait for the next
    `settle`, which unfreezes first so a replaced knowledge version can go.
    """
    global _settled
    gc.unfreeze()
    gc.collect()
    gc.freeze()
    _settled = True


def resettle() -> None:
    """`settle()` again, in a process that settled at start (`run`); nothing elsewhere (tests, `chat`)."""
    if _settled:
        settle()
