"""Held-out patients of issue 17 (items 2-4) through the real service path; prints how many are handled right.

Each conversation of `bench/heldout_leads.toml` runs on a fresh application (SQLite record, outbox, local
CSV sink, offline engine, the sample knowledge) at a fixed clinic time, and its rows in leads.csv are
checked against what an administrator should get. `-v` prints the failures with the conversation.
Prints `FIGURE heldout_leads_ok N cases` for bench/run_all.py.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import sys
import tempfile
import tomllib
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.bootstrap import build_app  # noqa: E402
from bot.clock import FakeClock  # noqa: E402
from bot.config import load_settings  # noqa: E402
from bot.dialogue.messages import Address, Incoming  # noqa: E402
from bot.notify import LogNotifier  # noqa: E402
from sheets.schema import Lead  # noqa: E402

CASES = Path(__file__).with_suffix(".toml")
# Wednesday 25 November 2026, 11:00 in Samara: the clinic is open.
NOW = datetime(2026, 11, 25, 7, 0, tzinfo=UTC)
SUMMARY = "Проверьте, пожалуйста, заявку"


class Recorder(LogNotifier):
    """The log notifier, remembering the handoffs and notices the administrators got."""

    def __init__(self) -> None:
        super().__init__()
        self.handoffs: list[str] = []
        self.warnings: list[str] = []

    async def handoff(
        self, address: Address, reason: str, recent: Sequence[str], *, urgent: bool = False
    ) -> bool:
        self.handoffs.append(reason)
        return True

    async def warn(self, text: str) -> bool:
        self.warnings.append(text)
        return True


def autopilot_answer(reply: str, case: dict[str, Any]) -> str | None:
    """What the patient of `case` answers to the bot's question; None when it is not a question of the form."""
    low = reply.lower()
    if SUMMARY.lower() in low:
        return None
    if "согласн" in low or "хотите, я запишу" in low:
        return "да"
    if "как к вам обращаться" in low or "как вас зовут" in low or "ваше имя" in low:
        return str(case.get("name", "Ольга"))
    if "номер телефона" in low or "номер ещё раз" in low:
        return str(case.get("phone", "89123456789"))
    if "до 14:00" in low:
        return "в любое время"
    if "впервые" in low:
        return "впервые"
    return None


async def run_case(case: dict[str, Any], data: Path) -> tuple[bool, list[str], list[str]]:
    """(passed, problems, transcript)"""
    clock = FakeClock(NOW)
    notifier = Recorder()
    settings = load_settings(
        data_dir=data, knowledge_dir=ROOT / "knowledge", prompts_dir=ROOT / "prompts", _env_file=None
    )
    app = build_app(settings, clock=clock, notifier=notifier)
    who = Address("console", case["id"], case["id"])
    transcript: list[str] = []
    replies: list[str] = []

    async def say(text: str) -> str:
        out = await app.service.handle(who, Incoming(text=text))
        said = "\n".join(r.text for r in out)
        transcript.append(f"  > {text}\n  < " + said.replace("\n", "\n    "))
        replies.append(said)
        return said

    try:
        last = ""
        for line in case["lines"]:
            if line in ("@auto", "@confirm"):
                for _ in range(8):
                    answer = autopilot_answer(last, case)
                    if answer is None:
                        break
                    last = await say(answer)
                if line == "@confirm" and SUMMARY in last:
                    last = await say("да")
            else:
                last = await say(line)
        while await app.flusher.flush():
            pass
        ids = {lead.id for lead in app.store.conversation_leads(who.key)}  # contact is gone once forgotten
        rows = [lead for lead in app.sinks["csv"].read_all() if lead.id in ids]
    finally:
        app.close()
    problems = check(case.get("expect", {}), rows, replies, notifier)
    return not problems, problems, transcript


def check(expect: dict[str, Any], rows: list[Lead], replies: list[str], notifier: Recorder) -> list[str]:
    problems: list[str] = []
    if "leads" in expect and len(rows) != expect["leads"]:
        problems.append(f"{len(rows)} rows instead of {expect['leads']}")
    row = rows[-1] if rows else None
    for key, column in (
        ("service", "service"),
        ("name", "name"),
        ("phone", "phone"),
        ("status", "status"),
        ("window", "window"),
        ("visit", "visit"),
    ):
        if key in expect:
            value = getattr(row, column) if row else ""
            if str(expect[key]).lower() not in value.lower():
                problems.append(f"{column} {value!r}, expected {expect[key]!r}")
    comment = row.comment if row else ""
    for pattern in expect.get("comment", ()):
        if not re.search(pattern, comment, re.IGNORECASE):
            problems.append(f"comment {comment!r} lacks /{pattern}/")
    for pattern in expect.get("not_comment", ()):
        if re.search(pattern, comment, re.IGNORECASE):
            problems.append(f"comment {comment!r} has /{pattern}/")
    if expect.get("no_personal") and row and (row.name or row.phone):
        problems.append(f"personal data kept: {row.name!r} {row.phone!r} ({row.status})")
    for pattern in expect.get("replies", ()):
        if not any(re.search(pattern, r, re.IGNORECASE | re.DOTALL) for r in replies):
            problems.append(f"no reply matches /{pattern}/")
    if expect.get("handoff") and not notifier.handoffs:
        problems.append("no handoff alert")
    if "warn" in expect and not any(re.search(expect["warn"], w) for w in notifier.warnings):
        problems.append(f"no notice matches /{expect['warn']}/")
    return problems


async def main(verbose: bool, only: str) -> int:
    cases = tomllib.loads(CASES.read_text(encoding="utf-8"))["case"]
    if only:
        cases = [c for c in cases if only in c["id"]]
    ok = 0
    by_kind: dict[str, list[int]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for i, case in enumerate(cases):
            passed, problems, transcript = await run_case(case, Path(tmp) / f"c{i}")
            ok += passed
            group = f"round {case.get('round', 1)}: {case.get('kind', '')}"
            tally = by_kind.setdefault(group, [0, 0])
            tally[0] += passed
            tally[1] += 1
            if not passed:
                print(f"FAIL {case['id']}: {'; '.join(problems)}")
            if verbose and (not passed or only):
                print("\n".join(transcript))
    for kind, (good, total) in by_kind.items():
        print(f"  {kind}: {good}/{total}")
    for rnd in sorted({c.get("round", 1) for c in cases}):
        mine = [k for k in by_kind if k.startswith(f"round {rnd}:")]
        good, total = sum(by_kind[k][0] for k in mine), sum(by_kind[k][1] for k in mine)
        print(f"round {rnd}: {good}/{total}")
    print(f"held-out leads: {ok}/{len(cases)} handled correctly")
    print(f"FIGURE heldout_leads_ok {ok} cases")
    print(f"FIGURE heldout_leads_total {len(cases)} cases")
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("-v", "--verbose", action="store_true")
    parser.add_argument("-k", "--only", default="", help="run the cases whose id contains this")
    parser.add_argument("--quick", action="store_true", help="accepted for bench/run_all.py (no effect)")
    args = parser.parse_args()
    sys.exit(asyncio.run(main(args.verbose, args.only)))
