"""The widget's pure parts: tokens and short ids, the token buckets, the transcript."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from bot.channels.web.limits import RateLimiter
from bot.channels.web.sessions import Transcript, new_token, session_id, valid_token
from bot.dialogue.messages import Button, Outgoing
from bot.storage.db import Database

AT = datetime(2026, 11, 23, 6, 0, tzinfo=UTC)


def test_tokens_are_random_and_their_ids_short_and_stable() -> None:
    tokens = {new_token() for _ in range(500)}
    assert len(tokens) == 500 and all(valid_token(t) for t in tokens)
    ids = {session_id(t) for t in tokens}
    assert len(ids) == 500
    token = next(iter(tokens))
    assert session_id(token) == session_id(token)
    assert len(session_id(token)) == 8 and session_id(token).isalnum() and session_id(token).isupper()


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
    assert [limiter.allow("s") for _ in range(4)] == [True, True, True, False]
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
