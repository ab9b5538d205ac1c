"""Messages per second and per-message time of the dialogue core with the offline engine.

Runs on the sample knowledge and on a generated one (2,000 FAQ entries, 500 doctors). Pure core only (no
SQLite): the figure the issue's target (p99 <= 10 ms on one core) is about; plus the whole service path with
the SQLite state for reference. Prints `FIGURE name value unit` lines for bench/run_all.py.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from _stats import percentile  # bench/ is on sys.path when a benchmark runs

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.clock import FakeClock  # noqa: E402
from bot.config import load_settings  # noqa: E402
from bot.dialogue.core import DialogueCore  # noqa: E402
from bot.dialogue.messages import Address, Incoming  # noqa: E402
from bot.dialogue.state import ConversationState  # noqa: E402
from bot.engine.offline import OfflineEngine  # noqa: E402
from bot.knowledge.loader import load_knowledge  # noqa: E402
from bot.prompts import load_texts  # noqa: E402

CONVERSATIONS = [
    [
        "Здравствуйте",
        "хочу записаться к Смирновой",
        "да",
        "Ольга",
        "8 (912) 345-67-89",
        "после обеда",
        "впервые",
        "да",
    ],
    [
        "Здравствуйте, я Анна, хочу к лору утром, повторно, 89123456789",
        "да",
        "нет, телефон другой: 89271234567",
        "да",
    ],
    [
        "можно ли у вас припарковаться?",
        "а сколько стоит приём?",
        "болит колено",
        "да",
        "Игорь",
        "9123456789",
        "в любое время",
        "уже лечился у вас",
        "всё верно",
    ],
    [
        "запишите к Иванову",
        "к терапевту",
        "согласна",
        "меня зовут Ане",
        "Мария",
        "+7 912 3456789",
        "вечером",
        "ни разу не была",
        "да",
    ],
    [
        "🙂",
        "hello",
        "у ребенка температура",
        "да",
        "Светлана",
        "8912345678",
        "89123456789",
        "до 14",
        "впервые",
        "да",
    ],
]

_SYLLABLES = ["ка", "ро", "ми", "ла", "се", "во", "ну", "ре", "до", "ти", "ба", "ге", "зо", "пу", "ше", "ля"]
_WORDS = [
    "анализ",
    "приём",
    "врач",
    "документ",
    "оплата",
    "карта",
    "ребёнок",
    "справка",
    "запись",
    "парковка",
    "телефон",
    "адрес",
    "график",
    "узи",
    "кровь",
    "подготовка",
    "скидка",
    "страховка",
    "результат",
    "выезд",
    "процедура",
    "массаж",
    "вакцина",
    "прививка",
    "осмотр",
    "консультация",
    "диагностика",
    "лечение",
]


def generate_knowledge(directory: Path, faq: int = 2000, doctors: int = 500, seed: int = 7) -> None:
    rnd = random.Random(seed)
    specialties = [f"Специалист{n}" for n in range(40)] + ["ЛОР", "Терапевт", "Кардиолог", "Невролог"]
    lines = ["# Сгенерированные вопросы"]
    for n in range(faq):
        topic = rnd.sample(_WORDS, 3)
        lines += [
            f"## Вопрос {n}: как {topic[0]} и {topic[1]} {topic[2]}?",
            f"Ответ {n}: " + " ".join(rnd.choices(_WORDS, k=25)),
            "",
        ]
    (directory / "faq.md").write_text("\n".join(lines), encoding="utf-8")
    rows = ["ФИО,Специальность,Услуги,Примечание"]
    for n in range(doctors):
        surname = "".join(rnd.choices(_SYLLABLES, k=3)).capitalize() + rnd.choice(["ов", "ев", "ин"])
        female = rnd.random() < 0.5
        full = f"{surname}{'а' if female else ''} {'Анна' if female else 'Иван'} {'Петровна' if female else 'Петрович'}"
        services = ", ".join(f"{w} {n}" for w in rnd.sample(_WORDS, 4))
        rows.append(f'{full},{rnd.choice(specialties)},"{services}",')
    (directory / "doctors.csv").write_text("\n".join(rows), encoding="utf-8")
    (directory / "clinic.toml").write_text(
        (ROOT / "knowledge" / "clinic.toml").read_text(encoding="utf-8"), encoding="utf-8"
    )


def run_core(knowledge_dir: Path, rounds: int) -> list[float]:
    knowledge = load_knowledge(knowledge_dir)
    engine = OfflineEngine(lambda: knowledge)
    core = DialogueCore(load_texts(ROOT / "prompts"), tz=load_settings().tz)
    engine.indexes()  # built once per knowledge version, not per message
    now = datetime(2026, 11, 23, 7, 0, tzinfo=UTC)
    timings: list[float] = []
    for r in range(rounds):
        for c, conversation in enumerate(CONVERSATIONS):
            state = ConversationState()
            address = Address("console", f"{r}-{c}", "bench")
            for text in conversation:
                incoming = Incoming(text=text)
                start = time.perf_counter()
                understanding = engine.understand_now(state, incoming)
                core.decide(state, incoming, understanding, address, now, knowledge)
                state.to_json()
                timings.append(time.perf_counter() - start)
    return timings


async def run_service(rounds: int) -> list[float]:
    from bot.bootstrap import build_app

    with tempfile.TemporaryDirectory() as tmp:
        settings = load_settings(
            data_dir=Path(tmp), knowledge_dir=ROOT / "knowledge", prompts_dir=ROOT / "prompts"
        )
        app = build_app(settings, clock=FakeClock())
        timings: list[float] = []
        for r in range(rounds):
            for c, conversation in enumerate(CONVERSATIONS):
                address = Address("console", f"{r}-{c}", "bench")
                for text in conversation:
                    start = time.perf_counter()
                    await app.service.handle(address, Incoming(text=text))
                    timings.append(time.perf_counter() - start)
        app.close()
        return timings


def report(name: str, timings: list[float]) -> None:
    ms = [t * 1000 for t in timings]
    print(
        f"{name}: {len(ms)} messages, {len(ms) / sum(timings):.0f} msg/s, p50 {statistics.median(ms):.2f} ms, "
        f"p95 {percentile(ms, 95):.2f} ms, p99 {percentile(ms, 99):.2f} ms, max {max(ms):.2f} ms"
    )
    print(f"FIGURE {name}.msg_per_s {len(ms) / sum(timings):.0f} msg/s")
    print(f"FIGURE {name}.p99 {percentile(ms, 99):.2f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer rounds (for make bench / CI)")
    args = parser.parse_args()
    rounds = 4 if args.quick else 40
    run_core(ROOT / "knowledge", 1)  # warm the morphology caches as a running service has them
    report("dialogue.sample_core", run_core(ROOT / "knowledge", rounds))
    with tempfile.TemporaryDirectory() as tmp:
        generate_knowledge(Path(tmp))
        start = time.perf_counter()
        knowledge = load_knowledge(Path(tmp))
        OfflineEngine(lambda: knowledge).indexes()
        print(f"FIGURE dialogue.large_index_build {(time.perf_counter() - start) * 1000:.0f} ms")
        report("dialogue.large_core", run_core(Path(tmp), rounds))
    report("dialogue.sample_service_sqlite", asyncio.run(run_service(max(1, rounds // 2))))


if __name__ == "__main__":
    main()
