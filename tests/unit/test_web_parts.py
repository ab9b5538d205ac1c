"""The widget's pure parts: tokens, session keys and labels, the issued sessions, the token buckets, which
address a request counts against, the transcript."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.channels.web.channel import Refusal
from bot.channels.web.limits import RateLimiter, client_ip, networks
from bot.channels.web.server import _parse
from bot.channels.web.sessions import (
    Sessions,
    Transcript,
    new_token,
    session_key,
    session_label,
    valid_token,
)
from bot.config import load_settings, parse_networks
from bot.dialogue.messages import Button, Outgoing
from bot.errors import ConfigError
from bot.storage.db import Database
from tests.integration.web_harness import TWINS

AT = datetime(2026, 11, 23, 6, 0, tzinfo=UTC)


def test_tokens_are_random_and_keyed_on_their_whole_hash() -> None:
    tokens = {new_token() for _ in range(500)}
    assert len(tokens) == 500 and all(valid_token(t) for t in tokens)
    token = next(iter(tokens))
    assert session_key(token) == hashlib.sha256(token.encode()).hexdigest()  # 256 bits, not the token
    assert len({session_key(t) for t in tokens}) == 500
    label = session_label(session_key(token))
    assert len(label) == 8 and label.isalnum() and label.isupper()
    assert label == session_label(session_key(token))
    assert label.lower() not in session_key(token) and label not in token  # not the key, not a part of it


def test_tokens_sharing_forty_bits_are_different_sessions(tmp_path: Path) -> None:
    first, second = TWINS
    assert hashlib.sha256(first.encode()).digest()[:5] == hashlib.sha256(second.encode()).digest()[:5]
    assert session_key(first) != session_key(second)
    db = Database(tmp_path / "state.sqlite3")
    sessions = Sessions(db)
    assert sessions.register(first, AT) == session_key(first)
    assert sessions.find(first) == session_key(first)
    assert sessions.find(second) is None  # never issued: it opens nothing, least of all the twin's session
    db.close()


def test_only_issued_tokens_open_a_session_and_the_record_keeps_no_token(tmp_path: Path) -> None:
    db = Database(tmp_path / "state.sqlite3")
    sessions = Sessions(db)
    token, key = sessions.issue(AT)
    assert valid_token(token) and key == session_key(token)
    assert sessions.find(token) == key
    for stranger in (new_token(), "x" * 40, key, key[:43], None, 12345, ["x" * 40]):
        assert sessions.find(stranger) is None
    assert sessions.count() == 1
    db.close()
    assert token.encode() not in (tmp_path / "state.sqlite3").read_bytes()


def test_old_short_session_transcripts_are_dropped_once(tmp_path: Path) -> None:
    db = Database(tmp_path / "state.sqlite3")
    with db.transaction() as conn:  # a record written before sessions were keyed on the whole hash
        conn.execute(
            "CREATE TABLE web_messages (seq INTEGER PRIMARY KEY AUTOINCREMENT, session TEXT NOT NULL, "
            "sender TEXT NOT NULL, text TEXT NOT NULL, buttons TEXT NOT NULL DEFAULT '[]', at TEXT NOT NULL)"
        )
        conn.execute(
            "INSERT INTO web_messages (session, sender, text, at) VALUES ('W7KQ2M9X', 'patient', 'Ольга', '')"
        )
    transcript = Transcript(db)
    assert transcript.after("W7KQ2M9X") == []
    key = session_key(new_token())
    transcript.add(key, "patient", [Outgoing("здравствуйте")], AT)
    Transcript(db)  # a restart keeps today's sessions
    assert [e.text for e in transcript.after(key)] == ["здравствуйте"]
    db.close()


TRUSTED = networks(parse_networks("127.0.0.1, 10.0.0.0/8"))


@pytest.mark.parametrize(
    ("remote", "forwarded", "expected"),
    [
        ("127.0.0.1", ["203.0.113.5"], "203.0.113.5"),  # nginx on this machine
        ("127.0.0.1", ["1.2.3.4, 203.0.113.5"], "203.0.113.5"),  # the left one is the visitor's own words
        ("127.0.0.1", ["203.0.113.5, 10.0.0.7"], "203.0.113.5"),  # two proxies of ours
        ("127.0.0.1", ["1.2.3.4", "203.0.113.5, 10.1.1.1"], "203.0.113.5"),  # the header given twice
        ("127.0.0.1", ["10.0.0.7"], "10.0.0.7"),  # only our own proxies: the farthest one
        ("127.0.0.1", ["nonsense, 10.0.0.7"], "10.0.0.7"),  # not an address: no further than our proxy
        ("127.0.0.1", [], "127.0.0.1"),
        ("198.51.100.1", ["203.0.113.5"], "198.51.100.1"),  # not a trusted proxy: its header means nothing
    ],
)
def test_forwarded_for_only_from_trusted_proxies(remote: str, forwarded: list[str], expected: str) -> None:
    assert client_ip(remote, forwarded, TRUSTED) == expected


def test_without_trusted_proxies_the_peer_is_the_visitor() -> None:
    assert client_ip("127.0.0.1", ["203.0.113.5"], ()) == "127.0.0.1"
    assert parse_networks("") == ()
    assert parse_networks(" 127.0.0.1 ,::1, 10.0.0.0/8") == ("127.0.0.1/32", "::1/128", "10.0.0.0/8")
    with pytest.raises(ValueError, match="не IP-адрес"):
        parse_networks("nginx.local")


@given(st.one_of(st.none(), st.integers(), st.text(max_size=80)))
def test_only_well_formed_tokens_are_accepted(value: object) -> None:
    if valid_token(value):
        assert isinstance(value, str) and 32 <= len(value) <= 64
        assert all(c.isascii() and (c.isalnum() or c in "-_") for c in value)


def test_bad_tokens() -> None:
    for value in ("", "short", "a" * 31, "a" * 65, "a" * 40 + "!", "а" * 40, None, 12345, ["x" * 40]):
        assert not valid_token(value)


def test_bucket_allows_a_burst_then_the_rate() -> None:
    now = [0.0]
    limiter = RateLimiter(burst=3, per_minute=6, now=lambda: now[0])
    assert not limiter.exhausted("s")
    assert [limiter.allow("s") for _ in range(4)] == [True, True, True, False]
    assert limiter.exhausted("s") and not limiter.exhausted("never-seen")
    assert limiter.allow("other")  # keys are independent
    assert 9.9 < limiter.retry_after("s") <= 10.0
    now[0] += 5
    assert not limiter.allow("s")
    now[0] += 5
    assert limiter.allow("s") and not limiter.allow("s")
    now[0] += 3600  # never more than the burst after a long pause
    assert [limiter.allow("s") for _ in range(4)] == [True, True, True, False]


def test_bucket_table_stays_bounded() -> None:
    now = [0.0]
    limiter = RateLimiter(burst=2, per_minute=60, now=lambda: now[0], max_keys=100)
    for i in range(1000):
        now[0] += 0.001
        limiter.allow(f"ip{i}")
    assert len(limiter._buckets) <= 100


def test_pruning_forgets_idle_keys_and_keeps_a_limited_one() -> None:
    now = [0.0]
    limiter = RateLimiter(burst=2, per_minute=1, now=lambda: now[0], max_keys=10)
    for i in range(9):
        limiter.allow(f"idle{i}")
    assert limiter.allow("busy") and limiter.allow("busy") and not limiter.allow("busy")
    now[0] += 60  # the idle keys are full again; "busy" has one token of two
    limiter.allow("newcomer")  # the table is full: idle keys are forgotten
    assert set(limiter._buckets) == {"busy", "newcomer"}
    assert limiter.allow("busy") and not limiter.allow("busy")


def test_transcript_keeps_order_buttons_and_what_is_offered(tmp_path: Path) -> None:
    db = Database(tmp_path / "state.sqlite3")
    transcript = Transcript(db)
    Transcript(db)  # idempotent schema
    assert transcript.offered("A") == ()
    transcript.add(
        "A", "bot", [Outgoing("Здравствуйте!", (Button("ЛОР", "sp:ЛОР"), Button("Терапевт", "sp:T")))], AT
    )
    assert [b.label for b in transcript.offered("A")] == ["ЛОР", "Терапевт"]
    [patient] = transcript.add("A", "patient", [Outgoing("ЛОР")], AT)
    assert transcript.offered("A") == ()  # the patient answered: the old buttons are gone
    transcript.add("B", "bot", [Outgoing("другая сессия")], AT)
    entries = transcript.after("A")
    assert [(e.sender, e.text) for e in entries] == [("bot", "Здравствуйте!"), ("patient", "ЛОР")]
    assert entries[0].to_json()["buttons"] == [
        {"label": "ЛОР", "data": "sp:ЛОР"},
        {"label": "Терапевт", "data": "sp:T"},
    ]
    assert entries[1].to_json()["from"] == "patient"
    assert transcript.after("A", patient.seq) == []
    assert [e.text for e in transcript.after("A", limit=1)] == ["ЛОР"]
    admin = transcript.add("A", "admin", [Outgoing("Это администратор")], AT)[0].to_json()
    assert (admin["from"], admin["author"]) == ("bot", "admin")
    db.close()


def test_trusted_proxies_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    assert load_settings().trusted_proxies == ()
    monkeypatch.setenv("TRUSTED_PROXIES", "127.0.0.1, 10.0.0.0/8")
    assert load_settings().trusted_proxies == ("127.0.0.1/32", "10.0.0.0/8")
    monkeypatch.setenv("TRUSTED_PROXIES", "10.0.0.0/33")
    with pytest.raises(ConfigError, match="TRUSTED_PROXIES"):
        load_settings()


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=10,
)


@given(st.one_of(st.text(max_size=200), st.binary(max_size=200), JSON.map(json.dumps)))
def test_a_frame_is_an_object_of_valid_text_or_a_polite_refusal(raw: str | bytes) -> None:
    try:
        payload = _parse(raw)
    except Refusal as refusal:
        assert (refusal.code, refusal.status) == ("bad_request", 400)
        return
    assert isinstance(payload, dict)
    json.dumps(payload, ensure_ascii=False).encode("utf-8")  # storable and sendable as it is


@pytest.mark.parametrize("depth", [100, 3000, 100_000])
def test_deep_nesting_is_a_refusal_at_any_depth(depth: int) -> None:
    for raw in ("[" * depth + "]" * depth, '{"text": ' + "[" * depth + "]" * depth + "}", "{" * depth):
        with pytest.raises(Refusal):
            _parse(raw)
