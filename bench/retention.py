"""Retention: the first daily pass on a record that grew for a year (nothing was ever pruned before).

The local record gets N old conversations (each with a state of a few recent messages, three answered
receipts, a delivered outbox row and, for a fifth of them, a widget transcript of ten lines) plus N/10 recent
ones, then one `prune` pass runs in a worker thread while the event loop's side keeps committing small
turns, as patients would. Figures: the pass's time and rows deleted, the longest wait of a patient's commit
during the pass, the WAL before and after the TRUNCATE checkpoint, and what stayed.
Prints `FIGURE name value unit` lines for bench/run_all.py.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench._stats import percentile  # noqa: E402
from bot.alerts import AlertOutbox  # noqa: E402
from bot.channels.web.sessions import Transcript  # noqa: E402
from bot.dialogue.state import ConversationState  # noqa: E402
from bot.storage.db import Database  # noqa: E402
from bot.storage.retention import prune  # noqa: E402

NOW = datetime(2026, 12, 1, 3, 0, tzinfo=UTC)
OLD = NOW - timedelta(days=200)
RECENT = NOW - timedelta(days=2)


def state_json() -> str:
    state = ConversationState()
    for n in range(8):
        state.remember("patient" if n % 2 else "bot", "Здравствуйте! Хочу записаться к лору после обеда " * 2)
    return state.to_json()


def fill(db: Database, count: int) -> None:
    Transcript(db)  # the widget's table, as the web channel creates it
    AlertOutbox(db)
    body = state_json()
    with db.transaction() as conn:
        for n in range(count + count // 10):
            at = (OLD if n < count else RECENT) + timedelta(seconds=n)
            stamp = at.isoformat(timespec="milliseconds")
            channel = "web" if n % 5 == 0 else "telegram"
            key = f"{channel}:u{n}"
            conn.execute(
                "INSERT INTO conversations(key, channel, user_id, contact, state, updated_at) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (key, channel, f"u{n}", f"u{n}", body, stamp),
            )
            for r in range(3):
                conn.execute(
                    "INSERT INTO answered_messages VALUES (?, ?, ?, ?, ?)",
                    (f"{key}:{r}", key, "t", "[]", stamp),
                )
            conn.execute(
                "INSERT INTO leads VALUES (?, ?, ?, ?, ?, ?)", (f"L{n}", key, "[]", "новая", stamp, stamp)
            )
            conn.execute(
                "INSERT INTO outbox(sink, op, lead_id, payload, state, created_at) "
                "VALUES ('csv', 'upsert', ?, '{}', 'done', ?)",
                (f"L{n}", stamp),
            )
            if channel == "web":
                conn.executemany(
                    "INSERT INTO web_messages(session, sender, text, at) VALUES (?, 'patient', ?, ?)",
                    [(f"u{n}", "Здравствуйте, хочу записаться", at.isoformat(timespec="seconds"))] * 10,
                )


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    count = 5_000 if args.quick else 50_000
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "state.sqlite3"
        db = Database(path)
        db.checkpoint_in_background()
        fill(db, count)
        db.checkpoint("TRUNCATE")
        db.conn.execute("PRAGMA wal_autocheckpoint=0")
        waits: list[float] = []
        done = threading.Event()
        result: list[object] = []

        def pass_() -> None:
            result.append(prune(db, NOW, conversations=timedelta(days=90), receipts=timedelta(days=7)))
            done.set()

        worker = threading.Thread(target=pass_)
        started = time.perf_counter()
        worker.start()
        turn = 0
        while not done.is_set():  # a patient's turn every 5 ms, as on a busy evening
            t0 = time.perf_counter()
            with db.transaction() as conn:
                conn.execute(
                    "UPDATE conversations SET updated_at = ? WHERE key = ?",
                    (NOW.isoformat(timespec="milliseconds"), f"telegram:u{count + 1 + turn % 100}"),
                )
            waits.append(time.perf_counter() - t0)
            turn += 1
            time.sleep(0.005)
        worker.join()
        elapsed = time.perf_counter() - started
        [pruned] = result
        wal = path.with_name(path.name + "-wal")
        wal_before = wal.stat().st_size
        db.checkpoint("TRUNCATE")
        wal_after = wal.stat().st_size
        kept = {
            table: int(str(db.query(f"SELECT COUNT(*) FROM {table}")[0][0]))
            for table in ("conversations", "leads", "answered_messages", "web_messages", "outbox")
        }
        db.close()
    print(json.dumps({"pruned": str(pruned), "kept": kept}, ensure_ascii=False))
    total = pruned.total  # type: ignore[attr-defined]
    print(f"FIGURE old_conversations {count} rows")
    print(f"FIGURE pass_time {elapsed:.2f} s")
    print(f"FIGURE rows_deleted {total} rows")
    print(f"FIGURE delete_rate {total / elapsed:.0f} rows/s")
    print(f"FIGURE patient_commit_wait_p99 {percentile(waits, 99) * 1000:.1f} ms")
    print(f"FIGURE patient_commit_wait_max {max(waits) * 1000:.1f} ms")
    print(f"FIGURE patient_commits_during_pass {len(waits)} commits")
    print(f"FIGURE wal_before_truncate {wal_before / 1e6:.1f} MB")
    print(f"FIGURE wal_after_truncate {wal_after / 1e6:.1f} MB")
    print(f"FIGURE conversations_kept {kept['conversations']} rows")
    print(f"FIGURE leads_kept {kept['leads']} rows")
    return 0


if __name__ == "__main__":
    sys.exit(main())
