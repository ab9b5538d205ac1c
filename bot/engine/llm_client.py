"""One model call per turn through the `openai` library, with the service's own time budget.

Errors (all `LlmError`, a `BotError`): `LlmUnavailable` after timeouts, connection failures and 429/5xx
retried with backoff until the budget is spent; `LlmRejected` for a 4xx that retrying cannot fix;
`LlmGarbage` for an answer that cannot be read. The engine turns every one into the offline answer.

The call is streamed: a server that accepts the connection and then says nothing is given up after the
first-token timeout, not the total one. Structured output is asked as a forced tool call; an endpoint that
refuses tools (400/422) is asked with a JSON-schema response format, then with plain JSON in the text,
and the working mode is remembered.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import time
from dataclasses import dataclass
from typing import Any

import openai

from bot.engine.llm_schema import (
    FIELDS,
    TOOL_NAME,
    GarbageError,
    ModelTurn,
    parse_arguments,
    parse_text,
    response_format,
    tool_definition,
)
from bot.engine.llm_tokens import count_messages, count_tokens
from bot.errors import BotError

log = logging.getLogger(__name__)

MODES = ("tools", "json_schema", "text")
MAX_OUTPUT_TOKENS = 400
JSON_ONLY = "Ответьте одним JSON-объектом без пояснений, с полями reply, intents, " + ", ".join(FIELDS) + "."


def request_overhead() -> int:
    """Tokens the structured-output machinery adds to a prompt in the costliest mode (tool schema, JSON
    schema or the JSON-only instruction): kept out of the budget given to the prompt builder."""
    tool = count_tokens(json.dumps(tool_definition(), ensure_ascii=False))
    schema = count_tokens(json.dumps(response_format(), ensure_ascii=False))
    instruction = count_messages([{"content": JSON_ONLY}]) - count_messages([])
    return max(tool, schema, instruction)


class LlmError(BotError):
    """The model gave no usable answer this turn."""


class LlmUnavailable(LlmError):
    """Timeouts, connection failures, 429/5xx after the retries the budget allowed."""


class LlmRejected(LlmError):
    """The endpoint refused the request (bad key, unknown model, bad request)."""


class LlmGarbage(LlmError):
    """The answer came but cannot be read."""


@dataclass(frozen=True, slots=True)
class CallResult:
    turn: ModelTurn
    tokens: int  # prompt + completion, from the usage the endpoint reported (estimated when it did not)
    mode: str
    attempts: int
    seconds: float


@dataclass(frozen=True, slots=True)
class CallLimits:
    connect: float = 5.0
    first_token: float = 10.0
    total: float = 20.0
    max_retries: int = 2
    backoff: float = 0.5  # first pause between retries, doubled each time (with jitter)


class _Retry(Exception):
    def __init__(self, reason: str, after: float | None = None) -> None:
        super().__init__(reason)
        self.after = after


class LlmClient:
    """A thin, budgeted caller of `chat.completions` on any OpenAI-compatible endpoint."""

    def __init__(
        self, *, api_key: str, base_url: str | None, model: str, limits: CallLimits, stream: bool = True
    ) -> None:
        self.api_key = api_key
        self.base_url = base_url
        self.model = model
        self.limits = limits
        self.stream = stream
        self.mode = MODES[0]
        self._client: openai.AsyncOpenAI | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def client(self) -> openai.AsyncOpenAI:
        """One client per event loop (the HTTP pool belongs to the loop that opened it)."""
        loop = asyncio.get_running_loop()
        if self._client is None or self._loop is not loop:
            self._client = openai.AsyncOpenAI(
                api_key=self.api_key,
                base_url=self.base_url,
                max_retries=0,  # retries are ours, inside the time budget
                timeout=openai.Timeout(self.limits.total, connect=self.limits.connect),
            )
            self._loop = loop
        return self._client

    async def aclose(self) -> None:
        """Close the HTTP pool (call from the loop that used it)."""
        if self._client is not None and self._loop is asyncio.get_running_loop():
            await self._client.close()
        self._client = None
        self._loop = None

    async def complete(self, messages: list[dict[str, str]]) -> CallResult:
        started = time.monotonic()
        try:
            async with asyncio.timeout(self.limits.total):
                return await self._with_retries(messages, started)
        except TimeoutError as exc:
            raise LlmUnavailable(f"no answer within {self.limits.total:.1f}s") from exc

    async def _with_retries(self, messages: list[dict[str, str]], started: float) -> CallResult:
        attempt = 0
        while True:
            attempt += 1
            try:
                turn, tokens = await self._attempt(messages)
                return CallResult(turn, tokens, self.mode, attempt, time.monotonic() - started)
            except _Retry as retry:
                if attempt > self.limits.max_retries:
                    raise LlmUnavailable(f"{retry} (after {attempt} attempts)") from retry
                pause = retry.after if retry.after is not None else self.limits.backoff * 2 ** (attempt - 1)
                pause = min(pause, 30.0) * (1 + random.random() * 0.2)
                left = self.limits.total - (time.monotonic() - started)
                if pause >= left:
                    raise LlmUnavailable(f"{retry}; no time left to retry") from retry
                log.info("LLM: %s; повтор %d через %.2f с", retry, attempt, pause)
                await asyncio.sleep(pause)

    async def _attempt(self, messages: list[dict[str, str]]) -> tuple[ModelTurn, int]:
        while True:
            try:
                return await self._call(messages, self.mode)
            except (openai.BadRequestError, openai.UnprocessableEntityError) as exc:
                following = MODES.index(self.mode) + 1
                if following >= len(MODES):
                    raise LlmRejected(f"the endpoint refused the request: {_short(exc)}") from exc
                log.warning(
                    "сервер LLM не принял режим %s (%s); пробую %s", self.mode, _short(exc), MODES[following]
                )
                self.mode = MODES[following]
            except openai.RateLimitError as exc:
                raise _Retry("rate limited (429)", _retry_after(exc)) from exc
            except openai.APIStatusError as exc:
                if exc.status_code >= 500 or exc.status_code == 408:
                    raise _Retry(f"server error {exc.status_code}", _retry_after(exc)) from exc
                raise LlmRejected(f"HTTP {exc.status_code}: {_short(exc)}") from exc
            except (openai.APITimeoutError, openai.APIConnectionError) as exc:
                raise _Retry(f"connection: {type(exc).__name__}") from exc
            except TimeoutError as exc:
                raise _Retry("no first token in time") from exc
            except GarbageError as exc:
                raise LlmGarbage(str(exc)) from exc

    def _request(self, messages: list[dict[str, str]], mode: str) -> dict[str, Any]:
        kwargs: dict[str, Any] = {
            "model": self.model,
            "messages": messages,
            "temperature": 0.3,
            "max_tokens": MAX_OUTPUT_TOKENS,
        }
        if mode == "tools":
            kwargs["tools"] = [tool_definition()]
            kwargs["tool_choice"] = {"type": "function", "function": {"name": TOOL_NAME}}
        elif mode == "json_schema":
            kwargs["response_format"] = response_format()
        else:
            kwargs["messages"] = [*messages, {"role": "system", "content": JSON_ONLY}]
        if self.stream:
            kwargs["stream"] = True
            kwargs["stream_options"] = {"include_usage": True}
        return kwargs

    async def _call(self, messages: list[dict[str, str]], mode: str) -> tuple[ModelTurn, int]:
        kwargs = self._request(messages, mode)
        client = self.client()
        if not self.stream:
            response = await asyncio.wait_for(
                client.chat.completions.create(**kwargs), self.limits.first_token
            )
            if not response.choices:
                raise GarbageError("no choices")
            message = response.choices[0].message
            calls = [
                (c.function.name, c.function.arguments)
                for c in message.tool_calls or []
                if c.type == "function"
            ]
            usage = response.usage.total_tokens if response.usage else 0
            return _read(message.content or "", calls, usage, kwargs["messages"])

        stream = await asyncio.wait_for(client.chat.completions.create(**kwargs), self.limits.first_token)
        content: list[str] = []
        tools: dict[int, list[str]] = {}
        usage = 0
        try:
            iterator = stream.__aiter__()
            while True:
                try:
                    chunk = await asyncio.wait_for(iterator.__anext__(), self.limits.first_token)
                except StopAsyncIteration:
                    break
                if chunk.usage:
                    usage = chunk.usage.total_tokens
                for choice in chunk.choices:
                    delta = choice.delta
                    if delta.content:
                        content.append(delta.content)
                    for call in delta.tool_calls or []:
                        slot = tools.setdefault(call.index, ["", ""])
                        if call.function and call.function.name:
                            slot[0] += call.function.name
                        if call.function and call.function.arguments:
                            slot[1] += call.function.arguments
        finally:
            await stream.close()
        calls = [(name, args) for name, args in tools.values()]
        return _read("".join(content), calls, usage, kwargs["messages"])


def _read(
    content: str, calls: list[tuple[str, str]], usage: int, messages: list[dict[str, str]]
) -> tuple[ModelTurn, int]:
    tokens = usage or count_messages(messages) + count_tokens(content + "".join(a for _, a in calls))
    for name, arguments in calls:
        if name == TOOL_NAME:
            turn = parse_arguments(arguments)
            if not turn.reply and content.strip():
                turn = ModelTurn(content.strip(), turn.intents, turn.values, True)
            return turn, tokens
    return parse_text(content), tokens


def _retry_after(exc: openai.APIStatusError) -> float | None:
    value = exc.response.headers.get("retry-after") if exc.response is not None else None
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None


def _short(exc: Exception) -> str:
    return str(exc).replace("\n", " ")[:160]
