"""The LLM engine's prompt and overhead: tokens per turn, time to build, time around the model call.

1. Prompt size (estimated tokens, see bot/engine/llm_tokens.py: 4 UTF-8 bytes per token, pessimistic for
   Russian) on every turn of a 20-turn conversation, on the sample knowledge and on a generated one
   (2,000 FAQ entries, 500 doctors), against LLM_TOKEN_BUDGET (4,000) minus the tool schema.
2. Time to build the prompt (retrieval included), p50/p99.
3. The bot's overhead around the model call: `LlmEngine.understand` against a fake OpenAI server that
   answers at once (streamed tool call), minus the time of the call itself; p50/p99 in ms.
Prints `FIGURE name value unit` lines.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from _stats import percentile  # bench/ is on sys.path when a benchmark runs

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from dialogue import generate_knowledge  # noqa: E402

from bot.config import load_settings  # noqa: E402
from bot.dialogue.core import DialogueCore  # noqa: E402
from bot.dialogue.messages import Address, Incoming  # noqa: E402
from bot.dialogue.state import ConversationState  # noqa: E402
from bot.engine.llm import LlmEngine, build_llm_engine  # noqa: E402
from bot.engine.llm_client import request_overhead  # noqa: E402
from bot.engine.offline import OfflineEngine  # noqa: E402
from bot.knowledge.loader import load_knowledge  # noqa: E402
from bot.prompts import load_texts  # noqa: E402
from tests.fakes.openai_api import Answer, FakeOpenAI  # noqa: E402

TURNS = [
    "Здравствуйте! Подскажите, где вы находитесь и есть ли парковка?",
    "А по выходным работаете?",
    "Хочу записаться к лору, у ребёнка болит ухо уже два дня, ночью плакал",
    "да, согласна",
    "Меня зовут Ольга",
    "а какие документы взять с собой для ребёнка?",
    "8 912 345-67-89",
    "а можно к Смирновой?",
    "после обеда, после работы",
    "а сколько стоит приём?",
    "ни разу не была у вас",
    "нет, телефон другой: 89271234567",
    "да",
    "спасибо! а анализы у вас можно сдать?",
    "а результаты когда будут готовы?",
    "ещё хочу к терапевту записать маму",
    "мама Галина",
    "в любое время",
    "она уже лечилась у вас",
    "да, всё верно, спасибо большое",
]


def engine_for(knowledge_dir: Path, base_url: str = "http://127.0.0.1:9/v1") -> LlmEngine:
    settings = load_settings(
        knowledge_dir=knowledge_dir,
        prompts_dir=ROOT / "prompts",
        openai_api_key="sk-bench",
        openai_base_url=base_url,
    )
    knowledge = load_knowledge(knowledge_dir)
    engine = build_llm_engine(settings, None, OfflineEngine(lambda: knowledge))
    assert isinstance(engine, LlmEngine)
    return engine


def prompt_sizes(name: str, knowledge_dir: Path, rounds: int) -> None:
    engine = engine_for(knowledge_dir)
    knowledge = engine.offline.indexes().knowledge
    engine.facts()
    core = DialogueCore(load_texts(ROOT / "prompts"), tz=load_settings().tz)
    now = datetime(2026, 11, 23, 7, 0, tzinfo=UTC)
    budget = engine.builder.budget
    sizes: list[int] = []
    build_ms: list[float] = []
    for r in range(rounds):
        state = ConversationState()
        for text in TURNS:
            incoming = Incoming(text=text)
            offline = engine.offline.understand_now(state, incoming)
            start = time.perf_counter()
            prompt = engine.prompt(state, text, offline)
            build_ms.append((time.perf_counter() - start) * 1000)
            if r == 0:
                sizes.append(prompt.tokens + request_overhead())
            core.decide(state, incoming, offline, Address("console", "bench"), now, knowledge)
    limit = budget + request_overhead()
    print(f"{name}: prompt tokens per turn (incl. tool schema {request_overhead()}): {sizes}")
    print(
        f"{name}: max {max(sizes)} / budget {limit} tokens ({max(sizes) / limit:.0%}), mean {statistics.mean(sizes):.0f}; "
        f"build p50 {statistics.median(build_ms):.2f} ms, p99 {percentile(build_ms, 99):.2f} ms"
    )
    print(f"FIGURE llm_prompt.{name}.max_tokens {max(sizes)} tokens")
    print(f"FIGURE llm_prompt.{name}.budget_share {max(sizes) / limit:.2f} ratio")
    print(f"FIGURE llm_prompt.{name}.build_p99 {percentile(build_ms, 99):.2f} ms")


async def overhead(name: str, knowledge_dir: Path, rounds: int) -> None:
    fake = FakeOpenAI(api_key="sk-bench")
    fake.responder = lambda body: Answer(reply="Да, конечно, подскажу.", intents=["question"])
    base_url = await fake.start()
    engine = engine_for(knowledge_dir, base_url)
    engine.facts()
    total_ms: list[float] = []
    extra_ms: list[float] = []
    for _ in range(rounds):
        state = ConversationState()
        for text in TURNS:
            engine.stats.last_call_seconds = 0.0
            start = time.perf_counter()
            await engine.understand(state, Incoming(text=text))
            spent = time.perf_counter() - start
            state.remember("patient", text)
            if engine.stats.last_call_seconds:
                total_ms.append(spent * 1000)
                extra_ms.append((spent - engine.stats.last_call_seconds) * 1000)
    await engine.aclose()
    await fake.close()
    print(
        f"{name}: {len(total_ms)} model turns; understand p50 {statistics.median(total_ms):.2f} ms, "
        f"p99 {percentile(total_ms, 99):.2f} ms; overhead around the call p50 {statistics.median(extra_ms):.2f} ms, "
        f"p99 {percentile(extra_ms, 99):.2f} ms; fallbacks {engine.stats.fallbacks}"
    )
    print(f"FIGURE llm_engine.{name}.overhead_p99 {percentile(extra_ms, 99):.2f} ms")
    print(f"FIGURE llm_engine.{name}.understand_p99 {percentile(total_ms, 99):.2f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer rounds (a few seconds)")
    args = parser.parse_args()
    rounds = 3 if args.quick else 20
    with tempfile.TemporaryDirectory() as tmp:
        big = Path(tmp)
        generate_knowledge(big)
        for name, directory in (("sample", ROOT / "knowledge"), ("generated_2000", big)):
            prompt_sizes(name, directory, rounds)
            asyncio.run(overhead(name, directory, max(1, rounds // 2)))


if __name__ == "__main__":
    main()
