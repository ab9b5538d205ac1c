"""Hostile and random input through the service, the scheduler and the channels' parsers.

No exception, every message answered (unless an administrator has the conversation), and nothing
invalid reaches the local record or the CSV: E.164 phones, known windows and visits, services from the
doctors list.
"""

from __future__ import annotations

import asyncio
import string
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import phonenumbers
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.bootstrap import App, build_app
from bot.channels.console import render, to_incoming
from bot.clock import FakeClock
from bot.config import load_settings
from bot.dialogue.messages import Address, Button, Incoming, Outgoing
from bot.dialogue.state import Stage
from bot.notify import PatientMessenger
from bot.scheduler import tick
from sheets.schema import CHANNELS, Status, Visit, Window

ROOT = Path(__file__).resolve().parents[2]
FUZZ = settings(
    max_examples=500,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    derandomize=True,  # the same examples every run: a failure here is reproducible, not flaky
)

MEANINGFUL = [
    "Здравствуйте",
    "хочу записаться к лору",
    "к Смирновой",
    "к Иванову",
    "болит ухо",
    "да",
    "согласна",
    "нет",
    "Ольга",
    "меня зовут Анна Петровна",
    "89123456789",
    "+7 (912) 345-67-89",
    "8 800 555 35 35",
    "до 14",
    "после обеда",
    "любое",
    "впервые",
    "повторно",
    "всё верно",
    "исправить телефон",
    "администратор",
    "начать заново",
    "до свидания",
    "спасибо",
    "отзываю согласие",
    "сколько стоит УЗИ?",
    "где вы находитесь",
    "болит сердце и трудно дышать",
]
HOSTILE = [
    "'; DROP TABLE leads; --",
    "Robert'); DELETE FROM conversations;--",
    '=HYPERLINK("http://evil.example","click")',
    "=cmd|' /C calc'!A0",
    "+7912=1+1",
    "@SUM(A1:A9)",
    "-2+3",
    "<script>alert(1)</script>",
    "<b>жирный</b> *markdown* _курсив_ `код` [ссылка](javascript:alert(1))",
    "{name} {phone} {0} %s %(x)s",
    "\x00\x01\x02\x1b[31mкрасный\x1b[0m",
    "a\ud800b\udfff",
    "\u202eевор\u202c",
    "Ольга\u200d\u200bOlga Ölga Ольга",
    "😀🇷🇺👨‍👩‍👧 ЛОР 🤒",
    "中文 العربية עברית ελληνικά",
    "9" * 300,
    "+" + "7" * 40,
    "8912345678989123456789",
    " ",
    "",
    "\n\n\t",
]
BUTTON_DATA = [
    "consent:yes",
    "consent:no",
    "confirm:yes",
    "confirm:fix",
    "fix:phone",
    "fix:name",
    "fix:nothing",
    "win:am",
    "win:bogus",
    "visit:first",
    "visit:",
    "doc:0000000000",
    "spec:",
    "handoff",
    "restart",
    "book",
    ":",
    "",
]

piece = st.one_of(
    st.sampled_from(MEANINGFUL),
    st.sampled_from(HOSTILE),
    st.text(max_size=40),
    st.text(alphabet=st.characters(codec=None, categories=["Cc", "Cf", "Cs", "Zl", "Zp", "So"]), max_size=20),
    st.text(alphabet=string.digits + "+-() ", min_size=5, max_size=60),
)
message_text = st.one_of(
    piece,
    st.lists(piece, min_size=2, max_size=4).map(" ".join),
    st.integers(min_value=5_000, max_value=60_000).map(lambda n: ("ЛОР 8912 " * n)[:n]),
)


@dataclass(frozen=True)
class Move:
    kind: str  # text | press | data | wait
    text: str = ""
    index: int = 0
    minutes: int = 0


moves = st.one_of(
    st.builds(Move, st.just("text"), text=message_text),
    st.builds(Move, st.just("text"), text=message_text),
    st.builds(Move, st.just("press"), index=st.integers(0, 9)),
    st.builds(Move, st.just("data"), text=st.one_of(st.sampled_from(BUTTON_DATA), st.text(max_size=70))),
    st.builds(Move, st.just("wait"), minutes=st.integers(1, 400)),
)
noise = st.lists(moves, max_size=2)
first_booking_message = st.tuples(
    st.sampled_from(["", *HOSTILE, *MEANINGFUL]),
    st.sampled_from(["Я Ольга", "меня зовут Анна", "Ольга", "Я =Ольга", "Я Ольга😀"]),
    st.sampled_from(["к лору", "к Смирновой", "болит ухо", "к терапевту Иванову", "на узи"]),
    st.sampled_from(["после обеда", "до 14", "любое время", ""]),
    st.sampled_from(["впервые", "повторно", ""]),
    st.sampled_from(["89123456789", "+7 912 345 67 89", "8 (927) 000-11-22", "+79123"]),
).map(" ".join)


