"""The line protocol between the Telegram front process and its worker processes (see `shards`).

One frame per line: a kind byte and a payload without newlines (JSON never has raw ones).

    front -> worker   S<settings, pickled, base64>  first, once
                      U<update JSON>                an update of one of the worker's chats
                      M<{"id", "chat", "messages"}> send these messages to a patient (timers, admins)
                      Q                             finish what is in hand and exit
    worker -> front   H                             ready
                      R<{"id", "ok"}>               the answer to an M frame
                      L                             leads were committed: deliver the outbox
                      F<update ids, comma-separated> these updates were answered: forget them
"""

from __future__ import annotations

import base64
import json
import pickle
from collections.abc import Sequence

from bot.config import Settings
from bot.dialogue.messages import Outgoing, outgoing_to_plain

__all__ = ["LIMIT", "frame", "send_frame", "settings_frame", "settings_from"]

LIMIT = 1 << 24  # the longest frame a reader accepts (Telegram updates are a few KiB)

SETTINGS = b"S"
UPDATE = b"U"
SEND = b"M"
QUIT = b"Q"
READY = b"H"
SENT = b"R"
LEADS = b"L"
FINISHED = b"F"


def frame(kind: bytes, payload: str | bytes = b"") -> bytes:
    body = payload.encode() if isinstance(payload, str) else payload
    return kind + body + b"\n"


def settings_frame(settings: Settings) -> bytes:
    """The front's settings as they are (overrides and secrets included): a worker must not read its own."""
    return frame(SETTINGS, base64.b64encode(pickle.dumps(settings)))


def settings_from(payload: bytes) -> Settings:
    settings = pickle.loads(base64.b64decode(payload))  # written by our own parent process
    if not isinstance(settings, Settings):
        raise TypeError(f"expected Settings, got {type(settings).__name__}")
    return settings


def send_frame(request_id: int, chat_id: int, messages: Sequence[Outgoing]) -> bytes:
    body = {"id": request_id, "chat": chat_id, "messages": outgoing_to_plain(messages)}
    return frame(SEND, json.dumps(body, ensure_ascii=False))
