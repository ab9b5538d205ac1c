"""Patients' data kept out of the log (152-FZ): phones masked, conversation keys that hold a phone masked.

Two layers. Log lines that name a conversation or a contact pass it through `mask_key` / `mask_phone`; and
`PhoneMaskFilter`, installed on the log handlers by `bot.cli.setup_logging`, masks any phone-like run of
digits left in a record (the message, its arguments and its traceback) as a safety net. Names and patients'
words cannot be recognised this way: log lines simply never carry them at INFO or above.
"""

from __future__ import annotations

import logging
import re

__all__ = ["PhoneMaskFilter", "mask_key", "mask_phone", "mask_phones"]

# 10 to 15 digits, optionally after a "+", with spaces, dashes or brackets between them (at most two
# separators in a row: "+7 (912) 345-67-89"); not inside a longer word or number (ids, hashes, the
# seconds of a timestamp "1764835200.123").
_PHONE_LIKE = re.compile(r"(?<![\w+.])\+?\d(?:[ \t\-()]{0,2}\d){9,14}(?![\w]|\.\d)")
_DATE = re.compile(r"\d{4}-\d\d-\d\d(?!\d)")  # "2026-11-23 07:00" is a moment, not a phone
_KEEP_HEAD = 4  # the country code and the next digits: "+7912"
_KEEP_TAIL = 2
# Channels whose user ids are phone numbers (WhatsApp's wa_id is the patient's number without "+").
_PHONE_CHANNELS = frozenset({"whatsapp"})


def mask_phone(phone: str) -> str:
    """`+79123456789` -> `+7912***89`: enough to tell patients apart in a log, not enough to call them."""
    digits = "".join(ch for ch in phone if ch.isdigit())
    if len(digits) <= _KEEP_HEAD + _KEEP_TAIL:
        return "***" if digits else phone
    plus = "+" if phone.lstrip().startswith("+") else ""
    return f"{plus}{digits[:_KEEP_HEAD]}***{digits[-_KEEP_TAIL:]}"


def mask_phones(text: str) -> str:
    """Every phone-like run of digits in `text` masked (see `mask_phone`)."""
    if not any(ch.isdigit() for ch in text):
        return text
    return _PHONE_LIKE.sub(lambda match: _masked_run(match.group()), text)


def _masked_run(run: str) -> str:
    if _DATE.match(run):
        return run
    digits = "".join(ch for ch in run if ch.isdigit())
    plus = "+" if run.startswith("+") else ""
    return f"{plus}{digits[:_KEEP_HEAD]}***{digits[-_KEEP_TAIL:]}"


def mask_key(key: str) -> str:
    """A conversation key for the log: `whatsapp:79123456789` -> `whatsapp:+7912***89`; others as they are
    (a Telegram user id or a widget session is no phone), phone-like digits masked all the same."""
    channel, sep, user = key.partition(":")
    if sep and channel in _PHONE_CHANNELS:
        return f"{channel}:{mask_phone('+' + user.lstrip('+'))}"
    return mask_phones(key)


class PhoneMaskFilter(logging.Filter):
    """Masks phone-like digits in every record that reaches the handler it is installed on."""

    def __init__(self) -> None:
        super().__init__()
        self._formatter = logging.Formatter()

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string: logging reports it itself when formatting
            return True
        masked = mask_phones(message)
        if masked != message or record.args:
            record.msg, record.args = masked, None
        if record.exc_info and not record.exc_text:
            record.exc_text = self._formatter.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = mask_phones(record.exc_text)
        if record.stack_info:
            record.stack_info = mask_phones(record.stack_info)
        return True