def booking(parts: tuple[str, list[Move], list[Move], list[Move], list[Move]]) -> list[Move]:
    """The three messages of a quick booking with random or hostile moves in between."""
    first, a, b, c, d = parts
    return [*a, Move("text", first), *b, Move("text", "да"), *c, Move("text", "да"), *d]


conversations = st.one_of(
    st.lists(moves, min_size=1, max_size=14),
    st.tuples(first_booking_message, noise, noise, noise, noise).map(booking),
)
channels = st.sampled_from(["console", "telegram", "whatsapp", "web"])


class RecordingMessenger(PatientMessenger):
    """Every channel's reminders land here; each must be a non-empty message."""

    def __init__(self, channel: str) -> None:
        self.channel = channel
        self.sent: list[Outgoing] = []

    async def send(self, address: Address, messages: Sequence[Outgoing]) -> bool:
        assert messages and all(m.text.strip() for m in messages)
        self.sent.extend(messages)
        return True


@pytest.fixture(scope="module")
def fuzz_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[App, FakeClock]]:
    data = tmp_path_factory.mktemp("fuzz")
    clock = FakeClock(datetime(2026, 11, 23, 6, 0, tzinfo=UTC))
    app = build_app(
        load_settings(data_dir=data, knowledge_dir=ROOT / "knowledge", prompts_dir=ROOT / "prompts"),
        clock=clock,
    )
    yield app, clock
    app.close()


def test_hostile_conversations_are_answered_and_store_only_valid_leads(
    fuzz_app: tuple[App, FakeClock],
) -> None:
    app, clock = fuzz_app
    for channel in CHANNELS:
        app.messengers.register(RecordingMessenger(channel))
    loop = asyncio.new_event_loop()
    counter = iter(range(1_000_000))
    handled = [0]

    async def converse(channel: str, script: list[Move]) -> None:
        who = Address(channel, f"f{next(counter)}", "@fuzz")
        offered: list[Button] = []
        for move in script:
            if move.kind == "wait":
                clock.advance(timedelta(minutes=move.minutes))
                await tick(app)
                continue
            if move.kind == "press" and offered:
                button = offered[move.index % len(offered)]
                incoming = Incoming(text=button.label, button=button.data)
            elif move.kind == "data":
                incoming = Incoming(text=move.text, button=move.text)
            else:
                incoming = Incoming(text=move.text)
            before = app.store.load(who)
            replies = await app.service.handle(who, incoming)
            handled[0] += 1
            if before.stage == Stage.HANDOFF:
                continue  # an administrator answers; the bot stays quiet
            assert replies, f"no answer to {incoming!r}"
            assert all(isinstance(r, Outgoing) and r.text.strip() for r in replies), replies
            offered = [b for r in replies for b in r.buttons] or offered
            clock.advance(timedelta(seconds=20))

    @FUZZ
    @given(channel=channels, script=conversations)
    def run(channel: str, script: list[Move]) -> None:
        loop.run_until_complete(converse(channel, script))

    try:
        run()
        loop.run_until_complete(app.flusher.flush())
    finally:
        loop.close()
    assert handled[0] >= 2000  # thousands of messages
    check_stored_leads(app)
    print(f"fuzz: {handled[0]} messages, {len(app.store.leads())} leads")


def check_stored_leads(app: App) -> None:
    knowledge = app.knowledge()
    services = {d.display for d in knowledge.doctors} | set(knowledge.specialties)
    csv_leads = app.sinks["csv"].read_all()
    local = {lead.id: lead for lead in app.store.leads()}
    assert csv_leads, "the fuzz run should have completed some bookings"
    assert len({lead.id for lead in csv_leads}) == len(csv_leads)
    assert {lead.id for lead in csv_leads} == set(local)
    for lead in csv_leads:
        assert lead == local[lead.id]
        number = phonenumbers.parse(lead.phone)
        assert phonenumbers.is_valid_number(number), lead
        assert lead.phone == phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
        assert lead.channel in CHANNELS and lead.status in set(Status)
        assert lead.contact
        if lead.status == Status.NEW:
            assert lead.service in services, lead
            assert lead.window in set(Window) and lead.visit in set(Visit), lead
            assert lead.name.strip() and lead.name[0].isupper(), lead
        else:
            assert lead.service in services | {""}, lead
            assert lead.window in {*Window, ""} and lead.visit in {*Visit, ""}, lead
        for cell in lead.to_row():
            assert not any(ord(ch) < 32 and ch not in "\n\t" for ch in cell), lead
            assert not any(0xD800 <= ord(ch) <= 0xDFFF for ch in cell), lead
        datetime.strptime(lead.created, "%Y-%m-%d %H:%M")


