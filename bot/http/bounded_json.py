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
    if opening > max_depth and _depth(value) > max_depth:  # fewer brackets than the bound: cannot be deeper
        raise JsonTooDeep(f"JSON nested deeper than {max_depth} levels")
    return value


def _depth(value: Any) -> int:
    """How deep lists and objects nest in a parsed value; iterative, so it cannot overflow the stack."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        depth += 1
        deepest = max(deepest, depth)
        stack.extend((child, depth) for child in children)
    return deepest
