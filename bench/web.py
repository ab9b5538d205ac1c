"""The site widget under load: many browser sessions at once over the WebSocket and the HTTP fallback.

The real service (HTTP server, widget channel, dialogue, SQLite) on 127.0.0.1; each simulated visitor opens
the widget (hello + greeting), books like a person (waits for each answer) and half of them are then
answered by an administrator, measured until the message reaches the open widget. Figures: time to the
greeting, answer time over the WebSocket and the fallback, administrator's reply delivery, messages per
second, leads recorded, what the default limits let through from a flooding script, the widget's size.
Prints `FIGURE name value unit` lines for bench/run_all.py.
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import json
import logging
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _stats import percentile  # bench/ is on sys.path when a benchmark runs

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import aiohttp  # noqa: E402

from bot.bootstrap import App, build_app  # noqa: E402
from bot.channels.web import WebLimits, setup_web  # noqa: E402
from bot.channels.web.server import STATIC_DIR  # noqa: E402
from bot.channels.web.sessions import session_key  # noqa: E402
from bot.clock import FakeClock  # noqa: E402
from bot.config import load_settings  # noqa: E402
from bot.dialogue.messages import Outgoing  # noqa: E402
from bot.http.server import create_http_app, start_http  # noqa: E402
from tests.conftest import OPEN_TIME  # noqa: E402

SITE = "https://clinic.example.ru"
SCRIPT = ["Здравствуйте, я Анна, хочу к лору утром, повторно, {phone}", "да", "да"]
BROWSING = ["а парковка у вас есть?", "сколько стоит приём терапевта?", "спасибо"]
NO_LIMITS = WebLimits(session_burst=10**6, ip_burst=10**6, new_sessions_burst=10**6, sockets_per_ip=10**6)


async def ws_visitor(
    n: int, url: str, http: aiohttp.ClientSession, app: App, out: dict[str, list[float]]
) -> None:
    started = time.perf_counter()
    ws = await http.ws_connect(url + "/ws", headers={"Origin": SITE})
    await ws.send_json({"type": "hello", "token": None})
    hello = await ws.receive_json()
    await ws.send_json({"type": "start"})
    await _bot_answer(ws)
    out["greeting"].append(time.perf_counter() - started)
    script = SCRIPT if n % 2 == 0 else BROWSING
    for text in script:
        sent = time.perf_counter()
        await ws.send_json({"type": "message", "text": text.format(phone=f"8927{n:07d}")})
        await _bot_answer(ws)
        out["ws"].append(time.perf_counter() - sent)
    if n % 2 == 1:
        sent = time.perf_counter()
        await app.service.admin_reply(
            f"web:{session_key(hello['token'])}", [Outgoing("Здравствуйте, это администратор.")]
        )
        await _bot_answer(ws)
        out["admin"].append(time.perf_counter() - sent)
    await ws.close()


async def _bot_answer(ws: aiohttp.ClientWebSocketResponse) -> list[dict[str, Any]]:
    while True:
        frame = await ws.receive_json(timeout=60)
        if frame["type"] == "error":
            raise RuntimeError(frame)
        if frame["type"] == "messages" and frame["messages"][-1]["from"] == "bot":
            return list(frame["messages"])


async def post(http: aiohttp.ClientSession, url: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    headers = {"Origin": SITE, "Content-Type": "text/plain;charset=UTF-8"}
    async with http.post(url, data=json.dumps(body), headers=headers) as response:
        return response.status, await response.json()


async def http_visitor(n: int, url: str, http: aiohttp.ClientSession, out: dict[str, list[float]]) -> None:
    started = time.perf_counter()
    _, hello = await post(http, url + "/web/session", {"start": True})
    out["greeting"].append(time.perf_counter() - started)
    for text in SCRIPT:
        sent = time.perf_counter()
        status, _ = await post(
            http,
            url + "/web/message",
            {"token": hello["token"], "type": "message", "text": text.format(phone=f"8937{n:07d}")},
        )
        assert status == 200
        out["http"].append(time.perf_counter() - sent)


async def flood(url: str, http: aiohttp.ClientSession, count: int) -> int:
    """A script sends `count` messages as fast as it can under the default limits; how many get through."""
    ws = await http.ws_connect(url + "/ws", headers={"Origin": SITE})
    await ws.send_json({"type": "hello", "token": None})
    await ws.receive_json()
    for i in range(count):
        await ws.send_json({"type": "message", "text": f"спам {i}"})
    through = refused = 0
    while through + refused < count:
        frame = await ws.receive_json(timeout=30)
        if frame["type"] == "error":
            refused += 1
        elif frame["type"] == "messages" and frame["messages"][0]["from"] == "patient":
            through += 1
    await ws.close()
    return through


async def serve(tmp: str, limits: WebLimits) -> tuple[App, aiohttp.web.AppRunner, str]:
    settings = load_settings(
        data_dir=Path(tmp), knowledge_dir=ROOT / "knowledge", prompts_dir=ROOT / "prompts"
    )
    settings = settings.model_copy(update={"web_allowed_origins": (SITE,)})
    app = build_app(settings, clock=FakeClock(OPEN_TIME))
    http_app = create_http_app(app)
    setup_web(app, http_app, limits=limits)
    runner, port = await start_http(http_app, "127.0.0.1", 0)
    return app, runner, f"http://127.0.0.1:{port}"


async def run(visitors: int, concurrency: int) -> None:
    out: dict[str, list[float]] = {"greeting": [], "ws": [], "http": [], "admin": []}
    with tempfile.TemporaryDirectory() as tmp:
        app, runner, url = await serve(tmp, NO_LIMITS)
        gate = asyncio.Semaphore(concurrency)

        async def one(n: int, http: aiohttp.ClientSession) -> None:
            async with gate:
                if n % 4 == 3:
                    await http_visitor(n, url, http, out)
                else:
                    await ws_visitor(n, url, http, app, out)

        start = time.perf_counter()
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency * 2)) as http:
            await asyncio.gather(*(one(n, http) for n in range(visitors)))
        elapsed = time.perf_counter() - start
        leads = len(app.store.leads())
        expected = sum(1 for n in range(visitors) if n % 4 == 3 or n % 2 == 0)
        messages = len(out["ws"]) + len(out["http"])
        await runner.cleanup()
        app.close()
    with tempfile.TemporaryDirectory() as tmp:
        app, runner, url = await serve(tmp, WebLimits())
        async with aiohttp.ClientSession() as http:
            through = await flood(url, http, 100)
        await runner.cleanup()
        app.close()

    script = (STATIC_DIR / "widget.js").read_bytes()
    css = (STATIC_DIR / "widget.css").read_bytes()
    size_kb = (len(gzip.compress(script)) + len(gzip.compress(css))) / 1024
    ms = {k: [v * 1000 for v in values] for k, values in out.items()}
    print(f"web: {visitors} visitors ({concurrency} at once), {messages} patient messages in {elapsed:.1f} s")
    for name in ("greeting", "ws", "http", "admin"):
        print(
            f"  {name:8s} p50 {statistics.median(ms[name]):7.1f} ms   p99 {percentile(ms[name], 99):7.1f} ms"
        )
    print(
        f"  {messages / elapsed:.0f} msg/s; leads {leads}/{expected}; flood of 100 messages: {through} let through"
    )
    print(f"  widget.js + widget.css gzipped: {size_kb:.1f} KB")
    for name in ("greeting", "ws", "http", "admin"):
        print(f"FIGURE web.{name}_p50 {statistics.median(ms[name]):.1f} ms")
        print(f"FIGURE web.{name}_p99 {percentile(ms[name], 99):.1f} ms")
    print(f"FIGURE web.throughput {messages / elapsed:.0f} msg/s")
    print(f"FIGURE web.leads_recorded {leads / expected:.2f} ratio")
    print(f"FIGURE web.flood_let_through {through} of_100")
    print(f"FIGURE web.widget_gzip {size_kb:.1f} KB")
    if leads != expected:
        raise SystemExit(f"lost leads: {leads} of {expected}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer visitors, for CI")
    parser.add_argument("--visitors", type=int)
    parser.add_argument("--concurrency", type=int, default=50)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    visitors = args.visitors or (40 if args.quick else 400)
    asyncio.run(run(visitors, min(args.concurrency, visitors)))


if __name__ == "__main__":
    main()
