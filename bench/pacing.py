"""N Telegram patients writing at once, under Telegram's limits enforced by the fake Bot API (429 over them).

The fake Bot API runs in a child process (`bench/telegram_load.py`'s set-up) with `enforce_limits()`: about
30 messages a second for the bot, about one a second to a chat (short bursts allowed), 20 a minute to a
group. The bot runs here as `run` does (long polling, offline engine, SQLite, TELEGRAM_DEBOUNCE as given).
For the first round (every patient writes "Здравствуйте, хочу к лору" at the same instant) it prints:
- the share of Bot API calls refused with 429 (goal <= 1 %);
- the last patient's first reply against the physical floor: the messages sent until then / 30 a second
  (goal <= 1.2x; the debounce window is part of the wait);
- the median wait of the first and of the last 50 patients to write (first come, first served);
as `FIGURE name value unit` lines; then the same burst unpaced (TELEGRAM_RATE=0, TELEGRAM_CHAT_RATE=0) to
show what the pace saves.

    .venv/bin/python bench/pacing.py                 # 300 and 1,000 patients, paced and unpaced
    .venv/bin/python bench/pacing.py -n 300 --paced-only
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import multiprocessing as mp
import os
import statistics
import sys
import tempfile
import time
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.telegram_load import ADMIN_CHAT, FIRST_CHAT, ROUNDS, _bot  # noqa: E402
from bot import event_loop  # noqa: E402
from tests.fakes.bot_api import FakeBotApi, Sent  # noqa: E402

RATE = 30.0  # Telegram's messages a second for one bot: the floor's rate
SENDING = ("send", "edit", "copy", "forward", "answercallbackquery")


async def _fake(conn: Connection, patients: int, timeout: float) -> None:
    api = await FakeBotApi().start()
    api.members[ADMIN_CHAT] = {1}
    limits = api.enforce_limits()
    queued: dict[int, float] = {}
    replied: dict[int, float] = {}
    sends_at_reply: dict[int, int] = {}
    counted = [0]

    def on_send(sent: Sent) -> None:
        counted[0] += 1
        if sent.chat_id in queued and sent.chat_id not in replied:
            replied[sent.chat_id] = time.perf_counter()
            sends_at_reply[sent.chat_id] = counted[0]

    api.on_send = on_send
    conn.send(api.port)
    for i in range(20):  # warm-up (not measured), then the budgets fill up again
        api.message(FIRST_CHAT - 1 - i, ROUNDS[0])
    while len({s.chat_id for s in api.sent}) < 20:
        await asyncio.sleep(0.01)
    await asyncio.sleep(limits.bot_burst / limits.per_bot + 1.0)
    for _ in ROUNDS:
        await asyncio.get_running_loop().run_in_executor(None, conn.recv)  # "go"
        queued.clear()
        replied.clear()
        sends_at_reply.clear()
        counted[0] = 0
        calls_before, refused_before = len(api.calls), len(api.refused)
        started = time.perf_counter()
        for i in range(patients):
            chat = FIRST_CHAT + i
            api.message(chat, ROUNDS[0] if _ is ROUNDS[0] else ROUNDS[1])
            queued[chat] = time.perf_counter()
        deadline = time.monotonic() + timeout
        while len(replied) < patients and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        await asyncio.sleep(1.0)  # what is still under way (typing, retries) is counted too
        calls = [name for name, _p in api.calls[calls_before:] if name.lower().startswith(SENDING)]
        waits = [replied[c] - queued[c] if c in replied else float("inf") for c in sorted(queued)]
        last = max(replied.values(), default=started) - started
        conn.send(
            {
                "answered": len(replied),
                "calls": len(calls),
                "refused": len(api.refused) - refused_before,
                "last": last,
                "sent_until_last": max(sends_at_reply.values(), default=0),
                "first50": statistics.median(waits[:50]),
                "last50": statistics.median(waits[-50:]),
                "p50": statistics.median(waits),
                "typing": sum(1 for name in calls if name == "sendChatAction"),
            }
        )
    await asyncio.get_running_loop().run_in_executor(None, conn.recv)  # the bot has stopped
    await api.stop()


def _fake_main(conn: Connection, patients: int, timeout: float) -> None:
    asyncio.run(_fake(conn, patients, timeout))


def run(patients: int, *, paced: bool, debounce: float, timeout: float) -> dict[str, Any]:
    names = ("TELEGRAM_RATE", "TELEGRAM_CHAT_RATE", "TELEGRAM_GROUP_RATE")
    saved = {n: os.environ.get(n) for n in names}
    if paced:
        for n in names:
            os.environ.pop(n, None)  # production's defaults
    else:
        os.environ.update(dict.fromkeys(names, "0"))
    ctx = mp.get_context("spawn")
    ours, theirs = ctx.Pipe()
    child = ctx.Process(target=_fake_main, args=(theirs, patients, timeout), daemon=True)
    child.start()
    port = ours.recv()
    try:
        with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_TMP")) as tmp:
            rounds = event_loop.run(_bot(port, ours, patients, debounce, Path(tmp), 1))
    finally:
        for n, v in saved.items():
            if v is None:
                os.environ.pop(n, None)
            else:
                os.environ[n] = v
    child.join(10)
    return rounds[0]


def report(n: int, paced: bool, r: dict[str, Any]) -> None:
    floor = r["sent_until_last"] / RATE
    share = r["refused"] / r["calls"] if r["calls"] else 0.0
    how = "paced" if paced else "unpaced"
    print(
        f"  {n:>5} patients at once, {how}: answered {r['answered']}/{n}; 429 {r['refused']} of {r['calls']} "
        f"calls ({share:.1%}); last first reply {r['last']:.1f} s, floor {floor:.1f} s "
        f"({r['sent_until_last']} messages / {RATE:g} a second), x{r['last'] / floor if floor else 0:.2f}; "
        f"median wait first 50 {r['first50']:.2f} s, last 50 {r['last50']:.2f} s, all {r['p50']:.2f} s; "
        f"typing shown {r['typing']}"
    )
    tag = f"pacing_{n}_{how}"
    print(f"FIGURE {tag}_answered {100 * r['answered'] / n:.1f} %")
    print(f"FIGURE {tag}_429_share {100 * share:.2f} %")
    print(f"FIGURE {tag}_last_first_reply {r['last']:.2f} s")
    print(f"FIGURE {tag}_floor {floor:.2f} s")
    print(f"FIGURE {tag}_last_over_floor {r['last'] / floor if floor else 0:.2f} x")
    print(f"FIGURE {tag}_first50_median {r['first50']:.2f} s")
    print(f"FIGURE {tag}_last50_median {r['last50']:.2f} s")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", "--patients", type=int, action="append", help="patients (repeatable)")
    parser.add_argument("--debounce", type=float, default=1.2, help="TELEGRAM_DEBOUNCE, s (default 1.2)")
    parser.add_argument("--timeout", type=float, default=240.0)
    parser.add_argument("--paced-only", action="store_true", help="leave out the unpaced comparison")
    args = parser.parse_args()
    logging.basicConfig(
        level=logging.CRITICAL
    )  # unpaced, every refused send is an error line: counted instead
    print(f"Telegram pacing: Telegram's limits enforced by the fake Bot API, debounce {args.debounce:g} s")
    for n in args.patients or [300, 1000]:
        for paced in (True,) if args.paced_only else (True, False):
            report(n, paced, run(n, paced=paced, debounce=args.debounce, timeout=args.timeout))
    return 0


if __name__ == "__main__":
    sys.exit(main())
