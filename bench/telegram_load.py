"""N Telegram patients writing at once, through the fake Bot API, answered by the real aiogram bot.

The fake Bot API runs in a child process (so the bot's CPU time is its own) and stamps each update when it is
queued and each reply when it arrives; the bot runs here with long polling, the offline engine and the
SQLite state, as `run` does. Two rounds: every patient writes "Здравствуйте, хочу к лору", then, once all
were answered, "да". Prints p50/p95/max from a patient's message to the bot's first reply (and to "typing…"),
updates per second, the bot's CPU time per message and its resident memory after the burst (its worker
processes' included), as
`FIGURE name value unit` lines. Each size runs with TELEGRAM_WORKERS=1 and 2 (one process, or the main
process and one worker: the target, 1,000 patients at once with p95 <= 1 s on two cores, needs both cores).

    .venv/bin/python bench/telegram_load.py              # 100 and 1,000 patients, 1 and 2 processes
    .venv/bin/python bench/telegram_load.py --quick      # 100 patients
    .venv/bin/python bench/telegram_load.py -n 1000 --spread 0 --workers 2
    .venv/bin/python bench/telegram_load.py -n 1000 --debounce 1.2
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

from bot import event_loop, heap  # noqa: E402
from bot.bootstrap import build_app  # noqa: E402
from bot.channels.telegram import build_admin_notifier, build_bot, setup_telegram  # noqa: E402
from bot.clock import SystemClock  # noqa: E402
from bot.config import load_settings  # noqa: E402
from bot.storage.checkpoints import keep_checkpointing  # noqa: E402
from tests.fakes.bot_api import TOKEN, FakeBotApi, Sent  # noqa: E402

ADMIN_CHAT = -100500
ROUNDS = ("Здравствуйте, хочу к лору", "да")
FIRST_CHAT = 10_000_000


# --- the fake Bot API's process ------------------------------------------------------------------


async def _fake(conn: Connection, patients: int, timeout: float, spread: float) -> None:
    api = await FakeBotApi().start()
    api.members[ADMIN_CHAT] = {1}
    queued: dict[int, float] = {}
    replied: dict[int, float] = {}
    typing: dict[int, float] = {}

    def on_send(sent: Sent) -> None:
        if sent.chat_id in queued and sent.chat_id not in replied:
            replied[sent.chat_id] = time.perf_counter()

    api.on_send = on_send
    original_action = api._m_sendchataction

    async def on_action(params: dict[str, Any]) -> Any:
        chat = int(params["chat_id"])
        if chat in queued and chat not in typing:
            typing[chat] = time.perf_counter()
        return await original_action(params)

    api._m_sendchataction = on_action  # type: ignore[method-assign]
    conn.send(api.port)
    # warm-up (not measured): a running service has its connections open and its models built
    for i in range(20):
        api.message(FIRST_CHAT - 1 - i, ROUNDS[0])
    while len({s.chat_id for s in api.sent}) < 20:
        await asyncio.sleep(0.01)
    results = []
    for text in ROUNDS:
        await asyncio.get_running_loop().run_in_executor(None, conn.recv)  # "go"
        queued.clear()
        replied.clear()
        typing.clear()
        cpu = time.process_time()
        started = time.perf_counter()
        for i in range(patients):
            chat = FIRST_CHAT + i
            if spread:  # patients arrive evenly over `spread` seconds instead of all in the same instant
                delay = started + spread * i / patients - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
            api.message(chat, text)
            queued[chat] = time.perf_counter()
        deadline = time.monotonic() + timeout
        while len(replied) < patients and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        elapsed = time.perf_counter() - started
        latencies = sorted(replied[c] - queued[c] for c in replied)
        typings = sorted(typing[c] - queued[c] for c in typing)
        results.append(
            {
                "latencies": latencies,
                "typing": typings,
                "elapsed": elapsed,
                "answered": len(replied),
                "fake_cpu": time.process_time() - cpu,
            }
        )
        conn.send(results[-1])
    await asyncio.get_running_loop().run_in_executor(None, conn.recv)  # the bot has stopped
    await api.stop()


def _fake_main(conn: Connection, patients: int, timeout: float, spread: float) -> None:
    asyncio.run(_fake(conn, patients, timeout, spread))


# --- the bot (this process) -----------------------------------------------------------------------


def _process_cpu(pid: int) -> float:
    """Seconds of CPU a process has used (Linux /proc; 0 elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _bot_cpu(runtime: Any) -> float:
    """This process's CPU time and its Telegram workers'."""
    shards = runtime.shards
    pids = [w.process.pid for w in shards.workers.values() if w.process] if shards else []
    return time.process_time() + sum(_process_cpu(pid) for pid in pids)


def _process_rss_mb(pid: int) -> float:
    """A process's resident memory now, in MB (Linux /proc; 0 elsewhere)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0.0
    line = next((x for x in status.splitlines() if x.startswith("VmRSS:")), "VmRSS: 0 kB")
    return int(line.split()[1]) / 1024


def _bot_rss_mb(runtime: Any) -> float:
    """This process's resident memory and its Telegram workers', after the burst."""
    shards = runtime.shards
    pids = [w.process.pid for w in shards.workers.values() if w.process] if shards else []
    return sum(_process_rss_mb(pid) for pid in [os.getpid(), *pids])


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    index = min(len(values) - 1, max(0, round(q * (len(values) - 1))))
    return values[index]


async def _bot(
    port: int, conn: Connection, patients: int, debounce: float, data: Path, workers: int
) -> list[dict[str, Any]]:
    settings = load_settings(
        data_dir=data,
        knowledge_dir=ROOT / "knowledge",
        prompts_dir=ROOT / "prompts",
        telegram_bot_token=TOKEN,
        telegram_api_url=f"http://127.0.0.1:{port}",
        admin_chat_id=ADMIN_CHAT,
        telegram_debounce=f"{debounce}s",
        telegram_workers=workers,
        quiet_hours="",
    )
    bot = build_bot(settings)
    clock = SystemClock()
    notifier = build_admin_notifier(bot, settings, clock)
    app = build_app(settings, clock=clock, notifier=notifier)
    runtime = setup_telegram(app, bot, notifier)
    checkpoints = asyncio.create_task(keep_checkpointing(app.db))  # as `run` does
    await runtime.prepare()
    app.warm_up()  # as `run` does once everything listens
    heap.tune()
    heap.settle()
    await runtime.start_polling(polling_timeout=1)
    loop = asyncio.get_running_loop()
    rounds = []
    try:
        for _ in ROUNDS:
            cpu = _bot_cpu(runtime)
            conn.send("go")
            result: dict[str, Any] = await loop.run_in_executor(None, conn.recv)
            await runtime.channel.drain()
            result["cpu"] = _bot_cpu(runtime) - cpu
            result["rss_mb"] = _bot_rss_mb(runtime)
            rounds.append(result)
    finally:
        checkpoints.cancel()
        await runtime.stop(timeout=10)
        app.close()
        conn.send("bye")
    return rounds


def run(
    patients: int, debounce: float, timeout: float, spread: float = 0.0, workers: int = 1
) -> dict[str, float]:
    ctx = mp.get_context("spawn")
    ours, theirs = ctx.Pipe()
    child = ctx.Process(target=_fake_main, args=(theirs, patients, timeout, spread), daemon=True)
    child.start()
    port = ours.recv()
    with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_TMP")) as tmp:
        rounds = event_loop.run(_bot(port, ours, patients, debounce, Path(tmp), workers))  # as `run` does
    child.join(10)
    latencies = sorted(x for r in rounds for x in r["latencies"])
    typings = sorted(x for r in rounds for x in r["typing"])
    messages = patients * len(rounds)
    answered = sum(r["answered"] for r in rounds)
    elapsed = sum(r["elapsed"] for r in rounds)
    cpu = sum(r["cpu"] for r in rounds)
    return {
        "answered": answered / messages,
        "p50": percentile(latencies, 0.50),
        "p95": percentile(latencies, 0.95),
        "p99": percentile(latencies, 0.99),
        "max": latencies[-1] if latencies else float("nan"),
        "updates_per_s": answered / elapsed if elapsed else 0.0,
        "cpu_ms_per_message": 1000 * cpu / messages,
        "fake_cpu_ms_per_message": 1000 * sum(r["fake_cpu"] for r in rounds) / messages,
        "mean": statistics.fmean(latencies) if latencies else float("nan"),
        "typing_shown": len(typings) / messages,
        "typing_p95": percentile(typings, 0.95),
        "rss_mb": max(r["rss_mb"] for r in rounds),
    }


def report(n: int, spread: float, workers: int, r: dict[str, float]) -> None:
    how = "all at once" if not spread else f"over {spread:g} s"
    print(
        f"  {n:>5} patients {how}, {workers} process(es): answered {r['answered']:.1%}, "
        f"first reply p50 {r['p50'] * 1000:.0f} ms, p95 {r['p95'] * 1000:.0f} ms, p99 {r['p99'] * 1000:.0f} ms, "
        f"max {r['max'] * 1000:.0f} ms; {r['updates_per_s']:.0f} updates/s; "
        f"bot CPU {r['cpu_ms_per_message']:.2f} ms/message (the fake Bot API's {r['fake_cpu_ms_per_message']:.2f}); "
        f"bot RSS {r['rss_mb']:.0f} MB"
    )
    if r["typing_shown"]:  # with a debounce window "typing…" is the first sign of life
        print(
            f"        typing… shown to {r['typing_shown']:.0%} of messages, "
            f"p95 {r['typing_p95'] * 1000:.0f} ms after the message"
        )
    tag = f"tg_{n}" + (f"_over_{spread:g}s" if spread else "_burst") + f"_{workers}proc"
    print(f"FIGURE {tag}_answered {r['answered'] * 100:.1f} %")
    print(f"FIGURE {tag}_reply_p50 {r['p50'] * 1000:.0f} ms")
    print(f"FIGURE {tag}_reply_p95 {r['p95'] * 1000:.0f} ms")
    print(f"FIGURE {tag}_reply_max {r['max'] * 1000:.0f} ms")
    print(f"FIGURE {tag}_updates_per_s {r['updates_per_s']:.0f} 1/s")
    print(f"FIGURE {tag}_cpu_per_message {r['cpu_ms_per_message']:.2f} ms")
    print(f"FIGURE {tag}_rss {r['rss_mb']:.0f} MB")
    if r["typing_shown"]:
        print(f"FIGURE {tag}_typing_p95 {r['typing_p95'] * 1000:.0f} ms")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", "--patients", type=int, action="append", help="patients (repeatable)")
    parser.add_argument("--quick", action="store_true", help="100 patients only")
    parser.add_argument(
        "--debounce", type=float, default=0.0, help="TELEGRAM_DEBOUNCE in seconds (default 0)"
    )
    parser.add_argument("--timeout", type=float, default=120.0)
    parser.add_argument(
        "--workers",
        type=int,
        action="append",
        help="TELEGRAM_WORKERS: processes answering patients (repeatable; default 1 and 2)",
    )
    parser.add_argument(
        "--spread",
        type=float,
        action="append",
        help="seconds over which the patients' messages arrive (repeatable)",
    )
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    sizes = args.patients or ([100] if args.quick else [100, 1000])
    spreads = args.spread or ([0.0] if args.quick else [0.0, 10.0])
    print(
        f"Telegram load: {len(ROUNDS)} rounds, debounce {args.debounce:g} s, offline engine, fake Bot API, "
        f"{event_loop.loop_name()} event loop"
    )
    for workers in args.workers or [1, 2]:
        for n in sizes:
            for spread in spreads:
                report(n, spread, workers, run(n, args.debounce, args.timeout, spread, workers))
    return 0


if __name__ == "__main__":
    sys.exit(main())
