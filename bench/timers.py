"""Timers: the morning after a busy night — 10,000 silent patients' reminders and unconfirmed rows due at once.

Each conversation is mid-booking with a phone and consent, silent since the evening; at 09:00 the scheduler
sends every reminder and records every unconfirmed lead (outbox to the CSV). Figures: time to find a batch of
due conversations, the drain time and rate, per-conversation p99, and leads written exactly once.
Prints `FIGURE name value unit` lines for bench/run_all.py.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.bootstrap import build_app  # noqa: E402
from bot.clock import FakeClock  # noqa: E402
from bot.config import load_settings  # noqa: E402
from bot.dialogue.messages import Address, Incoming, Outgoing  # noqa: E402
from bot.notify import AdminNotifier, PatientMessenger  # noqa: E402
from bot.scheduler import TimerRules, format_due, tick  # noqa: E402
from bot.storage.state_store import StateStore  # noqa: E402
from sheets.schema import Lead  # noqa: E402


class CountingMessenger(PatientMessenger):
    channel = "telegram"

    def __init__(self) -> None:
        self.sent = 0

    async def send(self, address: Address, messages: Sequence[Outgoing]) -> bool:
        self.sent += 1
        return True


class QuietNotifier(AdminNotifier):
    def __init__(self) -> None:
        self.leads = 0

    async def lead(self, lead: Lead, address: Address, *, updated: bool = False) -> None:
        self.leads += 1

    async def handoff(self, address: Address, reason: str, recent: Sequence[str]) -> None: ...

    async def relay(self, address: Address, text: str) -> None: ...

    async def warn(self, text: str) -> None: ...


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q / 100))]


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="2,000 conversations instead of 10,000")
    args = parser.parse_args()
    count = 2_000 if args.quick else 10_000
    evening = datetime(2026, 11, 23, 20, 40, tzinfo=UTC) - timedelta(hours=4)  # 20:40 in Samara
    with tempfile.TemporaryDirectory() as tmp:
        settings = load_settings(
            data_dir=Path(tmp), knowledge_dir=ROOT / "knowledge", prompts_dir=ROOT / "prompts"
        )
        clock = FakeClock(evening)
        notifier = QuietNotifier()
        app = build_app(settings, clock=clock, notifier=notifier)
        messenger = CountingMessenger()
        app.messengers.register(messenger)
        rules = TimerRules.from_settings(settings)
        seed = Address("telegram", "seed", "@seed")
        for text in ("хочу к лору", "да", "Мария", "89123456789"):
            await app.service.handle(seed, Incoming(text=text))
        state = app.store.load(seed)
        with app.db.transaction() as conn:
            conn.execute("DELETE FROM conversations")
            for i in range(count):
                address = Address("telegram", str(20_000_000 + i), f"@p{i}")
                due = rules.due_at(state, evening)
                StateStore._write_state(conn, address, state, format_due(evening), due)
        clock.set(datetime(2026, 11, 24, 9, 0, tzinfo=UTC) - timedelta(hours=4))  # 09:00 next morning
        began = time.perf_counter()
        app.store.due(format_due(clock.now()), limit=100)
        find_ms = (time.perf_counter() - began) * 1000
        per_conversation: list[float] = []
        began = time.perf_counter()
        while True:
            start = time.perf_counter()
            result = await tick(app, rules, limit=100)
            if result.due:
                per_conversation.append((time.perf_counter() - start) * 1000 / result.due)
            if result.due < 100:
                break
        drain = time.perf_counter() - began
        await app.flusher.flush()
        rows = app.sinks["csv"].read_all()
        unique = len({row.id for row in rows})
        app.close()
    print(
        f"{count} due conversations: batch found in {find_ms:.1f} ms, drained in {drain:.1f} s "
        f"({count / drain:.0f}/s), per conversation median {statistics.median(per_conversation):.2f} ms, "
        f"reminders {messenger.sent}, unconfirmed rows {len(rows)} ({unique} unique), alerts {notifier.leads}"
    )
    print(f"FIGURE timers.conversations {count} due")
    print(f"FIGURE timers.find_batch {find_ms:.1f} ms")
    print(f"FIGURE timers.drain {drain:.1f} s")
    print(f"FIGURE timers.rate {count / drain:.0f} conv/s")
    print(f"FIGURE timers.per_conversation_p99 {percentile(per_conversation, 99):.2f} ms")
    print(f"FIGURE timers.reminders_sent {messenger.sent / count:.2f} ratio")
    print(f"FIGURE timers.unconfirmed_rows_exactly_once {int(len(rows) == unique == count)} bool")


if __name__ == "__main__":
    asyncio.run(main())
