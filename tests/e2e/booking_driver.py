"""A patient loop for the kill -9 test: confirmed bookings one after another, the outbox flushed meanwhile.

Run as a script with the usual environment (DATA_DIR, KNOWLEDGE_DIR, PROMPTS_DIR, optionally a sheet):
`python tests/e2e/booking_driver.py START COUNT`. After the bot says "Заявка принята" to patient i, prints
`CONFIRMED <phone>`; with COUNT 0 it only restarts and flushes what the outbox holds.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from bot.bootstrap import build_app
from bot.config import load_settings
from bot.dialogue.messages import Address, Incoming


def phone_of(i: int) -> str:
    return f"+7912{1000000 + i:07d}"


async def main(start: int, count: int) -> int:
    app = build_app(load_settings())
    flusher = asyncio.create_task(app.flusher.run_forever(interval=0.02))
    print("READY", flush=True)
    try:
        for i in range(start, start + count):
            who = Address("console", f"k{i}", f"k{i}")
            national = "8" + phone_of(i)[2:]
            for text in (f"Я Ольга, хочу к лору после обеда, впервые, {national}", "да", "да"):
                replies = await app.service.handle(who, Incoming(text=text))
            if not any("Заявка принята" in r.text for r in replies):
                print(f"NOT-CONFIRMED {i}: {[r.text for r in replies]}", flush=True)
                return 1
            print(f"CONFIRMED {phone_of(i)}", flush=True)
        while await app.flusher.flush():
            pass
        print(f"BACKLOG {app.outbox.backlog()}", flush=True)
    finally:
        flusher.cancel()
        app.close()
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main(int(sys.argv[1]), int(sys.argv[2]))))
