"""Pure parts of the Telegram channel: escaping, splitting, keyboards, joining quick messages, contacts."""

from __future__ import annotations

from aiogram.types import Chat, InlineKeyboardMarkup, ReplyKeyboardMarkup, ReplyKeyboardRemove, User
from hypothesis import given
from hypothesis import strategies as st

from bot.channels.telegram.admin import STATUS_BUTTONS, lead_alert_text, link, parse_status
from bot.channels.telegram.inbound import contact_of, merge
from bot.channels.telegram.render import MAX_TEXT, escape, render, split_text
from bot.dialogue.messages import Button, Incoming, Outgoing
from sheets.schema import Lead
from tests.fakes.bot_api import check_html


def test_escape_keeps_patient_text_out_of_the_markup() -> None:
    assert escape("<b>Анна</b> & Co") == "&lt;b&gt;Анна&lt;/b&gt; &amp; Co"


@given(st.text(min_size=1, max_size=20_000))
def test_every_piece_fits_and_nothing_is_lost(text: str) -> None:
    pieces = render(Outgoing(text))
    assert all(len(p.text) <= MAX_TEXT for p in pieces)
    assert all(check_html(p.text)[0] == "" for p in pieces)
    joined = "".join(c for p in pieces for c in p.text if not c.isspace())
    assert (
        joined.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
        == "".join(c for c in text.strip() if not c.isspace())
        or not text.strip()
    )


def test_split_prefers_paragraphs() -> None:
    text = ("а" * 3000) + "\n\n" + ("б" * 3000)
    assert split_text(text) == ["а" * 3000, "б" * 3000]


def test_keyboards() -> None:
    buttons = (
        Button("До 14:00", "win:am"),
        Button("После 14:00", "win:pm"),
        Button("Любое время", "win:any"),
    )
    (rendered,) = render(Outgoing("Когда удобно?", buttons))
    assert isinstance(rendered.markup, InlineKeyboardMarkup)
    assert [len(r) for r in rendered.markup.inline_keyboard] == [2, 1]
    (long,) = render(Outgoing("x", (Button("Очень длинная подпись кнопки", "d" * 100),)))
    assert isinstance(long.markup, InlineKeyboardMarkup)
    assert len(long.markup.inline_keyboard[0][0].callback_data.encode()) <= 64  # type: ignore[union-attr]
    (ask,) = render(Outgoing("Телефон?", request_contact=True))
    assert isinstance(ask.markup, ReplyKeyboardMarkup) and ask.markup.keyboard[0][0].request_contact
    (after,) = render(Outgoing("Спасибо"), contact_keyboard_shown=True)
    assert isinstance(after.markup, ReplyKeyboardRemove)


def test_quick_messages_are_joined_in_order() -> None:
    merged = merge([Incoming("Здравствуйте"), Incoming("хочу к лору"), Incoming("на завтра")])
    assert merged.text == "Здравствуйте\nхочу к лору\nна завтра"
    assert merge([Incoming(unsupported="voice")]).unsupported == "voice"
    assert merge([Incoming("да"), Incoming("", unsupported="sticker")]).unsupported is None


def test_contact_is_username_else_chat_id() -> None:
    chat = Chat(id=42, type="private")
    assert contact_of(chat, User(id=42, is_bot=False, first_name="А", username="anna")) == "@anna"
    assert contact_of(chat, User(id=42, is_bot=False, first_name="А")) == "42"


def test_admin_alert_and_status_codes() -> None:
    lead = Lead("ABCD2345", "2026-11-23 10:00", "<Анна>", "+79123456789", "ЛОР", "до 14:00",
                "первичное", "whatsapp", "+79123456789", "болит ухо & горло")  # fmt: skip
    text = lead_alert_text(lead)
    assert check_html(text)[0] == "" and "&lt;Анна&gt;" in text and "wa.me/79123456789" in text
    for code, _, status in STATUS_BUTTONS:
        assert parse_status(f"st:{code}:ABCD2345") == (status, "ABCD2345")
        assert len(f"st:{code}:ABCD2345".encode()) <= 64
    assert parse_status("st:zz:ABCD2345") is None
    assert 'href="tg://user?id=42"' in link("telegram", "42")


def test_an_unconfirmed_row_of_a_handoff_says_so() -> None:
    lead = Lead("ABCD2345", "2026-11-23 10:00", "Анна", "+79123456789", "ЛОР", "", "", "telegram", "42",
                "ЛОР; попросил(а) администратора до подтверждения", "не подтверждена")  # fmt: skip
    assert "пациент попросил администратора" in lead_alert_text(lead)
    silent = Lead("ABCD2345", "2026-11-23 10:00", "Анна", "+79123456789", "ЛОР", "", "", "telegram", "42",
                  "ЛОР", "не подтверждена")  # fmt: skip
    assert "замолчал" in lead_alert_text(silent)
