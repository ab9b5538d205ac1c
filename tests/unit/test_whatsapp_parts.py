"""WhatsApp's pure parts: signature, inbound parsing, rendering limits, the 24-hour window."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.channels.whatsapp.inbound import InboundMessage, parse_webhook
from bot.channels.whatsapp.inbox import KEEP, WhatsAppInbox
from bot.channels.whatsapp.render import BODY_LIMIT, TEXT_LIMIT, render, split_text
from bot.channels.whatsapp.signature import sign, signature_valid
from bot.channels.whatsapp.window import WhatsAppContacts, whatsapp_window_open
from bot.dialogue.messages import Button, Incoming, Outgoing
from bot.storage.db import Database
from tests.fakes import meta_webhook as meta

T0 = 1_795_500_000  # 2026-11-23, seconds


def test_signature_matches_meta_and_rejects_everything_else() -> None:
    body = meta.encode(meta.message_body("79123456789", meta.text("Привет"), timestamp=T0))
    header = meta.sign(body)
    assert sign(body, meta.APP_SECRET) == header
    assert signature_valid(body, header, meta.APP_SECRET)
    assert not signature_valid(body + b"\n", header, meta.APP_SECRET)
    assert not signature_valid(body, header, "other")
    assert not signature_valid(body, None, meta.APP_SECRET)
    assert not signature_valid(body, header, None)  # no secret configured: nothing is trusted
    assert not signature_valid(body, header[7:], meta.APP_SECRET)


def _parse(message: dict) -> Incoming:  # type: ignore[type-arg]
    payload = json.loads(meta.encode(meta.message_body("79123456789", message, timestamp=T0, name="Оля")))
    [parsed], statuses = parse_webhook(payload)
    assert statuses == []
    assert parsed.wa_id == "79123456789" and parsed.timestamp == datetime.fromtimestamp(T0, UTC)
    return parsed.incoming


def test_inbound_message_types() -> None:
    assert _parse(meta.text("Запишите к лору")) == Incoming(text="Запишите к лору", profile_name="Оля")
    assert _parse(meta.button_reply("win:am", "До 14:00")) == Incoming(
        text="До 14:00", button="win:am", profile_name="Оля"
    )
    assert _parse(meta.list_reply("spec:1", "ЛОР")).button == "spec:1"
    assert _parse(meta.voice()).unsupported == "voice"
    assert _parse(meta.image()).unsupported == "photo"
    assert _parse(meta.location()).unsupported == "location"
    assert _parse(meta.contact_card("+7 912 345-67-89")).contact_phone == "+7 912 345-67-89"
    assert _parse({"type": "unsupported", "errors": [{"code": 131051}]}).unsupported == "unsupported"
    assert _parse({"type": "something_new"}).unsupported == "something_new"


def test_every_other_inbound_type_is_read_or_named() -> None:
    template_reply = {
        "type": "button",
        "context": {"id": "wamid.t"},
        "button": {"payload": "B", "text": "Да"},
    }
    assert _parse(template_reply) == Incoming(text="Да", profile_name="Оля")
    assert _parse({"type": "button", "button": {"payload": "B"}}) == Incoming(text="", profile_name="Оля")
    no_id = {"type": "interactive", "interactive": {"type": "button_reply", "button_reply": {"title": "Да"}}}
    assert _parse(no_id) == Incoming(text="Да", profile_name="Оля")
    flow = {"type": "interactive", "interactive": {"type": "nfm_reply", "nfm_reply": {"response_json": "{}"}}}
    assert _parse(flow).unsupported == "interactive"
    assert _parse({"type": "contacts", "contacts": [{"name": {"formatted_name": "Оля"}}]}).unsupported == (
        "contact"
    )
    assert _parse(
        {"type": "contacts", "contacts": [{"phones": [{"wa_id": "79120000000"}]}]}
    ).contact_phone == ("79120000000")
    assert _parse({"type": "sticker", "sticker": {"id": "1"}}).unsupported == "sticker"
    assert _parse({"type": "audio", "audio": {"id": "1"}}).unsupported == "audio"
    assert _parse({}).unsupported == "unsupported"  # no type at all
    assert _parse({"type": "text", "text": "not an object"}) == Incoming(text="", profile_name="Оля")


def test_reactions_and_junk_are_skipped_statuses_parsed() -> None:
    reaction = {"type": "reaction", "reaction": {"message_id": "wamid.x", "emoji": "+"}}
    assert parse_webhook(meta.message_body("7912", reaction, timestamp=T0)) == ([], [])
    system = {"type": "system", "system": {"body": "changed", "wa_id": "7913", "type": "user_changed_number"}}
    assert parse_webhook(meta.message_body("7912", system, timestamp=T0)) == ([], [])
    no_sender = meta.message_body("7912", meta.text("Привет"), timestamp=T0)
    del no_sender["entry"][0]["changes"][0]["value"]["messages"][0]["from"]
    assert parse_webhook(no_sender) == ([], [])
    assert parse_webhook({"object": "page", "entry": []}) == ([], [])
    assert parse_webhook(["not", "a", "dict"]) == ([], [])
    assert parse_webhook({"object": "whatsapp_business_account", "entry": [{"changes": [None, 5]}]}) == (
        [],
        [],
    )
    body = meta.status_body("7912", "failed", timestamp=T0, errors=[meta.window_closed_error()])
    [], [status] = parse_webhook(body)
    assert (status.status, status.recipient, status.errors[0].code) == ("failed", "7912", 131047)
    assert "24 hours" in status.errors[0].details


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.sampled_from("ab .\n,!Ж"), max_size=12000), st.integers(10, 5000))
def test_split_text_keeps_everything_within_the_limit(text: str, limit: int) -> None:
    pieces = split_text(text, limit)
    assert all(0 < len(p) <= limit for p in pieces)
    assert "".join(pieces).replace(" ", "").replace("\n", "") == text.replace(" ", "").replace("\n", "")


def test_split_text_prefers_paragraphs_and_sentences() -> None:
    text = ("Первое предложение. " * 150).strip() + "\n\n" + "Второй абзац. " * 150
    pieces = split_text(text, TEXT_LIMIT)
    assert len(pieces) == 2 and pieces[0].endswith("предложение.") and pieces[1].startswith("Второй")


@settings(max_examples=100, deadline=None)
@given(
    st.text(max_size=6000),
    st.lists(st.text(min_size=1, max_size=40), max_size=14, unique=True),
)
def test_render_respects_every_limit(text: str, labels: list[str]) -> None:
    buttons = tuple(Button(label, f"id{i}") for i, label in enumerate(labels))
    for body in render(Outgoing(text, buttons)):
        if body["type"] == "text":
            assert 0 < len(body["text"]["body"]) <= TEXT_LIMIT
            continue
        interactive = body["interactive"]
        assert 0 < len(interactive["body"]["text"]) <= BODY_LIMIT
        if interactive["type"] == "button":
            assert 1 <= len(interactive["action"]["buttons"]) <= 3
            assert all(len(b["reply"]["title"]) <= 20 for b in interactive["action"]["buttons"])
        else:
            rows = interactive["action"]["sections"][0]["rows"]
            assert 1 <= len(rows) <= 10
            assert all(len(r["title"]) <= 24 and len(r.get("description", "")) <= 72 for r in rows)


def test_window_opens_with_inbound_and_closes_after_24_hours_or_131047(tmp_path: Path) -> None:
    db = Database(tmp_path / "state.sqlite3")
    now = datetime(2026, 11, 23, 6, 0, tzinfo=UTC)
    assert not whatsapp_window_open(db, "7912", now)  # no table yet
    contacts = WhatsAppContacts(db)
    assert not contacts.window_open("7912", now)
    contacts.inbound("7912", now)
    assert contacts.window_open("7912", now + timedelta(hours=23))
    assert not contacts.window_open("7912", now + timedelta(hours=24))
    contacts.inbound("7912", now - timedelta(hours=1))  # an older redelivery does not move it back
    assert contacts.window_open("7912", now + timedelta(hours=23, minutes=30))
    contacts.close("7912", now + timedelta(minutes=5))
    assert not contacts.window_open("7912", now + timedelta(minutes=6))
    contacts.inbound("7912", now + timedelta(minutes=10))
    assert whatsapp_window_open(db, "7912", now + timedelta(minutes=11))
    contacts.offer("7912", (Button("ЛОР", "spec:1"),))
    assert contacts.offered("7912") == [Button("ЛОР", "spec:1")]
    assert contacts.offered("nobody") == []
    db.close()


def _inbound(text: str, wamid: str, at: int = T0) -> InboundMessage:
    [message], _ = parse_webhook(
        json.loads(meta.encode(meta.message_body("7912", meta.text(text), timestamp=at, message_id=wamid)))
    )
    return message


def test_inbox_keeps_messages_and_answers_until_finished(tmp_path: Path) -> None:
    db = Database(tmp_path / "state.sqlite3")
    inbox = WhatsAppInbox(db)
    now = datetime.fromtimestamp(T0 + 5, UTC)
    first, second = _inbound("Привет", "wamid.1"), _inbound("Запишите к лору", "wamid.2")
    entries = inbox.record([first, second, first], now)  # Meta may repeat one inside a delivery too
    assert [e.message for e in entries] == [first, second]
    assert inbox.record([first], now) == []  # redelivered later
    assert [e.message for e in inbox.unfinished()] == [first, second]  # the same after a restart
    assert inbox.unfinished()[0].sent_at == datetime.fromtimestamp(T0, UTC)
    replies = (Outgoing("Куда?", (Button("ЛОР", "spec:1"), Button("Терапевт", "spec:2"))), Outgoing("Ок"))
    inbox.answered(entries[0].seq, replies)
    assert inbox.unfinished()[0].replies == replies
    inbox.finish(entries[0].seq, now)
    inbox.finish(entries[1].seq, now, state="dropped")
    assert inbox.unfinished() == [] and inbox.counts() == {"done": 1, "dropped": 1}
    assert inbox.record([first], now) == []  # still known after it was finished
    assert inbox.prune(now + KEEP + timedelta(seconds=1)) == 2
    db.close()


def test_inbox_knows_the_ids_earlier_versions_marked_seen(tmp_path: Path) -> None:
    db = Database(tmp_path / "state.sqlite3")
    with db.transaction() as conn:
        conn.execute("INSERT INTO seen_messages(id, at) VALUES ('whatsapp:wamid.old', '2026-11-23')")
    inbox = WhatsAppInbox(db)
    now = datetime.fromtimestamp(T0, UTC)
    assert inbox.record([_inbound("Привет", "wamid.old")], now) == []
    assert len(inbox.record([_inbound("Привет", "wamid.new")], now)) == 1
    db.close()
