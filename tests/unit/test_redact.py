"""Phones masked for the log: the helpers, the safety-net filter of `setup_logging`, the log notifier."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import pytest

from bot.cli import setup_logging
from bot.dialogue.messages import Address
from bot.notify import LogNotifier
from bot.redact import PhoneMaskFilter, mask_key, mask_phone, mask_phones
from sheets.schema import Lead


def test_mask_phone_keeps_the_country_three_digits_and_the_last_two() -> None:
    assert mask_phone("+79123456789") == "+7912***89"
    assert mask_phone("+77011234567") == "+7701***67"  # Kazakhstan
    assert mask_phone("") == ""
    assert mask_phone("12345") == "***"


def test_mask_key_masks_whatsapp_numbers_only() -> None:
    assert mask_key("whatsapp:79123456789") == "whatsapp:+7912***89"
    assert mask_key("telegram:5550001") == "telegram:5550001"
    assert mask_key("web:a1b2c3d4") == "web:a1b2c3d4"
    assert mask_key("console:89123456789") == "console:8912***89"  # phone-like all the same


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("звоните +7 (912) 345-67-89!", "звоните +7912***89!"),
        ("8 912 345 67 89, 89271234567", "8912***89, 8927***67"),
        ("tel:+79123456789.", "tel:+7912***89."),
        ("wa 77011234567 and +380501234567", "wa 7701***67 and +3805***67"),
    ],
)
def test_phone_like_runs_are_masked(text: str, expected: str) -> None:
    assert mask_phones(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "retry at 2026-11-23 07:00:00+00:00",
        "stamp 1764835200.123 and 1764835200",  # a bare epoch of 10 digits is masked, see below
        "update 123456789 of chat -100777",
        "alert 3f2a1234567890abcd, lead 4FQM7JZL",
        "1234567890123456 is a card-long number, not a phone",
    ],
)
def test_other_numbers_are_left_alone(text: str) -> None:
    masked = mask_phones(text)
    if "stamp" in text:
        assert masked == "stamp 1764835200.123 and 1764***00"
    else:
        assert masked == text


@pytest.fixture
def stream_logger() -> Iterator[tuple[logging.Logger, io.StringIO]]:
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.addFilter(PhoneMaskFilter())
    logger = logging.getLogger("tests.redact")
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    yield logger, out
    logger.removeHandler(handler)
    logger.propagate = True


def test_the_filter_masks_arguments_and_tracebacks(stream_logger: tuple[logging.Logger, io.StringIO]) -> None:
    logger, out = stream_logger
    logger.info("patient %s wrote from %s", "+79123456789", "whatsapp:79271234567")
    try:
        raise ValueError("bad phone 8 (912) 345-67-89")
    except ValueError:
        logger.exception("failed for %d patient", 1)
    text = out.getvalue()
    assert "+7912***89" in text and "whatsapp:7927***67" in text and "8912***89" in text
    assert "3456789" not in text and "1234567" not in text and "345-67-89" not in text
    assert "ValueError" in text  # the traceback itself is kept


def test_setup_logging_installs_the_filter_on_every_handler(monkeypatch: pytest.MonkeyPatch) -> None:
    root = logging.getLogger()
    monkeypatch.setattr(root, "handlers", [])
    out = io.StringIO()
    setup_logging("INFO", stream=out)
    setup_logging("INFO", stream=out)  # twice: still one filter
    [handler] = root.handlers
    assert sum(isinstance(f, PhoneMaskFilter) for f in handler.filters) == 1
    logging.getLogger("bot.test").warning("message to %s not sent", "+79123456789")
    assert "+7912***89" in out.getvalue() and "+79123456789" not in out.getvalue()
    root.removeHandler(handler)


async def test_the_log_notifier_tells_details_only_at_debug(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="bot.notify")
    notifier = LogNotifier()
    lead = Lead(
        "AB12CD34", "2026-11-23 10:00", "Ольга", "+79123456789", "ЛОР", "любое", "первичное",
        "whatsapp", "+79123456789", "заложен нос",
    )  # fmt: skip
    address = Address("whatsapp", "79123456789", "+79123456789")
    await notifier.lead(lead, address)
    await notifier.relay(address, "у меня болит ухо")
    await notifier.handoff(address, "просит администратора", ["болит ухо"])
    info = "\n".join(r.getMessage() for r in caplog.records if r.levelno >= logging.INFO)
    debug = "\n".join(r.getMessage() for r in caplog.records if r.levelno == logging.DEBUG)
    assert "AB12CD34" in info and "whatsapp:+7912***89" in info
    for private in ("Ольга", "79123456789", "ухо", "ЛОР", "администратора"):
        assert private not in info
    assert "Ольга" in debug and "+79123456789" in debug and "болит ухо" in debug
    assert len(notifier.sent) == 3 and "Ольга" in notifier.sent[0]
