"""A burst of confirmed leads through the durable outbox into a fake Google Sheet (real gspread + google-auth).

Scenario `at_once`: N leads committed at the same moment, then the flusher drains them.
Scenario `trickle`: leads arrive at a steady rate while `run_forever` runs (each arrival wakes it, as the
service does), with Google's write quota (60/min) enforced by the fake server and a few injected 429/503.
Figures: write calls used, rows per append, time to drain, rows/s, p50/p99 lead-to-sheet latency, losses and
duplicates (both must be 0). Prints `FIGURE name value unit` lines.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from _stats import percentile  # bench/ is on sys.path when a benchmark runs

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.clock import SystemClock  # noqa: E402
from bot.storage.db import Database  # noqa: E402
from sheets.google import GoogleSheetsSink  # noqa: E402
from sheets.outbox import Outbox, OutboxFlusher  # noqa: E402
from sheets.schema import Lead  # noqa: E402
from sheets.setup import init_sheet  # noqa: E402
from tests.fakes.sheets_api import FakeSheetsApi, write_credentials  # noqa: E402

SHEET = "bench-sheet"


class TimedSink(GoogleSheetsSink):
    """Records when each lead's append call returned."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.landed: dict[str, float] = {}

    def append(self, leads: Sequence[Lead]) -> None:
        super().append(leads)
        now = time.perf_counter()
        for lead in leads:
            self.landed.setdefault(lead.id, now)


def make_lead(n: int) -> Lead:
    return Lead(
        f"B{n:07d}",
        "2026-11-23 10:00",
        "Анна",
        "+79123456789",
        "Смирнова Елена Викторовна (ЛОР)",
        "до 14:00",
        "первичное",
        "telegram",
        f"@user{n}",
        "болит ухо, =HYPERLINK() проверка",
    )


async def scenario(name: str, count: int, rate: float | None, faults: bool, work: Path) -> None:
    with FakeSheetsApi() as api:
        api.add_spreadsheet(SHEET, sheets=("Обращения", "Врачи"))
        api.latency = 0.03  # a round trip to Google is not free
        sink = TimedSink(SHEET, write_credentials(api, work), api_url=api.base_url, writes_per_minute=60)
        init_sheet(sink, [])
        api.write_quota = 60
        before = api.writes()
        reads_before = api.calls["get"]
        appends_before = api.calls["append"]
        db = Database(work / f"{name}.sqlite3")
        outbox = Outbox(db, ["sheets"])
        flusher = OutboxFlusher(outbox, {"sheets": sink}, SystemClock(), base_delay=0.2, max_delay=2.0)
        committed: dict[str, float] = {}
        start = time.perf_counter()
        task = asyncio.create_task(flusher.run_forever(interval=0.5))
        for n in range(count):
            lead = make_lead(n)
            with db.transaction() as conn:
                outbox.enqueue(conn, "append", lead, "")
            committed[lead.id] = time.perf_counter()
            if faults and n in (count // 4, count // 2):
                api.fail_next(1, 429 if n == count // 4 else 503)
            if rate:
                flusher.wakeup.set()
                await asyncio.sleep(1 / rate)
        flusher.wakeup.set()
        while outbox.backlog():
            await asyncio.sleep(0.01)
        drained = time.perf_counter() - start
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        db.close()
        ids = [row[0] for row in api.values(SHEET, "Обращения")[1:]]
        appends = api.calls["append"] - appends_before
        latency = [(sink.landed[i] - committed[i]) * 1000 for i in committed if i in sink.landed]
        print(f"FIGURE sheets.{name}.leads {count} leads")
        print(f"FIGURE sheets.{name}.write_calls {api.writes() - before} calls")
        print(f"FIGURE sheets.{name}.read_calls {api.calls['get'] - reads_before} calls")
        print(f"FIGURE sheets.{name}.rows_per_append {len(ids) / max(appends, 1):.1f} rows")
        print(f"FIGURE sheets.{name}.drain_time {drained:.2f} s")
        print(f"FIGURE sheets.{name}.rows_per_s {len(ids) / drained:.0f} rows/s")
        print(f"FIGURE sheets.{name}.latency_p50 {statistics.median(latency):.0f} ms")
        print(f"FIGURE sheets.{name}.latency_p99 {percentile(latency, 99):.0f} ms")
        print(f"FIGURE sheets.{name}.server_refusals {api.calls['quota_refused']} calls")
        print(f"FIGURE sheets.{name}.lost {len(set(committed) - set(ids))} leads")
        print(f"FIGURE sheets.{name}.duplicates {len(ids) - len(set(ids))} rows")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer leads, for CI")
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        await scenario("at_once", 200 if args.quick else 1000, None, False, work)
        await scenario("trickle", 100 if args.quick else 500, 100.0, True, work)


if __name__ == "__main__":
    asyncio.run(main())
