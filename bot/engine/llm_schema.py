"""What the model is asked to return, and how its answer is read whatever form it came in.

The same fields travel three ways, best first: a forced tool call (`record_turn`), a JSON-schema response
format, or a JSON object written in the text. Nothing read here is trusted yet: `llm_guard` validates.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from sheets.schema import Visit, Window

TOOL_NAME = "record_turn"
INTENTS = (
    "question",
    "booking",
    "correction",
    "handoff",
    "emergency",
    "greeting",
    "thanks",
    "goodbye",
    "smalltalk",
    "other",
)
FIELDS = ("name", "phone", "doctor", "specialty", "window", "visit")


def turn_schema() -> dict[str, Any]:
    """JSON schema of one turn (strict-mode friendly: every property required, nulls allowed)."""
    nullable = {"type": ["string", "null"]}
    return {
        "type": "object",
        "additionalProperties": False,
        "required": ["reply", "intents", *FIELDS],
        "properties": {
            "reply": {"type": "string", "description": "Ответ пациенту по-русски, 1-3 предложения."},
            "intents": {"type": "array", "items": {"type": "string", "enum": list(INTENTS)}},
            "name": {**nullable, "description": "Имя пациента, если он его назвал в этом сообщении."},
            "phone": {**nullable, "description": "Телефон пациента из этого сообщения, цифрами."},
            "doctor": {**nullable, "description": "ФИО врача из списка, если пациент его выбрал."},
            "specialty": {**nullable, "description": "Специальность из списка, если понятна."},
            "window": {"type": ["string", "null"], "enum": [*(w.value for w in Window), None]},
            "visit": {"type": ["string", "null"], "enum": [*(v.value for v in Visit), None]},
        },
    }


def tool_definition() -> dict[str, Any]:
    return {
        "type": "function",
        "function": {
            "name": TOOL_NAME,
            "description": "Ответ пациенту и данные записи, которые пациент сообщил в последнем сообщении.",
            "parameters": turn_schema(),
        },
    }


def response_format() -> dict[str, Any]:
    return {
        "type": "json_schema",
        "json_schema": {"name": TOOL_NAME, "schema": turn_schema(), "strict": True},
    }


@dataclass(frozen=True, slots=True)
class ModelTurn:
    """The model's answer, unvalidated."""

    reply: str = ""
    intents: frozenset[str] = frozenset()
    values: dict[str, str] = field(default_factory=dict)
    structured: bool = False  # the fields came as JSON (tool call or JSON text), not just prose


class GarbageError(ValueError):
    """The model's output cannot be read at all."""


_OBJECT = re.compile(r"\{.*\}", re.DOTALL)


def parse_arguments(raw: str) -> ModelTurn:
    """Tool-call arguments or a JSON response: a JSON object with the schema's fields."""
    try:
        data = json.loads(raw)
    except (json.JSONDecodeError, TypeError) as exc:
        raise GarbageError(f"not JSON: {raw[:80]!r}") from exc
    if not isinstance(data, dict):
        raise GarbageError("JSON is not an object")
    return from_mapping(data)


def parse_text(text: str) -> ModelTurn:
    """Plain content: a JSON object inside it when there is one, otherwise the text is the reply."""
    stripped = text.strip()
    match = _OBJECT.search(stripped)
    if match:
        try:
            return parse_arguments(match.group(0))
        except GarbageError:
            pass  # braces in prose: fall through to the reply
    if not stripped:
        raise GarbageError("empty answer")
    return ModelTurn(reply=stripped)


def from_mapping(data: dict[str, Any]) -> ModelTurn:
    reply = data.get("reply")
    intents_raw = data.get("intents") or data.get("intent") or []
    if isinstance(intents_raw, str):
        intents_raw = [intents_raw]
    intents = frozenset(str(i).strip().lower() for i in intents_raw if isinstance(i, str)) & set(INTENTS)
    values: dict[str, str] = {}
    for key in FIELDS:
        value = data.get(key)
        if isinstance(value, int | float) and not isinstance(value, bool):
            value = str(value)
        if isinstance(value, str) and value.strip() and value.strip().lower() not in ("null", "none"):
            values[key] = value.strip()[:200]
    return ModelTurn(
        reply=reply.strip() if isinstance(reply, str) else "",
        intents=intents,
        values=values,
        structured=True,
    )
