"""The LLM reply guard's cost per reply: typical replies (the unit tables) and adversarial 1,200-character ones.

Every model reply goes through `reply_problem` before it may reach a patient, so its time adds to each LLM
turn. Prints `FIGURE name value unit` lines: p50/p99 for the tables' replies, the worst of a set of
repetitive and random 1,200-character replies (patterns that make careless regular expressions backtrack).
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

from _stats import percentile  # bench/ is on sys.path when a benchmark runs

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.dialogue.extract.doctors import DoctorIndex  # noqa: E402
from bot.dialogue.state import ConversationState  # noqa: E402
from bot.engine.llm_guard import KnowledgeFacts, reply_problem  # noqa: E402
from bot.engine.llm_prompt import load_system_template  # noqa: E402
from bot.knowledge.loader import load_knowledge  # noqa: E402
from tests.unit.test_llm_reply_guard import BENIGN, HOSTILE  # noqa: E402

ALPHABET = "аб1 .,:-/@_[]()₽%ohttps\u200bмгрубцена:"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    rounds = 2 if parser.parse_args().quick else 10
    knowledge = load_knowledge(ROOT / "knowledge")
    started = time.perf_counter()
    facts = KnowledgeFacts.build(knowledge, DoctorIndex.build(knowledge.doctors))
    print(f"FIGURE facts_build {(time.perf_counter() - started) * 1000:.0f} ms")
    rules = load_system_template(ROOT / "prompts").split("###", 1)[0]
    state = ConversationState()
    replies = [r for _, r, _ in HOSTILE] + [r for _, r in BENIGN]
    timings: list[float] = []
    for _ in range(rounds):
        for reply in replies:
            started = time.perf_counter()
            reply_problem(reply, facts, rules, state, "вопрос")
            timings.append((time.perf_counter() - started) * 1000)
    print(f"FIGURE reply_p50 {percentile(timings, 50):.2f} ms")
    print(f"FIGURE reply_p99 {percentile(timings, 99):.2f} ms")
    rng = random.Random(16)
    hostile = [
        "а " + "".join(rng.choice(ALPHABET) for _ in range(rng.randint(1, 5))) * 400 for _ in range(40)
    ]
    hostile += ["а " + "".join(rng.choice(ALPHABET) for _ in range(1190)) for _ in range(10 * rounds)]
    hostile += ["а " + "1" * 1190, "а" + "." * 1190, "а " + "1." * 590]
    worst = 0.0
    for reply in hostile:
        started = time.perf_counter()
        reply_problem(reply[:1200], facts, rules, state, "вопрос")
        worst = max(worst, (time.perf_counter() - started) * 1000)
    print(f"FIGURE adversarial_worst {worst:.0f} ms")


if __name__ == "__main__":
    main()
