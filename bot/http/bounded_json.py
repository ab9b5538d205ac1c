"""JSON from a webhook body with its nesting bounded: 50,000 brackets are a clean error, never a crash.

`json.loads` recurses once per bracket; past the interpreter's limit it raises RecursionError, which the
handlers' `except ValueError` does not catch (HTTP 500 and a traceback). Real webhook bodies (Telegram
updates, Meta's deliveries) nest a dozen levels at most.
"""

from __future__ import annotations

import json
from typing import Any

__all__ = ["MAX_DEPTH", "JsonTooDeep", "loads_bounded"]

MAX_DEPTH = 64


class JsonTooDeep(ValueError):
    """The JSON nests deeper than a webhook body ever does."""


def loads_bounded(raw: bytes | str, max_depth: int = MAX_DEPTH) -> Any:
    """`json.loads`, but a document nested deeper than `max_depth` raises JsonTooDeep (a ValueError)."""
    try:
        value = json.loads(raw)
    except RecursionError:
        raise JsonTooDeep("JSON nested too deeply") from None
    opening = raw.count(b"[") + raw.count(b"{") if isinstance(raw, bytes) else raw.count("[") + raw.count("{")
    if opening > max_depth and _deeper_than(value, max_depth):  # fewer brackets: cannot be deeper
        raise JsonTooDeep(f"JSON nested deeper than {max_depth} levels")
    return value


def _deeper_than(value: Any, max_depth: int) -> bool:
    """Do lists and objects nest deeper than `max_depth` in a parsed value? Iterative: no stack to overflow."""
    stack: list[tuple[Any, int]] = [(value, 1)] if isinstance(value, dict | list) else []
    while stack:
        item, depth = stack.pop()
        if depth > max_depth:
            return True
        for child in item.values() if isinstance(item, dict) else item:
            if isinstance(child, dict | list):
                stack.append((child, depth + 1))
    return False
