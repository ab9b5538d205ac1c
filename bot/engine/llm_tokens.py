"""Token counting without a tokenizer download: a documented, deliberately pessimistic approximation.

tiktoken needs its BPE files from the network at first use, which a clinic's server may not have. Instead
one token is counted per 4 bytes of UTF-8 (rounded up) plus 4 tokens of framing per chat message. For
English this matches the usual "4 characters per token"; a Cyrillic letter takes 2 bytes, so Russian text
counts as 2 characters per token, which is more than cl100k (about 2.5-3) and o200k (about 3.5-4)
actually spend. A prompt that fits the budget by this count fits it for the real tokenizers too.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

MESSAGE_OVERHEAD = 4
REPLY_PRIMING = 3


def count_tokens(text: str) -> int:
    """Pessimistic token estimate of a text (see the module docstring)."""
    return (len(text.encode("utf-8")) + 3) // 4


def count_messages(messages: Iterable[Mapping[str, object]]) -> int:
    """Estimated prompt tokens of a chat: every message's text plus framing."""
    total = REPLY_PRIMING
    for message in messages:
        total += MESSAGE_OVERHEAD + count_tokens(str(message.get("content") or ""))
    return total


def cut_to_tokens(text: str, limit: int) -> str:
    """The longest prefix of `text` (cut at a space when possible) whose estimate is at most `limit`."""
    if count_tokens(text) <= limit:
        return text
    if limit <= 0:
        return ""
    raw = text.encode("utf-8")[: limit * 4 - 4]
    cut = raw.decode("utf-8", errors="ignore")
    space = cut.rfind(" ")
    if space > len(cut) // 2:
        cut = cut[:space]
    return cut + " …"
