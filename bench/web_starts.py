"""A script opens the widget over and over from one address: how many new conversations it gets.

The real service (HTTP server, widget channel, dialogue, SQLite) on 127.0.0.1 with the default limits. Each
attempt is a hello (WebSocket) or a `/web/session` (HTTP fallback) followed by `start`, which greets a new
conversation; half the attempts send a token the client made up, as the attack that once bypassed the
new-session limit did, the other half send none. Figures: conversations created (must not exceed the
configured limit: `new_sessions_burst` plus `new_sessions_per_minute` for the time the attack took), widget
sessions issued, refusals by code, the attack's rate and the growth of DATA_DIR on disk.
Prints `FIGURE name value unit` lines for bench/run_all.py.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import secrets
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import aiohttp  # noqa: E402

from bot.bootstrap import App, build_app  # noqa: E402
from bot.channels.web import WebChannel, WebLimits, setup_web  # noqa: E402
from bot.clock import FakeClock  # noqa: E402
from bot.config import load_settings  # noqa: E402
from bot.http.server import create_http_app, start_http  # noqa: E402
from tests.conftest import OPEN_TIME  # noqa: E402

SITE = "https://clinic.example.ru"
HEADERS = {"Origin": SITE, "Content-Type": "text/plain;charset=UTF-8"}


def disk_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def token(n: int) -> str | None:
    """Every other attempt brings a token the server never issued."""
    return secrets.token_urlsafe(32) if n % 2 == 0 else None


async def over_ws(http: aiohttp.ClientSession, url: str, n: int) -> str:
    async with http.ws_connect(url + "/ws", headers={"Origin": SITE}) as ws:
        await ws.send_json({"type": "hello", "token": token(n)})
        frame = await ws.receive_json(timeout=30)
        if frame["type"] == "error":
            return str(frame["code"])
        await ws.send_json({"type": "start"})
        while (await ws.receive_json(timeout=30))["type"] != "messages":
            pass
        return "created"


async def over_http(http: aiohttp.ClientSession, url: str, n: int) -> str:
    body = json.dumps({"token": token(n), "start": True})
    async with http.post(url + "/web/session", data=body, headers=HEADERS) as response:
        answer: dict[str, Any] = await response.json()
    return "created" if answer.get("type") == "session" else str(answer.get("code"))


async def attack(attempts: int, concurrency: int) -> int:
    limits = WebLimits()
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp)
        settings = load_settings(
            data_dir=data, knowledge_dir=ROOT / "knowledge", prompts_dir=ROOT / "prompts"
        )
        settings = settings.model_copy(update={"web_allowed_origins": (SITE,)})

        def serve() -> tuple[App, WebChannel, aiohttp.web.Application]:
            app = build_app(settings, clock=FakeClock(OPEN_TIME))
            http_app = create_http_app(app)
            return app, setup_web(app, http_app, limits=limits), http_app

        empty, _, _ = serve()
        empty.close()  # the record with its tables and nothing in them (closing folds the WAL in)
        before = disk_bytes(data)
        app, channel, http_app = serve()
        runner, port = await start_http(http_app, "127.0.0.1", 0)
        url = f"http://127.0.0.1:{port}"
        outcomes: Counter[str] = Counter()
        gate = asyncio.Semaphore(concurrency)

        async def one(n: int, http: aiohttp.ClientSession) -> None:
            async with gate:
                outcomes[await (over_ws if n % 4 < 2 else over_http)(http, url, n)] += 1

        started = time.perf_counter()
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency)) as http:
            await asyncio.gather(*(one(n, http) for n in range(attempts)))
        elapsed = time.perf_counter() - started
        conversations = app.store.count()
        issued = channel.sessions.count()
        await runner.cleanup()
        app.close()
        growth_kb = (disk_bytes(data) - before) / 1024
    allowed = limits.new_sessions_burst + int(limits.new_sessions_per_minute * elapsed / 60)
    refusals = ", ".join(f"{code} {count}" for code, count in sorted(outcomes.items()) if code != "created")
    print(
        f"web_starts: {attempts} start attempts from one address in {elapsed:.1f} s ({attempts / elapsed:.0f}/s)"
    )
    print(f"  new conversations {conversations} (limit {allowed}), sessions issued {issued}")
    print(f"  refused: {refusals or 'none'}")
    print(f"  DATA_DIR grew by {growth_kb:.0f} KB")
    print(f"FIGURE web_starts.attempts {attempts} count")
    print(f"FIGURE web_starts.conversations {conversations} count")
    print(f"FIGURE web_starts.limit {allowed} count")
    print(f"FIGURE web_starts.sessions_issued {issued} count")
    print(f"FIGURE web_starts.rate {attempts / elapsed:.0f} attempts/s")
    print(f"FIGURE web_starts.disk_growth {growth_kb:.0f} KB")
    return 0 if conversations <= allowed and issued <= allowed else 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="500 attempts instead of 5,000, for CI")
    parser.add_argument("--attempts", type=int)
    parser.add_argument("--concurrency", type=int, default=20)
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    attempts = args.attempts or (500 if args.quick else 5000)
    if asyncio.run(attack(attempts, args.concurrency)):
        raise SystemExit("more new conversations than the limit allows")


if __name__ == "__main__":
    main()
