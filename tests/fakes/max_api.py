"""A fake MAX Bot API (platform-api.max.ru) on 127.0.0.1, driven by the real httpx client.

Shaped after the platform's published schema (and the `maxapi` package's models that mirror it):
`GET /me`; `POST /messages?user_id=|chat_id=` (`{text, attachments: [{type: "inline_keyboard", payload:
{buttons: [[{type: "callback", text, payload} | {type: "request_contact", text}]]}}]}` -> `{message}`);
`GET /updates?marker=&timeout=&limit=&types=` (long polling: held until an update is queued or the
timeout passes) -> `{updates, marker}`; `POST /answers?callback_id=`; `POST/GET/DELETE /subscriptions`;
`POST /chats/{chatId}/actions`. Auth: the `Authorization: <token>` header or the older `access_token` query
parameter. Errors as MAX answers them, `{"code", "message"}`: 401 `verify.token`, 404 `chat.not.found` for
an unknown user, 403 `error.dialog.suspended` for one who blocked the bot, 400 `proto.payload` for text
over 4,000 characters or a malformed keyboard, 429 `too.many.requests` (`fail_next`); `gate` holds sends. Everything accepted
is recorded (`sent`, `answers`, `actions`, `subscriptions`).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections import Counter, deque
from typing import Any

from aiohttp import web

from tests.fakes import SHUTDOWN_TIMEOUT

TOKEN = "max-test-token-0123456789"
BOT_ID = 5550001
ACTIONS = frozenset(
    {"typing_on", "sending_photo", "sending_video", "sending_audio", "sending_file", "mark_seen"}
)
BUTTON_TYPES = frozenset({"callback", "link", "request_contact", "request_geo_location", "message", "chat"})


class MaxRefusal(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def chat_of(user_id: int) -> int:
    """The dialog chat between the bot and a user."""
    return 900_000_000 + user_id


class FakeMaxApi:
    def __init__(self, token: str = TOKEN) -> None:
        self.token = token
        self.users: dict[int, dict[str, Any]] = {}
        self.blocked: set[int] = set()
        self.chats: set[int] = set()  # group chats the bot is in (an administrators' chat)
        self.edits: list[dict[str, Any]] = []  # PUT /messages
        self.sent: list[dict[str, Any]] = []  # accepted messages: {user_id, chat_id, text, attachments, mid}
        self.refused: list[tuple[str, dict[str, Any]]] = []
        self.answers: list[dict[str, Any]] = []
        self.actions: list[tuple[int, str]] = []
        self.subscriptions: list[dict[str, Any]] = []
        self.updates: list[dict[str, Any]] = []  # every update queued, the marker indexes it
        self.taken = 0  # how far polling has asked
        self.markers_asked: list[str | None] = []
        self.gate: asyncio.Event | None = (
            None  # when set to an unset Event, message sends wait for it  # the `marker` of each long poll, as sent
        )
        self.requests: Counter[str] = Counter()
        self.auth_styles: Counter[str] = Counter()
        self._failures: deque[tuple[int, str, str]] = deque()
        self._mids = itertools.count(1)
        self._callbacks = itertools.count(1)
        self._queued: asyncio.Event | None = None
        self._runner: web.AppRunner | None = None
        self.url = ""

    # --- control ----------------------------------------------------------------------------------

    def add_user(
        self, user_id: int, first_name: str, last_name: str = "", username: str = ""
    ) -> dict[str, Any]:
        user = {
            "user_id": user_id,
            "first_name": first_name,
            "last_name": last_name or None,
            "username": username or None,
            "is_bot": False,
            "name": f"{first_name} {last_name}".strip(),
        }
        self.users[user_id] = user
        return user

    def fail_next(
        self,
        n: int = 1,
        *,
        status: int = 429,
        code: str = "too.many.requests",
        message: str = "Too many requests",
    ) -> None:
        """The next `n` message sends are refused with this error."""
        self._failures.extend((status, code, message) for _ in range(n))

    def to(self, user_id: int) -> list[dict[str, Any]]:
        return [m for m in self.sent if m["user_id"] == user_id]

    def in_chat(self, chat_id: int) -> list[dict[str, Any]]:
        return [m for m in self.sent if m["user_id"] is None and m["chat_id"] == chat_id]

    def queue(self, update: dict[str, Any]) -> None:
        """An update for long polling."""
        self.updates.append(update)
        if self._queued is not None:
            self._queued.set()

    # --- updates as MAX builds them ---------------------------------------------------------------

    def message_created(
        self, user_id: int, text: str = "", *, attachments: list[dict[str, Any]] | None = None, mid: str = ""
    ) -> dict[str, Any]:
        seq = next(self._mids)
        return {
            "update_type": "message_created",
            "timestamp": 1_790_000_000_000 + seq,
            "message": {
                "sender": self.users[user_id],
                "recipient": {"chat_id": chat_of(user_id), "chat_type": "dialog", "user_id": BOT_ID},
                "timestamp": 1_790_000_000_000 + seq,
                "body": {
                    "mid": mid or f"mid.in.{seq:08d}",
                    "seq": seq,
                    "text": text,
                    "attachments": attachments,
                },
            },
            "user_locale": "ru",
        }

    def contact(self, user_id: int, phone: str) -> dict[str, Any]:
        user = self.users[user_id]
        vcf = f"BEGIN:VCARD\r\nVERSION:3.0\r\nFN:{user['name']}\r\nTEL;TYPE=cell:{phone}\r\nEND:VCARD\r\n"
        attachment = {"type": "contact", "payload": {"vcf_info": vcf, "max_info": user, "hash": None}}
        return self.message_created(user_id, "", attachments=[attachment])

    def press(self, user_id: int, message: dict[str, Any], payload: str) -> dict[str, Any]:
        """The user taps the callback button with `payload` on a message the bot sent."""
        callback_id = f"cb.{next(self._callbacks):06d}"
        return {
            "update_type": "message_callback",
            "timestamp": 1_790_000_100_000,
            "callback": {
                "timestamp": 1_790_000_100_000,
                "callback_id": callback_id,
                "payload": payload,
                "user": self.users[user_id],
            },
            "message": {
                "sender": {"user_id": BOT_ID, "first_name": "Клиника", "is_bot": True},
                "recipient": {"chat_id": chat_of(user_id), "chat_type": "dialog", "user_id": user_id},
                "timestamp": 1_790_000_000_000,
                "body": {
                    "mid": message["mid"],
                    "seq": 1,
                    "text": message["text"],
                    "attachments": message["attachments"],
                },
            },
            "user_locale": "ru",
        }

    def chat_reply(self, user_id: int, chat_id: int, replied: dict[str, Any], text: str) -> dict[str, Any]:
        """A member of a group chat answers ("Ответить") one of the bot's messages there."""
        update = self.message_created(user_id, text)
        message = update["message"]
        message["recipient"] = {"chat_id": chat_id, "chat_type": "chat"}
        message["link"] = {
            "type": "reply",
            "sender": {"user_id": BOT_ID, "first_name": "Здоровье Самары", "is_bot": True},
            "chat_id": chat_id,
            "message": {
                "mid": replied["mid"],
                "seq": 1,
                "text": replied["text"],
                "attachments": replied["attachments"],
            },
        }
        return update

    def chat_press(self, user_id: int, chat_id: int, message: dict[str, Any], payload: str) -> dict[str, Any]:
        update = self.press(user_id, message, payload)
        update["message"]["recipient"] = {"chat_id": chat_id, "chat_type": "chat"}
        return update

    def bot_started(self, user_id: int) -> dict[str, Any]:
        return {
            "update_type": "bot_started",
            "timestamp": 1_790_000_000_000 + next(self._mids),
            "chat_id": chat_of(user_id),
            "user": self.users[user_id],
            "payload": None,
        }

    # --- server -----------------------------------------------------------------------------------

    async def start(self) -> str:
        self._queued = asyncio.Event()
        app = web.Application(middlewares=[self._auth])
        app.router.add_get("/me", self._me)
        app.router.add_post("/messages", self._messages)
        app.router.add_put("/messages", self._edit)
        app.router.add_get("/updates", self._updates)
        app.router.add_post("/answers", self._answer)
        app.router.add_post("/subscriptions", self._subscribe)
        app.router.add_get("/subscriptions", self._subscriptions)
        app.router.add_delete("/subscriptions", self._unsubscribe)
        app.router.add_post("/chats/{chat_id}/actions", self._action)
        app.router.add_get("/chats/{chat_id}", self._chat)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=SHUTDOWN_TIMEOUT)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.url = f"http://127.0.0.1:{self._runner.addresses[0][1]}"
        return self.url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    @web.middleware
    async def _auth(self, request: web.Request, handler: Any) -> web.StreamResponse:
        self.requests[f"{request.method} {request.path}"] += 1
        header, query = request.headers.get("Authorization"), request.query.get("access_token")
        if header == self.token:
            self.auth_styles["header"] += 1
        elif query == self.token:
            self.auth_styles["query"] += 1
        else:
            return self._error(MaxRefusal(401, "verify.token", "Invalid access_token"))
        try:
            response: web.StreamResponse = await handler(request)
        except MaxRefusal as exc:
            return self._error(exc)
        return response

    @staticmethod
    def _error(exc: MaxRefusal) -> web.Response:
        return web.json_response({"code": exc.code, "message": exc.message}, status=exc.status)

    async def _me(self, request: web.Request) -> web.Response:
        return web.json_response(
            {
                "user_id": BOT_ID,
                "first_name": "Здоровье Самары",
                "username": "zdorovie_samara_bot",
                "is_bot": True,
            }
        )

    async def _body(self, request: web.Request) -> dict[str, Any]:
        try:
            body = await request.json()
        except ValueError as exc:
            raise MaxRefusal(400, "proto.payload", "Invalid JSON") from exc
        if not isinstance(body, dict):
            raise MaxRefusal(400, "proto.payload", "Body must be an object")
        return body

    async def _messages(self, request: web.Request) -> web.Response:
        body = await self._body(request)
        user_raw, chat_raw = request.query.get("user_id"), request.query.get("chat_id")
        if chat_raw and int(chat_raw) in self.chats:
            return self._accept(None, int(chat_raw), body)
        try:
            user_id = (
                int(user_raw) if user_raw else next(u for u in self.users if chat_of(u) == int(chat_raw or 0))
            )
        except (ValueError, StopIteration) as exc:
            raise MaxRefusal(404, "chat.not.found", f"Chat {chat_raw or user_raw} not found") from exc
        if self.gate is not None:
            await self.gate.wait()
        try:
            if self._failures:
                status, code, message = self._failures.popleft()
                raise MaxRefusal(status, code, message)
            if user_id not in self.users:
                raise MaxRefusal(404, "chat.not.found", f"Chat for user {user_id} not found")
            if user_id in self.blocked:
                raise MaxRefusal(
                    403, "error.dialog.suspended", "Dialog is suspended: the user blocked the bot"
                )
            self._validate(body)
        except MaxRefusal as exc:
            self.refused.append((exc.code, body))
            raise
        return self._accept(user_id, chat_of(user_id), body)

    def _accept(self, user_id: int | None, chat_id: int, body: dict[str, Any]) -> web.Response:
        self._validate(body)
        mid = f"mid.out.{next(self._mids):08d}"
        record = {
            "user_id": user_id,
            "chat_id": chat_id,
            "mid": mid,
            "text": body.get("text") or "",
            "attachments": body.get("attachments") or [],
        }
        self.sent.append(record)
        return web.json_response(
            {
                "message": {
                    "sender": {"user_id": BOT_ID, "first_name": "Здоровье Самары", "is_bot": True},
                    "recipient": {
                        "chat_id": chat_id,
                        "chat_type": "dialog" if user_id is not None else "chat",
                        "user_id": user_id,
                    },
                    "timestamp": 1_790_000_000_000,
                    "body": {
                        "mid": mid,
                        "seq": 1,
                        "text": record["text"],
                        "attachments": record["attachments"],
                    },
                }
            }
        )

    async def _edit(self, request: web.Request) -> web.Response:
        mid = request.query.get("message_id", "")
        body = await self._body(request)
        found = next((m for m in self.sent if m["mid"] == mid), None)
        if found is None:
            raise MaxRefusal(404, "message.not.found", f"Message {mid} not found")
        self._validate(body)
        found["text"] = body.get("text") or found["text"]
        if "attachments" in body:
            found["attachments"] = body["attachments"] or []
        self.edits.append({"mid": mid, **body})
        return web.json_response({"success": True})

    @staticmethod
    def _validate(body: dict[str, Any]) -> None:
        text = body.get("text")
        if text is not None and len(str(text)) > 4000:
            raise MaxRefusal(400, "proto.payload", "text: size must be between 0 and 4000")
        attachments = body.get("attachments") or []
        if not text and not attachments:
            raise MaxRefusal(400, "proto.payload", "Message must have text or attachments")
        for attachment in attachments:
            if attachment.get("type") != "inline_keyboard":
                raise MaxRefusal(400, "proto.payload", f"Unknown attachment type {attachment.get('type')}")
            rows = (attachment.get("payload") or {}).get("buttons") or []
            if not 1 <= len(rows) <= 30 or sum(len(r) for r in rows) > 210:
                raise MaxRefusal(400, "proto.payload", "Keyboard: at most 30 rows and 210 buttons")
            for row in rows:
                if not 1 <= len(row) <= 7:
                    raise MaxRefusal(400, "proto.payload", "Keyboard: 1 to 7 buttons a row")
                for button in row:
                    if (
                        button.get("type") not in BUTTON_TYPES
                        or not 1 <= len(str(button.get("text") or "")) <= 128
                    ):
                        raise MaxRefusal(400, "proto.payload", f"Invalid button {button}")
                    if (
                        button["type"] == "callback"
                        and not 1 <= len(str(button.get("payload") or "")) <= 1024
                    ):
                        raise MaxRefusal(400, "proto.payload", "Callback button needs a payload")

    async def _updates(self, request: web.Request) -> web.Response:
        assert self._queued is not None
        query = request.query
        self.markers_asked.append(query.get("marker"))
        marker = int(query["marker"]) if query.get("marker") else self.taken
        timeout = min(int(query.get("timeout") or 30), 90)
        limit = int(query.get("limit") or 100)
        types = set(query["types"].split(",")) if query.get("types") else None
        if marker >= len(self.updates):
            self._queued.clear()
            with contextlib.suppress(TimeoutError):  # a long poll that saw nothing answers empty
                await asyncio.wait_for(self._queued.wait(), timeout)
        batch = self.updates[marker : marker + limit]
        self.taken = max(self.taken, marker)
        chosen = [u for u in batch if types is None or u["update_type"] in types]
        return web.json_response({"updates": chosen, "marker": marker + len(batch)})

    async def _answer(self, request: web.Request) -> web.Response:
        callback_id = request.query.get("callback_id")
        if not callback_id:
            raise MaxRefusal(400, "proto.payload", "callback_id is required")
        body = await self._body(request)
        if "message" not in body and "notification" not in body:
            raise MaxRefusal(400, "proto.payload", "message or notification is required")
        self.answers.append({"callback_id": callback_id, **body})
        return web.json_response({"success": True})

    async def _subscribe(self, request: web.Request) -> web.Response:
        body = await self._body(request)
        url, secret = str(body.get("url") or ""), body.get("secret")
        if not url.startswith("https://"):
            raise MaxRefusal(400, "proto.payload", "url must be https")
        if secret is not None and not 5 <= len(str(secret)) <= 256:
            raise MaxRefusal(400, "proto.payload", "secret: size must be between 5 and 256")
        self.subscriptions = [s for s in self.subscriptions if s["url"] != url]
        self.subscriptions.append({"url": url, "secret": secret, "update_types": body.get("update_types")})
        return web.json_response({"success": True})

    async def _subscriptions(self, request: web.Request) -> web.Response:
        shown = [
            {"url": s["url"], "time": 1_790_000_000_000, "update_types": s["update_types"]}
            for s in self.subscriptions
        ]
        return web.json_response({"subscriptions": shown})

    async def _unsubscribe(self, request: web.Request) -> web.Response:
        url = request.query.get("url", "")
        self.subscriptions = [s for s in self.subscriptions if s["url"] != url]
        return web.json_response({"success": True})

    async def _chat(self, request: web.Request) -> web.Response:
        chat_id = int(request.match_info["chat_id"])
        if chat_id not in self.chats:
            raise MaxRefusal(404, "chat.not.found", f"Chat {chat_id} not found")
        return web.json_response(
            {"chat_id": chat_id, "type": "chat", "status": "active", "title": "Администраторы"}
        )

    async def _action(self, request: web.Request) -> web.Response:
        body = await self._body(request)
        if body.get("action") not in ACTIONS:
            raise MaxRefusal(400, "proto.payload", f"Unknown action {body.get('action')}")
        chat_id = int(request.match_info["chat_id"])
        if not any(chat_of(u) == chat_id for u in self.users):
            raise MaxRefusal(404, "chat.not.found", f"Chat {chat_id} not found")
        self.actions.append((chat_id, str(body["action"])))
        return web.json_response({"success": True})
