"""MAX updates as the core's messages, and the core's replies as MAX messages (pure)."""

from __future__ import annotations

from typing import Any

from bot.channels.max.inbound import contact_of, parse_update, update_key
from bot.channels.max.render import SHARE_PHONE, render
from bot.dialogue.messages import Button, Outgoing

USER = {"user_id": 17, "first_name": "Ольга", "last_name": "Петрова", "username": "olga_p", "is_bot": False}


def created(
    body: dict[str, Any], *, sender: dict[str, Any] | None = None, chat_type: str = "dialog"
) -> dict[str, Any]:
    return {
        "update_type": "message_created",
        "timestamp": 1_790_000_000_123,
        "message": {
            "sender": sender or USER,
            "recipient": {"chat_id": 99, "chat_type": chat_type},
            "timestamp": 1_790_000_000_123,
            "body": {"mid": "mid.1", "seq": 1, **body},
        },
    }


def test_text_message() -> None:
    update = parse_update(created({"text": "Здравствуйте"}))
    assert update is not None
    assert (update.key, update.kind, update.user_id, update.chat_id) == ("max:mid.1", "message", "17", "99")
    assert update.incoming.text == "Здравствуйте" and update.incoming.profile_name == "Ольга"
    assert update.contact == "Ольга Петрова (@olga_p)"
    assert update.timestamp is not None and update.timestamp.year == 2026


def test_contact_attachment_gives_the_phone_with_a_plus() -> None:
    vcf = "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Ольга\r\nTEL;TYPE=cell:79123456789\r\nEND:VCARD"
    update = parse_update(
        created({"text": None, "attachments": [{"type": "contact", "payload": {"vcf_info": vcf}}]})
    )
    assert update is not None
    assert update.incoming.contact_phone == "+79123456789" and update.incoming.text == "+79123456789"


def test_media_is_unsupported_and_a_caption_is_text() -> None:
    photo = parse_update(created({"attachments": [{"type": "image", "payload": {"url": "https://x"}}]}))
    voice = parse_update(created({"attachments": [{"type": "audio", "payload": {"url": "https://x"}}]}))
    caption = parse_update(
        created({"text": "это мой анализ", "attachments": [{"type": "image", "payload": {}}]})
    )
    assert photo is not None and photo.incoming.unsupported == "photo"
    assert voice is not None and voice.incoming.unsupported == "voice"
    assert (
        caption is not None
        and caption.incoming.text == "это мой анализ"
        and caption.incoming.unsupported is None
    )


def test_group_chats_bots_and_unknown_types_are_skipped() -> None:
    assert parse_update(created({"text": "всем привет"}, chat_type="chat")) is None
    assert parse_update(created({"text": "я бот"}, sender={**USER, "is_bot": True})) is None
    assert parse_update({"update_type": "message_edited", "timestamp": 1}) is None
    assert update_key({"update_type": "message_removed"}) == ""


def test_a_press_carries_the_payload_and_the_label() -> None:
    keyboard = {
        "type": "inline_keyboard",
        "payload": {"buttons": [[{"type": "callback", "text": "ЛОР", "payload": "sp:ent"}]]},
    }
    update = parse_update(
        {
            "update_type": "message_callback",
            "timestamp": 5,
            "callback": {"timestamp": 5, "callback_id": "cb.7", "payload": "sp:ent", "user": USER},
            "message": {
                "recipient": {"chat_id": 99, "chat_type": "dialog"},
                "body": {"mid": "mid.out.3", "seq": 3, "text": "К кому?", "attachments": [keyboard]},
            },
        }
    )
    assert update is not None
    assert (update.key, update.incoming.button, update.incoming.text) == ("max:cb:cb.7", "sp:ent", "ЛОР")
    assert (update.message_mid, update.message_text, update.callback_id) == ("mid.out.3", "К кому?", "cb.7")


def test_contact_without_a_username_names_the_id() -> None:
    assert contact_of({"user_id": 5, "first_name": "Иван"}) == "Иван (id 5)"
    assert contact_of({"user_id": 5}) == "id 5"


def test_render_keyboard_contact_button_and_long_text() -> None:
    [message] = render(Outgoing("Ваш телефон?", (Button("Не хочу", "no"),), request_contact=True))
    [keyboard] = message.attachments
    rows = keyboard["payload"]["buttons"]
    assert rows[0] == [{"type": "request_contact", "text": SHARE_PHONE}]
    assert rows[1] == [{"type": "callback", "text": "Не хочу", "payload": "no"}]
    pieces = render(Outgoing("слово " * 1500, (Button("Да", "y"),)))
    assert len(pieces) == 3 and all(len(p.text) <= 4000 for p in pieces)
    assert [bool(p.attachments) for p in pieces] == [False, False, True]
    many = render(Outgoing("Выберите", tuple(Button(f"Врач {n}", f"d{n}") for n in range(80))))
    assert not many[-1].attachments and "80. Врач 79" in many[-1].text
