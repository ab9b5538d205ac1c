"""The prompt of one turn: the operator's template filled with only what this message needs, under budget.

What goes in, in order of priority when the budget is tight: the template's rules and the clinic facts,
the booking collected so far and the field still missing, the patient's message, the best FAQ answers,
the doctors that match, the specialties, and as many recent turns as still fit (older ones are summarised
by code). The patient's phone is sent only in the message that gives it: in the booking the model learns
that it was received, and in earlier turns phone-like numbers are masked.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path
from string import Template

from bot.dialogue.state import ConversationState, Slot
from bot.engine.llm_tokens import count_messages, count_tokens, cut_to_tokens
from bot.errors import KnowledgeError
from bot.knowledge.models import Doctor, FaqEntry, Knowledge
from bot.prompts import PACKAGE_PROMPTS, resolve_prompts_dir

log = logging.getLogger(__name__)

SYSTEM_FILE = "system.md"
_COMMENT = re.compile(r"<!--.*?-->\s*", re.DOTALL)
MAX_FAQ = 3
MAX_DOCTORS = 12
FAQ_ANSWER_TOKENS = 300
MESSAGE_TOKENS = 600
TURN_TOKENS = 200
_MISSING = {
    Slot.SERVICE: "к какому врачу или на какую услугу нужна запись",
    Slot.DOCTOR_CHOICE: "какого из предложенных врачей выбрать",
    Slot.CONSENT: "согласие на обработку персональных данных",
    Slot.NAME: "имя пациента",
    Slot.PHONE: "номер телефона",
    Slot.WINDOW: "удобное время: до 14:00, после 14:00 или любое",
    Slot.VISIT: "был ли пациент у нас раньше (первичное или повторное обращение)",
    Slot.CONFIRM: "подтверждение сводки заявки",
    Slot.CORRECTION: "что исправить в заявке",
}


def load_system_template(prompts_dir: Path) -> str:
    """`prompts/system.md` without its operator comments."""
    path = resolve_prompts_dir(prompts_dir) / SYSTEM_FILE
    if not path.exists() and (PACKAGE_PROMPTS / SYSTEM_FILE).exists():
        log.warning("нет файла %s; используется prompts/%s из проекта", path, SYSTEM_FILE)
        path = PACKAGE_PROMPTS / SYSTEM_FILE
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise KnowledgeError(f"{path} is missing; it holds the LLM's instructions") from exc
    except UnicodeDecodeError as exc:
        raise KnowledgeError(f"{path}: not UTF-8 ({exc}); save it as UTF-8") from exc
    return _COMMENT.sub("", text).strip()


@dataclass(frozen=True, slots=True)
class Context:
    """What the offline engine found relevant to this message."""

    faq: tuple[FaqEntry, ...] = ()
    doctors: tuple[Doctor, ...] = ()


@dataclass(frozen=True, slots=True)
class Prompt:
    messages: list[dict[str, str]]
    tokens: int  # estimated, see llm_tokens
    history_used: int  # how many past turns were sent
    rules: str  # the template's own text, to catch a reply that recites it


def clinic_facts(knowledge: Knowledge) -> str:
    c = knowledge.clinic
    lines = [
        f"Название: {c.name}" if c.name else "",
        f"Адрес: {c.address}" if c.address else "",
        f"Телефон регистратуры: {c.phone}" if c.phone else "",
        f"Часы работы администраторов: {c.hours_text}" if c.hours_text else "",
        f"Сайт: {c.website}" if c.website else "",
        f"Политика конфиденциальности: {c.privacy_url}" if c.privacy_url else "",
        f"Администратор перезванивает в рабочее время в течение {c.callback_minutes} минут.",
    ]
    return "\n".join(line for line in lines if line)


def booking_text(state: ConversationState, knowledge: Knowledge) -> str:
    b = state.booking
    by_name = {d.full_name: d for d in knowledge.doctors}
    service = by_name[b.doctor].display if b.doctor in by_name else b.specialty
    lines = [
        f"Врач или услуга: {service or 'не выбраны'}",
        f"Имя: {b.name or 'не известно'}",
        f"Телефон: {'получен' if b.phone else 'не получен'}",
        f"Время: {b.window or 'не выбрано'}",
        f"Обращение: {b.visit or 'не известно'}",
        f"Согласие на обработку данных: {'дано' if state.consent.given_at else 'ещё не дано'}",
    ]
    if state.choices:
        lines.append("Пациенту предложены врачи: " + ", ".join(state.choices))
    return "\n".join(lines)


def missing_text(state: ConversationState) -> str:
    return _MISSING.get(Slot(state.awaiting), "ничего, пациент задаёт вопрос") if state.awaiting else "—"


def _doctor_line(doctor: Doctor) -> str:
    line = f"- {doctor.full_name} — {doctor.specialty}"
    if doctor.services:
        line += ": " + ", ".join(doctor.services[:8])
    if doctor.note:
        line += f" ({doctor.note})"
    return line


def _faq_block(entry: FaqEntry) -> str:
    return f"- Вопрос: {entry.question}\n  Ответ: {cut_to_tokens(entry.answer, FAQ_ANSWER_TOKENS)}"


class PromptBuilder:
    """Fills the system template for one turn, keeping the whole prompt within `budget` tokens."""

    def __init__(self, template: str, budget: int) -> None:
        self.template = Template(template)
        self.budget = budget
        self.rules = template.split("###", 1)[0]

    def build(self, state: ConversationState, text: str, knowledge: Knowledge, context: Context) -> Prompt:
        message = {"role": "user", "content": cut_to_tokens(text, MESSAGE_TOKENS)}
        values = {
            "clinic_name": knowledge.clinic.name,
            "clinic_facts": clinic_facts(knowledge),
            "booking": booking_text(state, knowledge),
            "missing": missing_text(state),
            "faq": "нет подходящих ответов",
            "doctors": "—",
            "specialties": "—",
            "earlier": "",
        }
        fixed = self._system(values)
        # Whatever the operator wrote, the fixed part leaves room for the message and some context.
        fixed_limit = self.budget - count_messages([message]) - 120
        if count_tokens(fixed) > fixed_limit:
            fixed = cut_to_tokens(fixed, fixed_limit)
            return self._finish([{"role": "system", "content": fixed}, message], 0)
        room = self.budget - count_messages([{"content": fixed}, message]) - 8
        history = [_turn(who, said) for who, said in state.history]
        room -= count_tokens(_earlier(state, len(history))) + 1  # kept free for the summary of old turns

        faq, room = _take([_faq_block(e) for e in context.faq[:MAX_FAQ]], room)
        doctors, room = _take([_doctor_line(d) for d in context.doctors[:MAX_DOCTORS]], room)
        specialties, room = _take_joined(knowledge.specialties, room)
        if faq:
            values["faq"] = "\n".join(faq)
        if doctors:
            values["doctors"] = "\n".join(doctors)
        if specialties:
            values["specialties"] = specialties

        kept: list[dict[str, str]] = []
        for turn in reversed(history):
            cost = count_messages([turn]) - count_messages([])
            if cost > room:
                break
            kept.insert(0, turn)
            room -= cost
        if len(kept) < len(history):
            values["earlier"] = _earlier(state, len(history) - len(kept))
        system = self._system(values)
        prompt = self._finish([{"role": "system", "content": system}, *kept, message], len(kept))
        while prompt.tokens > self.budget and kept:  # a safety net; the accounting above is pessimistic
            kept.pop(0)
            prompt = self._finish([{"role": "system", "content": system}, *kept, message], len(kept))
        return prompt

    def _system(self, values: dict[str, str]) -> str:
        return self.template.safe_substitute(values).strip()

    def _finish(self, messages: list[dict[str, str]], used: int) -> Prompt:
        return Prompt(messages, count_messages(messages), used, self.rules)


def _take(lines: list[str], room: int) -> tuple[list[str], int]:
    taken = []
    for line in lines:
        cost = count_tokens(line) + 1
        if cost > room:
            break
        taken.append(line)
        room -= cost
    return taken, room


def _take_joined(items: list[str], room: int) -> tuple[str, int]:
    taken: list[str] = []
    for item in items:
        cost = count_tokens(item) + 1
        if cost > room:
            break
        taken.append(item)
        room -= cost
    return ", ".join(taken), room


_PHONE_LIKE = re.compile(r"\+?\d[\d\s\-().]{5,}\d")


def _turn(who: str, said: str) -> dict[str, str]:
    text = cut_to_tokens(_PHONE_LIKE.sub("[телефон]", said), TURN_TOKENS)
    if who == "patient":
        return {"role": "user", "content": text}
    if who == "admin":
        return {"role": "assistant", "content": "(администратор) " + text}
    return {"role": "assistant", "content": text}


def _earlier(state: ConversationState, dropped: int) -> str:
    """A summary by code of the turns that no longer fit: how many, and what the patient came with."""
    if dropped <= 0:
        return ""
    first = next((said for who, said in state.history if who == "patient"), "")
    topic = f" Первое сообщение пациента: «{cut_to_tokens(first, 40)}»." if first else ""
    return f"Ранее в разговоре было ещё {dropped} сообщений (не показаны).{topic}"
