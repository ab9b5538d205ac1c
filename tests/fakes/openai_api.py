"""A fake OpenAI-compatible API on 127.0.0.1, driven by the real `openai` client.

`POST /v1/chat/completions` answers with or without streaming (SSE, `stream_options.include_usage`), as a
tool call when tools were offered, as JSON content under a JSON-schema response format, or as plain text.
Each answer comes from a queue of `Answer`s (or from `responder(request)` when the queue is empty), and
an answer can instead be a 429 (with Retry-After), a 500, a hang before or during the stream, malformed
tool arguments, a body that is not JSON, or prose that ignores the tool. `GET /v1/models/{id}` knows one
model. The server can refuse tools or JSON schema (400) like older compatible servers do. Every request
body is recorded in `requests`.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.fakes import SHUTDOWN_TIMEOUT

TOOL_FIELDS = ("name", "phone", "doctor", "specialty", "window", "visit")


@dataclass
class Answer:
    """What the fake model does for one request."""

    reply: str = "Здравствуйте! Чем могу помочь?"
    fields: dict[str, str | None] = field(default_factory=dict)
    intents: list[str] = field(default_factory=list)
    status: int = 200  # 429, 500...: an error instead of an answer
    retry_after: str | None = None
    hang: float = 0.0  # seconds of silence before the response starts
    hang_mid_stream: float = 0.0  # seconds of silence after the first chunk
    garbage: str = ""  # "args": tool arguments not JSON; "body": a response body not JSON
    prose: bool = False  # ignore the tool and write the reply as plain text
    raw_arguments: str | None = None  # exact tool-call arguments (e.g. an injected payload)

    def arguments(self) -> str:
        if self.raw_arguments is not None:
            return self.raw_arguments
        if self.garbage == "args":
            return '{"reply": "Здравствуйте, сейчас уточ'
        data: dict[str, Any] = {"reply": self.reply, "intents": self.intents}
        data.update({k: self.fields.get(k) for k in TOOL_FIELDS})
        return json.dumps(data, ensure_ascii=False)


Responder = Callable[[dict[str, Any]], Answer]


class FakeOpenAI:
    def __init__(
        self,
        *,
        api_key: str = "sk-test",
        model: str = "gpt-4o-mini",
        supports_tools: bool = True,
        supports_json_schema: bool = True,
        responder: Responder | None = None,
    ) -> None:
        self.api_key = api_key
        self.model = model
        self.supports_tools = supports_tools
        self.supports_json_schema = supports_json_schema
        self.responder = responder
        self.queue: deque[Answer] = deque()
        self.requests: list[dict[str, Any]] = []
        self.statuses: list[int] = []
        self._ids = itertools.count(1)
        self._closing = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self.base_url = ""

    # --- lifecycle

    async def start(self) -> str:
        app = web.Application()
        app.router.add_post("/v1/chat/completions", self._completions)
        app.router.add_get("/v1/models/{model}", self._model)
        self._runner = web.AppRunner(app, shutdown_timeout=SHUTDOWN_TIMEOUT)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.base_url = f"http://127.0.0.1:{port}/v1"
        return self.base_url

    async def close(self) -> None:
        self._closing.set()
        if self._runner is not None:
            await self._runner.cleanup()

    def script(self, *answers: Answer) -> None:
        self.queue.extend(answers)

    # --- handlers

    def _authorised(self, request: web.Request) -> bool:
        return request.headers.get("Authorization") == f"Bearer {self.api_key}"

    @staticmethod
    def _error(status: int, message: str, headers: dict[str, str] | None = None) -> web.Response:
        kind = {400: "invalid_request_error", 401: "invalid_api_key", 404: "not_found", 429: "rate_limit"}
        body = {"error": {"message": message, "type": kind.get(status, "server_error"), "code": None}}
        return web.json_response(body, status=status, headers=headers)

    async def _model(self, request: web.Request) -> web.Response:
        if not self._authorised(request):
            return self._error(401, "Incorrect API key provided")
        name = request.match_info["model"]
        if name != self.model:
            return self._error(404, f"The model `{name}` does not exist")
        return web.json_response({"id": name, "object": "model", "created": 0, "owned_by": "fake"})

    async def _sleep(self, seconds: float) -> None:
        if seconds > 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._closing.wait(), seconds)

    async def _completions(self, request: web.Request) -> web.StreamResponse:
        if not self._authorised(request):
            return self._error(401, "Incorrect API key provided")
        body = await request.json()
        self.requests.append(body)
        if body.get("model") != self.model:
            return self._error(404, f"The model `{body.get('model')}` does not exist")
        if body.get("tools") and not self.supports_tools:
            self.statuses.append(400)
            return self._error(400, "tools are not supported by this server")
        if body.get("response_format", {}).get("type") == "json_schema" and not self.supports_json_schema:
            self.statuses.append(400)
            return self._error(400, "response_format json_schema is not supported")
        answer = self.queue.popleft() if self.queue else (self.responder or _default)(body)
        await self._sleep(answer.hang)
        if request.transport is None or request.transport.is_closing():
            return web.Response(status=499)  # the client gave up while we hung
        self.statuses.append(answer.status)
        if answer.status != 200:
            headers = {"Retry-After": answer.retry_after} if answer.retry_after else None
            return self._error(answer.status, "fake failure", headers)
        if answer.garbage == "body":
            return web.Response(text="<html>502 Bad Gateway</html>", content_type="application/json")
        use_tool = bool(body.get("tools")) and not answer.prose
        content = None if use_tool else (answer.reply if answer.prose else answer.arguments())
        if body.get("stream"):
            try:
                return await self._stream(request, body, answer, use_tool, content)
            except ConnectionResetError:  # the client gave up mid-stream
                return web.Response(status=499)
        message: dict[str, Any] = {"role": "assistant", "content": content}
        if use_tool:
            message["tool_calls"] = [self._tool_call(answer.arguments())]
        return web.json_response(
            {
                "id": f"chatcmpl-{next(self._ids)}",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": self.model,
                "choices": [
                    {"index": 0, "message": message, "finish_reason": "tool_calls" if use_tool else "stop"}
                ],
                "usage": self._usage(body, answer.arguments()),
            }
        )

    def _tool_call(self, arguments: str) -> dict[str, Any]:
        return {
            "id": f"call_{next(self._ids)}",
            "type": "function",
            "function": {"name": "record_turn", "arguments": arguments},
        }

    @staticmethod
    def _usage(body: dict[str, Any], output: str) -> dict[str, int]:
        prompt = sum(len(str(m.get("content") or "")) for m in body.get("messages", [])) // 3 + 10
        completion = len(output) // 3 + 1
        return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}

    async def _stream(
        self,
        request: web.Request,
        body: dict[str, Any],
        answer: Answer,
        use_tool: bool,
        content: str | None,
    ) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        ident = f"chatcmpl-{next(self._ids)}"

        async def send(delta: dict[str, Any], finish: str | None = None, usage: Any = None) -> None:
            chunk = {
                "id": ident,
                "object": "chat.completion.chunk",
                "created": int(time.time()),
                "model": self.model,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}] if usage is None else [],
            }
            if usage is not None:
                chunk["usage"] = usage
            await response.write(f"data: {json.dumps(chunk, ensure_ascii=False)}\n\n".encode())

        await send({"role": "assistant", "content": None if use_tool else ""})
        await self._sleep(answer.hang_mid_stream)
        if use_tool:
            call = self._tool_call("")
            await send({"tool_calls": [{"index": 0, **call}]})
            arguments = answer.arguments()
            for i in range(0, len(arguments), 17):
                piece = arguments[i : i + 17]
                await send({"tool_calls": [{"index": 0, "function": {"arguments": piece}}]})
            await send({}, "tool_calls")
        else:
            text = content or ""
            for i in range(0, len(text), 11):
                await send({"content": text[i : i + 11]})
            await send({}, "stop")
        if (body.get("stream_options") or {}).get("include_usage"):
            await send({}, usage=self._usage(body, answer.arguments()))
        await response.write(b"data: [DONE]\n\n")
        await response.write_eof()
        return response


def _default(body: dict[str, Any]) -> Answer:
    return Answer()


def last_user_text(body: dict[str, Any]) -> str:
    users = [m for m in body.get("messages", []) if m.get("role") == "user"]
    return str(users[-1].get("content") or "") if users else ""


def system_text(body: dict[str, Any]) -> str:
    return "\n".join(str(m.get("content")) for m in body.get("messages", []) if m.get("role") == "system")
