"""The LLM engine: the offline engine first, then at most one model call, then validation by code.

The model supplies what code cannot: a natural answer to a free question and the facts in a message the
offline extractors missed. Every fact it reports is validated by the same extractors (`llm_guard`); its
answer is checked against the knowledge. Any failure — timeout, 429/5xx beyond the retries, garbage, a
rejected answer — leaves the offline Understanding, so the patient always gets a reply and the booking
goes on. `Understanding.tokens` carries the usage, which the service sums per conversation.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from pathlib import Path

from bot.config import Settings
from bot.dialogue.extract.faq import FaqIndex
from bot.dialogue.language import clean
from bot.dialogue.messages import Incoming
from bot.dialogue.state import ConversationState
from bot.engine.llm_client import CallLimits, LlmClient, LlmError, request_overhead
from bot.engine.llm_guard import (
    KnowledgeFacts,
    accept_fields,
    merge,
    reply_problem,
    skip_model,
    without_greeting,
)
from bot.engine.llm_prompt import Context, Prompt, PromptBuilder, load_system_template
from bot.engine.offline import FAQ_THRESHOLD, OfflineEngine
from bot.engine.port import Engine, Understanding
from bot.knowledge.models import Doctor, Knowledge

log = logging.getLogger(__name__)

__all__ = ["LlmEngine", "answer_texts", "build_llm_engine"]

CONTEXT_FAQ_SCORE = 0.15  # looser than the offline answer threshold: the model picks what fits


@dataclass
class EngineStats:
    calls: int = 0
    fallbacks: int = 0
    rejected_replies: int = 0
    skipped: int = 0
    tokens: int = 0
    last_call_seconds: float = 0.0  # the model call alone, for the overhead figure


class LlmEngine(Engine):
    name = "llm"

    def __init__(
        self,
        offline: OfflineEngine,
        client: LlmClient,
        builder: PromptBuilder,
        prompts_dir: Path | None = None,
    ) -> None:
        self.offline = offline
        self.client = client
        self.builder = builder
        self.prompts_dir = prompts_dir
        self.stats = EngineStats()
        self._facts: KnowledgeFacts | None = None

    def reload_prompts(self) -> None:
        """An edit of prompts/system.md takes effect on the next turn; a broken file raises and the old stays."""
        if self.prompts_dir is not None:
            self.builder = PromptBuilder(load_system_template(self.prompts_dir), self.builder.budget)

    async def aclose(self) -> None:
        await self.client.aclose()

    def facts(self) -> KnowledgeFacts:
        idx = self.offline.indexes()
        if self._facts is None or self._facts.knowledge is not idx.knowledge:
            self._facts = KnowledgeFacts.build(idx.knowledge, idx.doctors)
        return self._facts

    async def understand(self, state: ConversationState, incoming: Incoming) -> Understanding:
        offline = self.offline.understand_now(state, incoming)
        text = clean(incoming.text)
        if incoming.contact_phone or skip_model(offline, state, text):
            self.stats.skipped += 1
            return offline
        try:
            return await self._with_model(state, text, offline)
        except LlmError as exc:
            log.warning("LLM не ответила, использован ответ без LLM: %s", exc)
        except Exception:  # the port's contract: never raise; the offline answer is always there
            log.exception("ошибка модуля LLM, использован ответ без LLM")
        self.stats.fallbacks += 1
        return replace(offline, extra={**offline.extra, "engine": "offline-fallback"})

    def prompt(self, state: ConversationState, text: str, offline: Understanding) -> Prompt:
        idx = self.offline.indexes()
        return self.builder.build(state, text, idx.knowledge, self.context(state, text, offline))

    def context(self, state: ConversationState, text: str, offline: Understanding) -> Context:
        """The FAQ entries and doctors this message is about (not the whole knowledge)."""
        idx = self.offline.indexes()
        faq = [hit.entry for hit in offline.faq]
        for hit in idx.faq.search(text, limit=3):
            if hit.score >= CONTEXT_FAQ_SCORE and hit.entry not in faq:
                faq.append(hit.entry)
        return Context(tuple(faq[:3]), _relevant_doctors(idx.knowledge, state, offline))

    async def _with_model(self, state: ConversationState, text: str, offline: Understanding) -> Understanding:
        prompt = self.prompt(state, text, offline)
        self.stats.calls += 1
        result = await self.client.complete(prompt.messages)
        self.stats.tokens += result.tokens
        self.stats.last_call_seconds = result.seconds
        facts = self.facts()
        turn = result.turn
        accepted = accept_fields(turn, offline, state, text, facts) if turn.structured else {}
        dropped = set(turn.values) - set(accepted)
        if dropped:
            log.info(
                "значения от LLM не приняты (неверные, без опоры в словах пациента или уже известные): %s",
                sorted(dropped),
            )
        reply: str | None = without_greeting(turn.reply)
        asked = answer_texts(offline, text, self.offline.indexes().faq, facts.knowledge)
        problem = reply_problem(reply, facts, prompt.rules, state, text, asked) if reply else "пустой ответ"
        if problem:
            if reply:
                self.stats.rejected_replies += 1
                # The problem may quote the reply (a phone, a name it took for a doctor's): the kind only.
                log.warning("ответ LLM отклонён (%s); использован ответ без LLM", problem.split(":")[0])
                log.debug("LLM reply rejected: %s", problem)
            reply = None
        return merge(offline, turn, accepted, reply, result.tokens)


def answer_texts(u: Understanding, text: str, faq: FaqIndex, knowledge: Knowledge) -> tuple[str, ...]:
    """The knowledge that answers this message: the FAQ entries matched to it, the notes of the doctors named.

    Only these may supply a price: a number elsewhere in the knowledge answers another question.
    """
    entries = [hit.entry for hit in u.faq]
    entries += [h.entry for h in faq.search(text) if h.score >= FAQ_THRESHOLD and h.entry not in entries]
    texts = [f"{entry.question}\n{entry.answer}" for entry in entries]
    texts += [d.note for d in knowledge.doctors if d.full_name in u.doctors and d.note]
    return tuple(texts)


def _relevant_doctors(knowledge: Knowledge, state: ConversationState, u: Understanding) -> tuple[Doctor, ...]:
    named = set(u.doctors) | set(u.suggestions) | set(state.choices) | {state.booking.doctor}
    specialties = {u.specialty, state.booking.specialty, *u.specialty_options} - {None, ""}
    picked = [d for d in knowledge.doctors if d.full_name in named]
    picked += [d for d in knowledge.doctors if d.specialty in specialties and d not in picked]
    return tuple(picked)


def build_llm_engine(settings: Settings, knowledge_provider: object, offline_engine: OfflineEngine) -> Engine:
    """The LLM engine of the settings (OPENAI_API_KEY, OPENAI_BASE_URL, OPENAI_MODEL, LLM_* limits)."""
    del knowledge_provider  # the offline engine already holds it and rebuilds its indexes on reload
    if settings.openai_api_key is None:
        return offline_engine
    client = LlmClient(
        api_key=settings.openai_api_key.get_secret_value(),
        base_url=settings.openai_base_url,
        model=settings.openai_model,
        limits=limits_from(settings),
    )
    # The budget covers everything sent: the messages and the tool/JSON schema that goes with them.
    budget = max(settings.llm_token_budget - request_overhead(), 300)
    builder = PromptBuilder(load_system_template(settings.prompts_dir), budget)
    return LlmEngine(offline_engine, client, builder, settings.prompts_dir)


def limits_from(settings: Settings) -> CallLimits:
    return CallLimits(
        connect=settings.llm_connect_timeout.total_seconds(),
        first_token=settings.llm_first_token_timeout.total_seconds(),
        total=settings.llm_total_timeout.total_seconds(),
        max_retries=settings.llm_max_retries,
    )
