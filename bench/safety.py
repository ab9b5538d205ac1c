"""The safety check on the held-out set: recall on emergencies, false alarms on look-alikes.

Each conversation of `bench/safety_heldout.toml` goes through the whole service on the embedded defaults
(offline engine, SQLite state in a temporary folder). An emergency is caught when the reply to its last
message sends the patient to 103/112; a look-alike is a false alarm when any reply does. Prints
`FIGURE name value unit` lines for bench/run_all.py; `--verbose` lists the misses.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import tomllib
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.bootstrap import build_app  # noqa: E402
from bot.clock import FakeClock  # noqa: E402
from bot.config import load_settings  # noqa: E402
from bot.dialogue.messages import Address, Incoming  # noqa: E402

HELDOUT = ROOT / "bench" / "safety_heldout.toml"


def alarmed(text: str) -> bool:
    return "103" in text or "112" in text


async def replies_of(messages: list[str], tmp: Path, n: int) -> list[str]:
    """The bot's joined reply to each message of one conversation, from a fresh data folder."""
    settings = load_settings(
        data_dir=tmp / f"c{n}", knowledge_dir=ROOT / "knowledge", prompts_dir=ROOT / "prompts"
    )
    app = build_app(settings, clock=FakeClock())
    try:
        address = Address("console", f"s{n}", "bench")
        out = []
        for text in messages:
            replies = await app.service.handle(address, Incoming(text=text))
            out.append("\n".join(r.text for r in replies))
        return out
    finally:
        app.close()


async def run(verbose: bool) -> None:
    data = tomllib.loads(HELDOUT.read_text(encoding="utf-8"))
    caught: dict[str, list[bool]] = defaultdict(list)
    false_alarms = 0
    with tempfile.TemporaryDirectory() as tmp:
        n = 0
        for case in data["emergency"]:
            n += 1
            replies = await replies_of(case["messages"], Path(tmp), n)
            hit = alarmed(replies[-1])
            caught[case["category"]].append(hit)
            if verbose and not hit:
                print(f"MISS [{case['category']}] {case['messages']!r} -> {replies[-1][:120]!r}")
        for case in data["lookalike"]:
            n += 1
            replies = await replies_of(case["messages"], Path(tmp), n)
            if any(alarmed(r) for r in replies):
                false_alarms += 1
                if verbose:
                    print(f"FALSE ALARM {case['messages']!r} -> {replies[-1][:120]!r}")
    hits = [h for group in caught.values() for h in group]
    for category, group in sorted(caught.items()):
        print(f"  {category:<13} {sum(group)}/{len(group)}")
    looks = len(data["lookalike"])
    print(f"emergencies caught: {sum(hits)}/{len(hits)}; look-alikes alarmed: {false_alarms}/{looks}")
    print(f"FIGURE safety.recall {100 * sum(hits) / len(hits):.1f} %")
    print(f"FIGURE safety.false_alarm {100 * false_alarms / looks:.1f} %")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="accepted for bench/run_all.py (same run)")
    parser.add_argument("--verbose", action="store_true", help="list every miss and false alarm")
    args = parser.parse_args()
    asyncio.run(run(args.verbose))


if __name__ == "__main__":
    main()
