"""Every kind of WhatsApp message a patient can send gets a fitting answer, or none when none is expected."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from bot.clock import FakeClock
from bot.config import Settings
from tests.fakes import meta_webhook as meta
from tests.integration.whatsapp_harness import PATIENT, Harness, press, running, visible

TEXT_ONLY = "только текстов"  # "please write in text, or call us"
PHONE = "+7 (846) 200-30-40"


@pytest.fixture
async def wa(settings: Settings, clock: FakeClock) -> AsyncIterator[Harness]:
    async with running(settings, clock) as harness:
        yield harness


def _unsupported() -> dict[str, Any]:
    return {
        "type": "unsupported",
        "errors": [
            {
                "code": 131051,
                "title": "Message type unknown",
                "message": "Message type unknown",
                "error_data": {"details": "Message type is currently not supported."},
            }
        ],
        "unsupported": {"type": "poll"},
    }


CANNOT_READ: dict[str, dict[str, Any]] = {
    "unsupported": _unsupported(),
    "unknown type": {"type": "hologram", "hologram": {"id": "1"}},
    "no type": {},
    "location": meta.location(),
    "sticker": {"type": "sticker", "sticker": {"id": "5566", "animated": False}},
    "contact without a phone": {"type": "contacts", "contacts": [{"name": {"formatted_name": "Ольга"}}]},
    "flow form": {
        "type": "interactive",
        "interactive": {"type": "nfm_reply", "nfm_reply": {"response_json": "{}", "body": "Sent"}},
    },
}


@pytest.mark.parametrize("message", CANNOT_READ.values(), ids=CANNOT_READ.keys())
async def test_what_the_bot_cannot_read_gets_a_polite_text_only_answer(
    wa: Harness, message: dict[str, Any]
) -> None:
    replies = await wa.send(message)
    assert len(replies) == 1
    assert TEXT_ONLY in visible(replies) and PHONE in visible(replies)
    assert wa.channel.errors.recent() == [] and wa.graph.refused == []


NO_ANSWER: dict[str, dict[str, Any]] = {
    "reaction": {"type": "reaction", "reaction": {"message_id": "wamid.HBgL", "emoji": "\U0001f44d"}},
    "reaction removed": {"type": "reaction", "reaction": {"message_id": "wamid.HBgL", "emoji": ""}},
    "changed number": {
        "type": "system",
        "system": {
            "body": "Ольга changed from 79123456789 to 79120000000",
            "wa_id": "79120000000",
            "type": "user_changed_number",
        },
    },
}


@pytest.mark.parametrize("message", NO_ANSWER.values(), ids=NO_ANSWER.keys())
async def test_reactions_and_system_messages_are_ignored_quietly(
    wa: Harness, message: dict[str, Any]
) -> None:
    await wa.say("Здравствуйте")
    sent, receipts = len(wa.graph.sent), len(wa.graph.read_receipts)
    assert await wa.send(message) == []
    assert (len(wa.graph.sent), len(wa.graph.read_receipts)) == (sent, receipts)
    assert wa.channel.errors.recent() == []


async def test_a_template_quick_reply_is_read_as_what_its_button_says(wa: Harness) -> None:
    quick_reply = {
        "type": "button",
        "context": {"from": "78462003040", "id": meta.new_wamid()},
        "button": {"payload": "BOOK", "text": "Хочу записаться к лору"},
    }
    replies = await wa.send(quick_reply)
    assert "согласн" in visible(replies).lower()  # the ENT is taken; consent comes before contacts


async def test_button_and_list_replies_move_the_booking_on(wa: Harness) -> None:
    replies = await wa.say("Здравствуйте")
    assert replies[-1]["interactive"]["type"] == "list"
    replies = await press(wa, replies, "ЛОР")  # a list row
    assert replies[-1]["interactive"]["type"] == "button"
    replies = await press(wa, replies, "Да")  # a reply button
    assert "обращаться" in visible(replies)


async def test_a_stale_button_gets_a_polite_answer(wa: Harness) -> None:
    await wa.say("Здравствуйте")
    replies = await wa.send(meta.button_reply("spec:does-not-exist", "Старая кнопка"))
    assert len(replies) == 1 and "Извините" in visible(replies)
    assert wa.channel.errors.recent() == []


async def test_a_shared_contact_card_gives_the_phone(wa: Harness) -> None:
    for text in ("хочу к лору", "да", "Ольга"):
        replies = await wa.say(text)
    assert "телефон" in visible(replies)
    replies = await wa.send(meta.contact_card("+7 912 345-67-89"))
    assert "14:00" in visible(replies)  # the phone is taken; next, the time of day


async def test_one_delivery_with_every_kind_answers_only_what_needs_an_answer(wa: Harness) -> None:
    kinds = [NO_ANSWER["reaction"], meta.text("Здравствуйте"), NO_ANSWER["changed number"], meta.voice()]
    messages = [
        {"from": PATIENT, "id": meta.new_wamid(), "timestamp": str(wa.now()), **kind} for kind in kinds
    ]
    body = meta.envelope(
        {"contacts": [{"profile": {"name": "Ольга"}, "wa_id": PATIENT}], "messages": messages}
    )
    assert await wa.post(body) == 200
    texts = wa.graph.texts(PATIENT)
    assert len(wa.graph.read_receipts) == 2
    assert "Здоровье Самары" in texts[0] and TEXT_ONLY in texts[-1]
