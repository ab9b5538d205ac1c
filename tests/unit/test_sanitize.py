"""Incoming text cleaned at the service's door."""

from __future__ import annotations

from bot.dialogue.messages import Incoming
from bot.dialogue.sanitize import MAX_TEXT, clean_incoming, clean_text


def test_lone_surrogates_control_characters_and_length() -> None:
    assert clean_text("a\ud800b\udfff") == "a\ufffdb\ufffd"
    assert clean_text("при\x00вет\x1b[31m\tмир\r\n") == "привет[31m\tмир\r\n"
    assert len(clean_text("9" * 100_000)) == MAX_TEXT
    assert clean_text(None) == ""
    "a\ufffdb".encode()  # storable as UTF-8


def test_clean_message_is_returned_as_is_and_every_field_is_cleaned() -> None:
    plain = Incoming(text="Здравствуйте 😀", profile_name="Оля")
    assert clean_incoming(plain) is plain
    dirty = clean_incoming(Incoming(text="x\x07", button="doc:\ud800", profile_name="\x00Оля"))
    assert (dirty.text, dirty.button, dirty.profile_name) == ("x", "doc:\ufffd", "Оля")
