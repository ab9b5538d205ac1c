"""The engine port: turns one patient message into an `Understanding` the dialogue core can act on.

Two adapters: the offline engine (`bot.engine.offline`, the default, pure code) and the LLM engine
(`bot.engine.llm`, through any OpenAI-compatible API). Whatever the engine, every value it reports must
already be validated by the deterministic extractors of `bot.dialogue.extract` (phonenumbers, the doctors
list, the window and visit enums); the core trusts an Understanding and builds the lead from it.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field

from bot.dialogue.messages import Incoming
from bot.dialogue.state import ConversationState
from bot.knowledge.models import FaqEntry


class Intent:
    EMERGENCY = "emergency"
    HANDOFF = "handoff"
    RESTART = "restart"
    GOODBYE = "goodbye"
    THANKS = "thanks"
    YES = "yes"
    NO = "no"
    BOOKING = "booking"
    QUESTION = "question"
    GREETING = "greeting"
    WITHDRAW_CONSENT = "withdraw_consent"
    CORRECTION = "correction"


@dataclass(frozen=True, slots=True)
class FaqHit:
    entry: FaqEntry
    score: float


@dataclass(frozen=True, slots=True)
class Understanding:
    """Validated facts and intents found in one message."""

    intents: frozenset[str] = frozenset()
    name: str | None = None
    phone: str | None = None  # E.164, validated
    phone_problem: str | None = None  # why a phone-looking text was not accepted (Russian, for the patient)
    doctors: tuple[str, ...] = ()  # full names from the doctors list (several: ask which one)
    specialty: str | None = None  # a specialty of the doctors list
    specialty_options: tuple[str, ...] = ()  # several specialties fit: ask which one
    unknown_doctor: str | None = None  # a surname the patient asked for that is not in the list
    suggestions: tuple[str, ...] = ()  # closest doctors (full names) for an unknown one
    comment: str | None = None  # the request in a few words
    window: str | None = None  # sheets.schema.Window value
    visit: str | None = None  # sheets.schema.Visit value
    faq: tuple[FaqHit, ...] = ()  # best answers first, already above the confidence threshold
    faq_guess: bool = False  # looks like a question but no answer is confident enough
    reply: str | None = None  # a free-form answer written by an LLM (the core decides whether to use it)
    tokens: int = 0  # tokens spent to understand this message
    extra: dict[str, str] = field(default_factory=dict)

    def has(self, intent: str) -> bool:
        return intent in self.intents

    @property
    def has_booking_facts(self) -> bool:
        return bool(
            self.name
            or self.phone
            or self.doctors
            or self.specialty
            or self.specialty_options
            or self.window
            or self.visit
            or self.unknown_doctor
            or "missing_specialty" in self.extra
            or "not_doctors" in self.extra  # "нет, не к Петровой": about the doctor, not a refusal
        )


class Engine(ABC):
    """Contract: `understand` never raises for any patient input (a failing remote engine falls back to
    the offline one) and returns within the engine's time budget."""

    name: str = "engine"

    @abstractmethod
    async def understand(self, state: ConversationState, incoming: Incoming) -> Understanding: ...
