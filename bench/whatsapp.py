"""The WhatsApp webhook under load: many patients at once, Meta's redeliveries and rate limits.

The real service (HTTP server, signed webhook, dialogue, SQLite, httpx Graph client) against the fake Graph
API from the tests, all on 127.0.0.1. Each patient behaves like a person: sends a message, waits for the
answer, sends the next. Every delivery is posted twice (Meta redelivers), and a share of sends is refused
once with 429. Figures: webhook acknowledgement time (what Meta waits for), time until the answer reaches
the Graph API, messages per second, duplicate answers, leads recorded, signature check cost.
Prints `FIGURE name value unit` lines for bench/run_all.py.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

from _stats import percentile  # bench/ is on sys.path when a benchmark runs

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import aiohttp  # noqa: E402

from bot.bootstrap import build_app  # noqa: E402
from bot.channels.whatsapp import GraphClient, setup_whatsapp  # noqa: E402
from bot.channels.whatsapp.signature import signature_valid  # noqa: E402
from bot.clock import FakeClock  # noqa: E402
from bot.config import load_settings  # noqa: E402
from bot.http.server import create_http_app, start_http  # noqa: E402
from tests.conftest import OPEN_TIME  # noqa: E402
from tests.fakes import meta_webhook as meta  # noqa: E402
from tests.fakes.graph_api import PHONE_NUMBER_ID, TOKEN, FakeGraphAPI  # noqa: E402
from tests.integration.whatsapp_harness import whatsapp_settings  # noqa: E402

SCRIPTS = [
    ["Здравствуйте, я Анна, хочу к лору утром, повторно, {phone}", "да", "да"],
    ["Добрый день", "хочу к терапевту", "да", "Игорь", "{phone}", "после обеда", "впервые", "всё верно"],
    ["а парковка у вас есть?", "спасибо"],
]


async def patient(
    n: int,
    url: str,
    http: aiohttp.ClientSession,
    graph: FakeGraphAPI,
    clock: FakeClock,
    acks: list[float],
    replies: list[float],
) -> None:
    wa_id = f"7927{n:07d}"
    script = SCRIPTS[n % len(SCRIPTS)]
    for text in script:
        expected = graph.count_to[wa_id] + 1
        body = meta.encode(
            meta.message_body(
                wa_id,
                meta.text(text.format(phone=f"8927{n:07d}")),
                timestamp=int(clock.now().timestamp()),
            )
        )
        headers = {"Content-Type": "application/json", "X-Hub-Signature-256": meta.sign(body)}
        start = time.perf_counter()
        for _ in range(2):  # Meta's redelivery of the same message
            posted = time.perf_counter()
            async with http.post(url, data=body, headers=headers) as response:
                await response.read()
                assert response.status == 200
            acks.append(time.perf_counter() - posted)
        await graph.wait_sent(wa_id, expected, timeout=60)
        replies.append(time.perf_counter() - start)


async def run(patients: int, concurrency: int, fail_share: float) -> None:
    graph = FakeGraphAPI()
    api_url = await graph.start()
    with tempfile.TemporaryDirectory() as tmp:
        settings = load_settings(
            data_dir=Path(tmp), knowledge_dir=ROOT / "knowledge", prompts_dir=ROOT / "prompts"
        )
        clock = FakeClock(OPEN_TIME)
        app = build_app(whatsapp_settings(settings, api_url), clock=clock)
        http_app = create_http_app(app)
        client = GraphClient(api_url, TOKEN, PHONE_NUMBER_ID, base_delay=0.05, max_delay=0.5)
        channel = setup_whatsapp(app, http_app, graph=client)
        runner, port = await start_http(http_app, "127.0.0.1", 0)
        url = f"http://127.0.0.1:{port}/webhook/whatsapp"
        acks: list[float] = []
        replies: list[float] = []
        rng = random.Random(7)
        original = graph.fail_next

        async def one(n: int, gate: asyncio.Semaphore, http: aiohttp.ClientSession) -> None:
            async with gate:
                if rng.random() < fail_share:
                    original(1)
                await patient(n, url, http, graph, clock, acks, replies)

        gate = asyncio.Semaphore(concurrency)
        start = time.perf_counter()
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency * 2)) as http:
            await asyncio.gather(*(one(n, gate, http) for n in range(patients)))
        await channel.drain()
        elapsed = time.perf_counter() - start
        messages = channel.counts["received"]
        leads = len(app.store.leads())
        unique = sum(len(SCRIPTS[n % len(SCRIPTS)]) for n in range(patients))
        processed_twice = messages - unique
        expected_leads = sum(1 for n in range(patients) if n % len(SCRIPTS) in (0, 1))
        await runner.cleanup()
        app.close()
    await graph.stop()

    ack_ms = [a * 1000 for a in acks]
    reply_ms = [r * 1000 for r in replies]
    print(
        f"whatsapp: {patients} patients ({concurrency} at once), {messages} messages, each delivered twice; "
        f"{graph.requests} Graph calls, {client.retries} retries after 429"
    )
    print(
        f"  webhook ack: p50 {statistics.median(ack_ms):.1f} ms, p99 {percentile(ack_ms, 99):.1f} ms; "
        f"answer at Graph: p50 {statistics.median(reply_ms):.1f} ms, p99 {percentile(reply_ms, 99):.1f} ms"
    )
    print(
        f"  {messages / elapsed:.0f} msg/s; duplicate deliveries skipped {channel.counts['duplicate']}, "
        f"processed twice {processed_twice}; leads {leads}/{expected_leads}"
    )
    print(f"FIGURE whatsapp.ack_p50 {statistics.median(ack_ms):.1f} ms")
    print(f"FIGURE whatsapp.ack_p99 {percentile(ack_ms, 99):.1f} ms")
    print(f"FIGURE whatsapp.reply_p50 {statistics.median(reply_ms):.1f} ms")
    print(f"FIGURE whatsapp.reply_p99 {percentile(reply_ms, 99):.1f} ms")
    print(f"FIGURE whatsapp.msg_per_s {messages / elapsed:.0f} msg/s")
    print(
        f"FIGURE whatsapp.duplicate_share_skipped {channel.counts['duplicate'] / max(1, messages):.2f} ratio"
    )
    print(f"FIGURE whatsapp.leads_recorded {leads / max(1, expected_leads):.2f} ratio")


def signature_cost(rounds: int) -> None:
    body = meta.encode(meta.message_body("79123456789", meta.text("Здравствуйте! " * 20), timestamp=0))
    header = meta.sign(body)
    start = time.perf_counter()
    for _ in range(rounds):
        signature_valid(body, header, meta.APP_SECRET)
    per = (time.perf_counter() - start) / rounds * 1e6
    print(f"signature check of a {len(body)}-byte body: {per:.1f} µs")
    print(f"FIGURE whatsapp.signature_check {per:.1f} us")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer patients (for make bench / CI)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)  # the retries after 429 are expected here
    patients, concurrency = (30, 10) if args.quick else (300, 50)
    asyncio.run(run(patients, concurrency, fail_share=0.1))
    signature_cost(2000 if args.quick else 20000)


if __name__ == "__main__":
    main()
