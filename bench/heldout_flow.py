"""The dialogue's flow on held-out patients (bench/heldout_flow.toml) and on a corpus of simulated bookings.

Both go through the real service path (bot.bootstrap.build_app, SQLite state, the CSV sink, the offline
engine), one fresh data folder per conversation.

- Held-out: prints each case that fails and why, then `FIGURE heldout_flow.correct N/M`.
- Corpus: simulated patients who open with some of their facts and then answer what the bot asks; prints
  how many leads are correct, the median number of patient messages to a confirmed lead and the re-asks
  (the bot asking the same field again).

`python bench/heldout_flow.py [--only ID] [-v]`.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import statistics
import sys
import tempfile
import tomllib
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.bootstrap import App, build_app  # noqa: E402
from bot.clock import FakeClock  # noqa: E402
from bot.config import load_settings  # noqa: E402
from bot.dialogue.messages import Address, Incoming, Outgoing  # noqa: E402
from bot.dialogue.state import Slot  # noqa: E402
from sheets.schema import Lead  # noqa: E402

OPEN_TIME = datetime(2026, 11, 23, 6, 0, tzinfo=UTC)  # Monday 10:00 in Samara
CLOSED_TIME = datetime(2026, 11, 22, 19, 30, tzinfo=UTC)  # Sunday 23:30
WHO = Address("console", "h1", "h1")


@dataclass
class Talk:
    """One conversation's transcript: the bot's answer to each patient line, and the lead(s)."""

    answers: list[list[Outgoing]] = field(default_factory=list)
    awaiting: list[str] = field(default_factory=list)
    leads: list[Lead] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def new_app(tmp: Path, moment: datetime) -> App:
    settings = load_settings(
        data_dir=tmp / "data", knowledge_dir=ROOT / "knowledge", prompts_dir=ROOT / "prompts"
    )
    return build_app(settings, clock=FakeClock(moment))


def press(line: str, last: list[Outgoing]) -> Incoming | None:
    """ "[btn] Label": the last offered button whose label contains Label."""
    wanted = line.removeprefix("[btn]").strip().lower()
    for reply in reversed(last):
        for button in reply.buttons:
            if wanted in button.label.lower():
                return Incoming(text="", button=button.data)
    return None


async def run_lines(lines: list[str], moment: datetime) -> Talk:
    talk = Talk()
    with tempfile.TemporaryDirectory() as tmp:
        app = new_app(Path(tmp), moment)
        try:
            last: list[Outgoing] = []
            for line in lines:
                incoming = press(line, last) if line.startswith("[btn]") else Incoming(text=line)
                if incoming is None:
                    talk.problems.append(f"no button {line!r} offered")
                    talk.answers.append([])
                    talk.awaiting.append("")
                    continue
                last = await app.service.handle(WHO, incoming)
                talk.answers.append(last)
                talk.awaiting.append(app.store.load(WHO).awaiting)
            talk.leads = app.sinks["csv"].read_all()
        finally:
            app.close()
    return talk


def text_of(replies: list[Outgoing]) -> str:
    """The answer as the patient sees it: the texts and the labels of the buttons offered."""
    return "\n".join(r.text + "".join(f" [{b.label}]" for b in r.buttons) for r in replies)


def loops(talk: Talk) -> list[str]:
    """Questions the bot sent three times or more in the same words."""
    asked: Counter[str] = Counter()
    for replies in talk.answers:
        for reply in replies:
            if "?" in reply.text:
                asked[reply.text] += 1
    return [q for q, n in asked.items() if n >= 3]


def judge(case: dict[str, Any], talk: Talk) -> list[str]:
    problems = list(talk.problems)
    for question in loops(talk):
        problems.append(f"asked 3+ times: {question[:70]!r}")
    everything = "\n".join(text_of(a) for a in talk.answers)
    for bad in case.get("never", []):
        if bad.lower() in everything.lower():
            problems.append(f"said {bad!r}")
    for turn in case.get("turn", []):
        at = turn["at"]
        said = text_of(talk.answers[at]).lower() if at < len(talk.answers) else ""
        if "any" in turn and not any(w.lower() in said for w in turn["any"]):
            problems.append(f"line {at}: none of {turn['any']} in {said[:160]!r}")
        for bad in turn.get("none", []):
            if bad.lower() in said:
                problems.append(f"line {at}: said {bad!r}")
    if case.get("no_lead") and talk.leads:
        problems.append("a lead was written")
    if "lead" in case:
        if len(talk.leads) != 1:
            problems.append(f"{len(talk.leads)} leads instead of one")
        else:
            lead, want = talk.leads[0], case["lead"]
            for key, value in want.items():
                got = getattr(lead, key)
                ok = value in got if key == "service" else got == value
                if not ok:
                    problems.append(f"lead {key} {got!r}, wanted {value!r}")
    return problems


async def heldout(path: Path, only: str | None, verbose: bool) -> tuple[int, int]:
    cases = tomllib.loads(path.read_text(encoding="utf-8"))["case"]
    passed = 0
    by_kind: Counter[str] = Counter()
    total_kind: Counter[str] = Counter()
    for case in cases:
        if only and case["id"] != only:
            continue
        moment = CLOSED_TIME if case.get("time") == "closed" else OPEN_TIME
        talk = await run_lines(case["lines"], moment)
        problems = judge(case, talk)
        total_kind[case["kind"]] += 1
        if not problems:
            passed += 1
            by_kind[case["kind"]] += 1
        else:
            print(f"FAIL {case['id']}: " + "; ".join(problems))
        if verbose:
            for line, replies in zip(case["lines"], talk.answers, strict=False):
                print(f"  > {line}")
                for reply in replies:
                    buttons = f"  [{' | '.join(b.label for b in reply.buttons)}]" if reply.buttons else ""
                    print("    " + reply.text.replace("\n", "\n    ") + buttons)
    kinds = ", ".join(f"{k} {by_kind[k]}/{n}" for k, n in total_kind.items())
    print(f"held-out: {passed}/{sum(total_kind.values())} handled correctly ({kinds})")
    print(f"FIGURE heldout_flow.correct {passed}/{sum(total_kind.values())} conversations")
    return passed, sum(total_kind.values())


# ---------------------------------------------------------------------------------------- the corpus

SERVICES = [
    ("к лору", "ЛОР"),
    ("болит голова уже неделю", "Невролог"),
    ("к кардиологу", "Кардиолог"),
    ("нужен дерматолог, сыпь на руках", "Дерматолог"),
    ("к эндокринологу", "Эндокринолог"),
    ("на узи щитовидки", "Врач УЗИ"),
    ("к урологу", "Уролог"),
    ("к окулисту, зрение упало", "Офтальмолог"),
]
NAMES = ["Ольга", "Игорь", "Светлана", "Михаил", "Дарья", "Артём", "Наталья", "Василий"]
WINDOWS = [("утром", "до 14:00"), ("после обеда", "после 14:00"), ("в любое время", "любое")]
VISITS = [("впервые", "первичное"), ("уже был у вас", "повторное")]


@dataclass(frozen=True)
class Persona:
    service: tuple[str, str]
    name: str
    phone: str
    window: tuple[str, str]
    visit: tuple[str, str]
    opening: str  # which facts the first message carries


def personas() -> list[Persona]:
    openings = ["hello", "service", "service+name", "service+window", "everything", "service+phone"]
    people = []
    combos = itertools.product(range(len(SERVICES)), range(len(openings)))
    for n, (s, o) in enumerate(combos):
        people.append(
            Persona(
                SERVICES[s],
                NAMES[n % len(NAMES)],
                f"8917{5000000 + n:07d}",
                WINDOWS[n % len(WINDOWS)],
                VISITS[(n // 3) % len(VISITS)],
                openings[o],
            )
        )
    return people


def opening(p: Persona) -> str:
    service, name, window, visit = p.service[0], p.name, p.window[0], p.visit[0]
    return {
        "hello": "Здравствуйте",
        "service": f"Здравствуйте, хочу записаться {service}",
        "service+name": f"Добрый день, это {name}, мне {service}",
        "service+window": f"запишите {service}, удобно {window}",
        "everything": f"Здравствуйте, я {name}, {service}, {window}, {visit}, мой телефон {p.phone}",
        "service+phone": f"{service} хочу, телефон {p.phone}",
    }[p.opening]


def answer(p: Persona, awaiting: str, asked: str) -> str:
    """What the patient answers to the question asked (both name and phone when both were asked)."""
    if awaiting == Slot.NAME and "номер" in asked.lower():
        return f"{p.name}, {p.phone}"
    if awaiting == Slot.WINDOW and "впервые" in asked.lower():
        return f"{p.window[0]}, {p.visit[0]}"
    return {
        Slot.SERVICE: p.service[0],
        Slot.DOCTOR_CHOICE: "первый",
        Slot.CONSENT: "да",
        Slot.NAME: p.name,
        Slot.PHONE: p.phone,
        Slot.WINDOW: p.window[0],
        Slot.VISIT: p.visit[0],
        Slot.CONFIRM: "да",
    }.get(awaiting, "да")


async def simulate(p: Persona) -> tuple[bool, int, int]:
    """Correct lead, patient messages to it, re-asks."""
    with tempfile.TemporaryDirectory() as tmp:
        app = new_app(Path(tmp), OPEN_TIME)
        try:
            text, turns, reasks, before = opening(p), 0, 0, ""
            while turns < 20:
                turns += 1
                replies = await app.service.handle(WHO, Incoming(text=text))
                if app.sinks["csv"].read_all():
                    break
                awaiting = app.store.load(WHO).awaiting
                if awaiting and awaiting == before:
                    reasks += 1
                before = awaiting
                text = answer(p, awaiting, replies[-1].text if replies else "")
            leads = app.sinks["csv"].read_all()
        finally:
            app.close()
    ok = len(leads) == 1 and (
        leads[0].name == p.name
        and leads[0].phone == "+7" + p.phone[1:]
        and p.service[1] in leads[0].service
        and leads[0].window == p.window[1]
        and leads[0].visit == p.visit[1]
    )
    return ok, turns, reasks


async def corpus() -> None:
    results = [await simulate(p) for p in personas()]
    correct = sum(ok for ok, _, _ in results)
    turns = [t for ok, t, _ in results if ok]
    reasks = sum(r for _, _, r in results)
    median = statistics.median(turns) if turns else 0
    mean = statistics.mean(turns) if turns else 0
    print(
        f"corpus: {correct}/{len(results)} correct leads, median {median} patient messages "
        f"(mean {mean:.2f}), {reasks} re-asks"
    )
    print(f"FIGURE flow_corpus.correct {correct}/{len(results)} leads")
    print(f"FIGURE flow_corpus.median_turns {median} messages")
    print(f"FIGURE flow_corpus.reasks {reasks} re-asks")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--only", help="one held-out case by id")
    parser.add_argument("-v", "--verbose", action="store_true", help="print the conversations")
    parser.add_argument("--no-corpus", action="store_true")
    parser.add_argument("--quick", action="store_true", help="accepted for bench/run_all.py (always quick)")
    args = parser.parse_args()
    asyncio.run(heldout(Path(__file__).with_suffix(".toml"), args.only, args.verbose))
    if not args.no_corpus and not args.only:
        asyncio.run(corpus())


if __name__ == "__main__":
    main()
