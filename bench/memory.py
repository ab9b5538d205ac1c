"""Memory: RSS of the service with 10,000 stored conversations, loaded and answered (target ≤ 200 MB).

Realistic states (history, bookings at every stage, confirmed leads) are made by the real service for a few
dozen patients, then copied to 10,000 conversations in the SQLite record. The figures: RSS after start,
after storing, after loading every state, after one more message in each conversation (all of them; with
--quick 2,000), the peak, and the database size. Prints `FIGURE name value unit` lines for bench/run_all.py.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.bootstrap import App, build_app  # noqa: E402
from bot.clock import FakeClock  # noqa: E402
from bot.config import load_settings  # noqa: E402
from bot.dialogue.messages import Address, Incoming  # noqa: E402
from bot.dialogue.state import ConversationState  # noqa: E402
from bot.storage.state_store import StateStore  # noqa: E402

CONVERSATIONS = 10_000
TARGET_MB = 200
SCRIPTS = [
    ["Здравствуйте", "хочу к лору", "да", "Мария", "89123456789", "до 14", "впервые", "да"],
    ["Я Ольга, хочу к кардиологу после обеда, впервые, 89271234567", "да"],
    ["где вы находитесь?", "сколько стоит приём терапевта?", "хочу записаться к Смирновой", "да", "Анна"],
    ["болит ухо", "да", "Ирина", "8 912 000 11 22"],
    ["добрый вечер", "а парковка у вас есть?", "спасибо"],
]


def rss_mb() -> float:
    with open("/proc/self/statm") as fh:
        pages = int(fh.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def seed_states(app: App) -> list[ConversationState]:
    states = []
    for n in range(40):
        who = Address("telegram", f"seed{n}", f"@seed{n}")
        for text in SCRIPTS[n % len(SCRIPTS)]:
            await app.service.handle(who, Incoming(text=text))
        states.append(app.store.load(who))
    return states


def store_copies(app: App, states: list[ConversationState], count: int) -> None:
    now = app.clock.now().isoformat(timespec="milliseconds")
    for start in range(0, count, 1000):
        with app.db.transaction() as conn:
            for i in range(start, min(count, start + 1000)):
                address = Address("telegram", str(10_000_000 + i), f"@patient{i}")
                StateStore._write_state(conn, address, states[i % len(states)], now, "")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="answer 2,000 conversations instead of all")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        settings = load_settings(
            data_dir=Path(tmp), knowledge_dir=ROOT / "knowledge", prompts_dir=ROOT / "prompts"
        )
        app = build_app(settings, clock=FakeClock())
        states = await seed_states(app)
        start_rss = rss_mb()
        store_copies(app, states, CONVERSATIONS)
        stored_rss = rss_mb()
        keys = [f"telegram:{10_000_000 + i}" for i in range(CONVERSATIONS)]
        loaded = [app.store.find(key) for key in keys]
        assert all(item is not None for item in loaded)
        loaded_rss = rss_mb()
        del loaded
        answered = 2_000 if args.quick else CONVERSATIONS
        began = time.perf_counter()
        for i in range(answered):
            who = Address("telegram", str(10_000_000 + i), f"@patient{i}")
            await app.service.handle(who, Incoming(text="а во сколько вы открываетесь?"))
        took = time.perf_counter() - began
        handled_rss = rss_mb()
        db_mb = sum(p.stat().st_size for p in Path(tmp).glob("state.sqlite3*")) / 2**20
        app.close()
    print(
        f"{CONVERSATIONS} conversations: RSS start {start_rss:.1f} MB, stored {stored_rss:.1f} MB, "
        f"all loaded {loaded_rss:.1f} MB, {answered} answered {handled_rss:.1f} MB "
        f"({answered / took:.0f} msg/s), peak {peak_mb():.1f} MB (target ≤ {TARGET_MB} MB); db {db_mb:.1f} MB"
    )
    print(f"FIGURE memory.rss_start {start_rss:.1f} MB")
    print(f"FIGURE memory.rss_10k_stored {stored_rss:.1f} MB")
    print(f"FIGURE memory.rss_10k_loaded {loaded_rss:.1f} MB")
    print(f"FIGURE memory.answered {answered} conversations")
    print(f"FIGURE memory.rss_after_answering {handled_rss:.1f} MB")
    print(f"FIGURE memory.answer_rate {answered / took:.0f} msg/s")
    print(f"FIGURE memory.peak_rss {peak_mb():.1f} MB")
    print(f"FIGURE memory.peak_within_target {int(peak_mb() <= TARGET_MB)} bool(≤{TARGET_MB}MB)")
    print(f"FIGURE memory.state_db_10k {db_mb:.1f} MB")


if __name__ == "__main__":
    asyncio.run(main())