buttons_strategy = st.lists(
    st.builds(Button, label=st.text(max_size=30), data=st.text(max_size=64)), max_size=10
)


@settings(max_examples=1000, deadline=None)
@given(
    line=st.one_of(st.text(max_size=200), st.sampled_from(HOSTILE), st.integers(-5, 15).map(str)),
    buttons=buttons_strategy,
)
def test_console_parser_takes_any_line(line: str, buttons: list[Button]) -> None:
    incoming = to_incoming(line, buttons)
    stripped = line.strip()
    if stripped.isdigit() and stripped.isascii() and 1 <= int(stripped) <= len(buttons):
        assert incoming.button == buttons[int(stripped) - 1].data
    elif incoming.button is None:
        assert incoming.text == line
    else:
        assert incoming.button in {b.data for b in buttons}
    text, shown = render([Outgoing(line, tuple(buttons))], colour=False)
    assert text.startswith("Бот: ") and shown == (list(buttons) if buttons else [])


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=30),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=5)
    ),
    max_leaves=10,
)


def _whatsapp_like() -> st.SearchStrategy[object]:
    message = st.fixed_dictionaries(
        {
            "from": st.text(alphabet=string.digits, min_size=1, max_size=15),
            "id": st.text(max_size=20),
            "type": st.sampled_from(["text", "interactive", "button", "image", "contacts", "bogus", ""]),
        },
        optional={
            "text": st.fixed_dictionaries({"body": message_text}) | json_values,
            "interactive": json_values,
            "contacts": json_values,
            "timestamp": st.text(max_size=12) | st.integers(),
        },
    )
    value = st.fixed_dictionaries(
        {"messages": st.lists(message, max_size=3)},
        optional={"contacts": json_values, "statuses": json_values, "metadata": json_values},
    )
    return st.fixed_dictionaries(
        {
            "entry": st.lists(
                st.fixed_dictionaries({"changes": st.lists(st.fixed_dictionaries({"value": value}))})
            )
        }
    )


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(payload=st.one_of(json_values, _whatsapp_like()))
def test_whatsapp_webhook_parser_takes_any_payload(payload: object) -> None:
    inbound = pytest.importorskip("bot.channels.whatsapp.inbound")
    messages, statuses = inbound.parse_webhook(payload)
    for message in messages:
        assert isinstance(message.incoming, Incoming) and isinstance(message.wa_id, str)
    assert all(isinstance(status, inbound.StatusUpdate) for status in statuses)


telegram_message = st.fixed_dictionaries(
    {
        "message_id": st.integers(1, 2**31),
        "date": st.integers(0, 2**31),
        "chat": st.fixed_dictionaries(
            {"id": st.integers(-(2**40), 2**40), "type": st.just("private")},
            optional={"username": st.text(max_size=20)},
        ),
    },
    optional={
        "from": st.fixed_dictionaries(
            {"id": st.integers(1, 2**40), "is_bot": st.just(False), "first_name": st.text(max_size=30)},
            optional={"username": st.text(max_size=20)},
        ),
        "text": message_text,
        "caption": st.text(max_size=50),
        "contact": st.fixed_dictionaries(
            {
                "phone_number": st.text(alphabet=string.digits + "+ -", max_size=20),
                "first_name": st.text(max_size=10),
            }
        ),
        "sticker": st.just(
            {
                "file_id": "x",
                "file_unique_id": "y",
                "type": "regular",
                "width": 1,
                "height": 1,
                "is_animated": False,
                "is_video": False,
            }
        ),
    },
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(raw=st.lists(telegram_message, min_size=1, max_size=4))
def test_telegram_parser_takes_any_message(raw: list[dict[str, object]]) -> None:
    inbound = pytest.importorskip("bot.channels.telegram.inbound")
    from aiogram.types import Message

    parts = []
    for data in raw:
        message = Message.model_validate(data)
        incoming = inbound.incoming_of(message)
        address = inbound.address_of(message.chat, message.from_user)
        assert address.channel == "telegram" and address.contact
        if incoming.contact_phone:
            assert incoming.contact_phone.startswith("+")
        parts.append(incoming)
    merged = inbound.merge(parts)
    assert isinstance(merged, Incoming)
    assert all(p.text.strip() in merged.text for p in parts if p.text.strip())
