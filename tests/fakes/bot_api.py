"""A fake Telegram Bot API server on 127.0.0.1, driven by the real aiogram `Bot`.

It speaks the wire protocol aiogram uses: `POST /bot<token>/<method>` with form fields (JSON-encoded when
complex), answers `{"ok": true, "result": ...}` or Telegram's errors: 400 for over-long text or broken HTML
markup, 403 for a patient who blocked the bot, 409 to a long poll another `getUpdates` replaced, 429 with
`retry_after` and 5xx on demand (`fail_next`), and, once `enforce_limits()` is called, 429 with
`parameters.retry_after` to whatever goes over Telegram's published limits (counted in `refused`). `getUpdates` long-polls queued updates and honours `offset`
(updates below it are confirmed and dropped, as Telegram does). Every call is recorded in `calls`.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any

from aiohttp import web

from tests.fakes import SHUTDOWN_TIMEOUT
from tests.fakes.telegram_limits import Limits

TOKEN = "123456:TEST-token-for-the-fake-bot-api"
BOT_ID = 123456
BOT_USERNAME = "clinic_test_bot"
ALLOWED_TAGS = {"b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "a", "code", "pre", "tg-spoiler",
                "span", "blockquote", "tg-emoji"}  # fmt: skip


class _MarkupCheck(HTMLParser):
    """Telegram's HTML parse mode: known tags, properly nested, entities only the four it knows."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=False)
        self.stack: list[str] = []
        self.error = ""
        self.length = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in ALLOWED_TAGS:
            self.error = f'Unsupported start tag "{tag}"'
        self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack[-1] != tag:
            self.error = f'Unexpected end tag "{tag}"'
        else:
            self.stack.pop()

    def handle_data(self, data: str) -> None:
        if "<" in data or ">" in data:
            self.error = "Unsupported start tag"
        self.length += len(data)

    def handle_entityref(self, name: str) -> None:
        if name not in {"lt", "gt", "amp", "quot"}:
            self.error = f"Unsupported entity &{name};"
        self.length += 1

    def handle_charref(self, name: str) -> None:
        self.length += 1


def check_html(text: str) -> tuple[str, int]:
    """('', visible length) when Telegram would accept the text, else (error, 0)."""
    if re.search(r"<(?![a-zA-Z/])", text):
        return "Can't parse entities: unsupported start tag", 0
    parser = _MarkupCheck()
    parser.feed(text)
    parser.close()
    if parser.error or parser.stack:
        return f"Can't parse entities: {parser.error or 'unclosed tag'}", 0
    return "", parser.length


@dataclass
class Sent:
    """A message the bot sent (and its later edits)."""

    chat_id: int
    message_id: int
    text: str
    reply_markup: dict[str, Any] | None = None
    parse_mode: str | None = None
    reply_to: int | None = None
    edits: list[str] = field(default_factory=list)

    @property
    def buttons(self) -> list[tuple[str, str]]:
        """(label, callback_data) of the inline keyboard."""
        rows = (self.reply_markup or {}).get("inline_keyboard", [])
        return [(b["text"], b.get("callback_data", "")) for row in rows for b in row]

    @property
    def asks_contact(self) -> bool:
        rows = (self.reply_markup or {}).get("keyboard", [])
        return any(isinstance(b, dict) and b.get("request_contact") for row in rows for b in row)


class FakeBotApi:
    """The server's state: queued updates, sent messages, chat members, switchable failures."""

    def __init__(self, token: str = TOKEN) -> None:
        self.token = token
        self.updates: list[dict[str, Any]] = []
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.sent: list[Sent] = []
        self.by_id: dict[tuple[int, int], Sent] = {}
        self.answered: list[dict[str, Any]] = []
        self.actions: list[tuple[int, str]] = []
        self.commands: list[dict[str, Any]] = []
        self.photos: list[tuple[int, int]] = []  # (chat_id, bytes)
        self.members: dict[int, set[int]] = {}
        self.blocked: set[int] = set()
        self.held: set[int] = set()  # chats whose sendMessage hangs, unanswered and unsent, until released
        self._release = asyncio.Event()
        self.usernames: dict[int, str] = {}
        self.webhook: dict[str, Any] = {"url": ""}
        self.failures: list[tuple[int, int, str | None]] = []  # (status, retry_after, only this method)
        self.latency = 0.0
        self.limits: Limits | None = None  # Telegram's limits enforced (`enforce_limits`)
        self.refused: list[tuple[str, str]] = []  # (method, chat id) answered 429 by the limits
        self.missing: set[str] = set()  # methods this server does not know (404), lower case
        self.bare_results = False  # sent messages answered as {"message_id": n} only (a sloppy proxy)
        self._update_ids = itertools.count(1000)
        self._message_ids = itertools.count(1)
        self._new_update = asyncio.Event()
        self._poll_generation = 0
        self._stopping = False
        self._runner: web.AppRunner | None = None
        self.port = 0
        self.on_send: Callable[[Sent], None] | None = None
        self.on_confirm: Callable[[list[int]], None] | None = None  # update ids a poll's offset forgets

    # --- the test's side ------------------------------------------------------------------------

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> FakeBotApi:
        app = web.Application()
        app.router.add_post("/bot{token}/{method}", self._dispatch)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=SHUTDOWN_TIMEOUT)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = int(self._runner.addresses[0][1])
        return self

    async def stop(self) -> None:
        self._stopping = True  # open long polls end with an empty answer
        self._new_update.set()
        if self._runner is not None:
            await self._runner.cleanup()

    def fail_next(self, n: int, status: int = 429, retry_after: int = 1, method: str | None = None) -> None:
        """The next `n` calls (of `method`, or any but getUpdates) fail with `status`."""
        self.failures.extend([(status, retry_after, method)] * n)

    def enforce_limits(self, limits: Limits | None = None) -> Limits:
        """From now on, calls over Telegram's limits are answered 429 with `retry_after` (see `Limits`)."""
        self.limits = limits or Limits()
        return self.limits

    def release(self) -> None:
        """Held sendMessage calls go on (a client that is gone no longer gets their answer)."""
        self.held.clear()
        self._release.set()

    def add_update(self, update: dict[str, Any]) -> dict[str, Any]:
        update.setdefault("update_id", next(self._update_ids))
        self.updates.append(update)
        self._new_update.set()
        return update

    def user(self, user_id: int, first_name: str = "Анна", username: str | None = None) -> dict[str, Any]:
        """A user; a username given once sticks to that user id (as on Telegram)."""
        if username:
            self.usernames[user_id] = username
        username = self.usernames.get(user_id)
        user: dict[str, Any] = {"id": user_id, "is_bot": False, "first_name": first_name}
        if username:
            user["username"] = username
        return user

    @staticmethod
    def chat(chat_id: int, kind: str = "private") -> dict[str, Any]:
        chat: dict[str, Any] = {"id": chat_id, "type": kind}
        if kind != "private":
            chat["title"] = "Администраторы"
        return chat

    def message(
        self,
        chat_id: int,
        text: str | None = None,
        *,
        user_id: int | None = None,
        username: str | None = None,
        first_name: str = "Анна",
        chat_type: str = "private",
        reply_to: Sent | None = None,
        extra: dict[str, Any] | None = None,
        edited: bool = False,
        message_id: int | None = None,
    ) -> dict[str, Any]:
        """Queue a message update from a user (private chat by default)."""
        body: dict[str, Any] = {
            "message_id": message_id or next(self._message_ids),
            "date": int(time.time()),
            "chat": self.chat(chat_id, chat_type),
            "from": self.user(user_id or chat_id, first_name, username),
        }
        if text is not None:
            body["text"] = text
            if text.startswith("/"):
                body["entities"] = [{"type": "bot_command", "offset": 0, "length": len(text.split()[0])}]
        if reply_to is not None:
            body["reply_to_message"] = self._as_message(reply_to)
        if edited:
            body["edit_date"] = int(time.time())
        body.update(extra or {})
        return self.add_update({"edited_message" if edited else "message": body})

    def contact(self, chat_id: int, phone: str, *, user_id: int | None = None) -> dict[str, Any]:
        uid = user_id or chat_id
        return self.message(
            chat_id,
            None,
            user_id=uid,
            extra={"contact": {"phone_number": phone, "first_name": "Анна", "user_id": uid}},
        )

    def press(
        self, sent: Sent, data: str, *, user_id: int | None = None, username: str | None = None
    ) -> dict[str, Any]:
        """Queue a callback query: a user pressed a button of a message the bot sent."""
        uid = user_id or sent.chat_id
        return self.add_update(
            {
                "callback_query": {
                    "id": str(next(self._update_ids)),
                    "from": self.user(uid, "Ольга", username),
                    "chat_instance": f"ci{sent.chat_id}",
                    "data": data,
                    "message": self._as_message(sent),
                }
            }
        )

    def _as_message(self, sent: Sent) -> dict[str, Any]:
        kind = "private" if sent.chat_id > 0 else "supergroup"
        body: dict[str, Any] = {
            "message_id": sent.message_id,
            "date": int(time.time()),
            "chat": self.chat(sent.chat_id, kind),
            "from": {"id": BOT_ID, "is_bot": True, "first_name": "Клиника", "username": BOT_USERNAME},
            "text": sent.edits[-1] if sent.edits else sent.text,
        }
        if sent.reply_markup and "inline_keyboard" in sent.reply_markup:
            body["reply_markup"] = sent.reply_markup
        return body

    def to(self, chat_id: int) -> list[Sent]:
        return [s for s in self.sent if s.chat_id == chat_id]

    def method_calls(self, method: str) -> list[dict[str, Any]]:
        return [params for name, params in self.calls if name == method]

    async def wait_for(self, predicate: Callable[[], Any], timeout: float = 5.0) -> Any:
        """Poll until `predicate()` is truthy; return its value (AssertionError on timeout)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = predicate()
            if value:
                return value
            await asyncio.sleep(0.01)
        raise AssertionError(f"timed out waiting; sent so far: {[s.text[:60] for s in self.sent]}")

    async def wait_sent(self, chat_id: int, count: int, timeout: float = 5.0) -> list[Sent]:
        """Wait until the bot has sent at least `count` messages to the chat; return them all."""
        await self.wait_for(lambda: len(self.to(chat_id)) >= count, timeout)
        return self.to(chat_id)

    # --- the wire -------------------------------------------------------------------------------

    async def _dispatch(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return self._error(401, "Unauthorized")
        method = request.match_info["method"]
        params = await self._params(request)
        self.calls.append((method, params))
        if self.latency:
            await asyncio.sleep(self.latency)
        if method.lower() != "getupdates" and self.failures:
            status, retry_after, only = self.failures[0]
            if only is None or only.lower() == method.lower():
                self.failures.pop(0)
                if status == 429:
                    return self._error(
                        429, f"Too Many Requests: retry after {retry_after}", {"retry_after": retry_after}
                    )
                return self._error(status, "Internal Server Error" if status >= 500 else "Bad Request")
        if self.limits is not None:
            retry_after = self.limits.refusal(method, params, time.monotonic())
            if retry_after:
                self.refused.append((method, str(params.get("chat_id", ""))))
                return self._error(
                    429,
                    f"Too Many Requests: retry after {retry_after:.0f}",
                    {"retry_after": int(retry_after)},
                )
        handler = getattr(self, f"_m_{method.lower()}", None)
        if handler is None or method.lower() in self.missing:
            return self._error(404, "Not Found: method not found")
        result = await handler(params)
        if isinstance(result, web.Response):
            return result
        return web.json_response({"ok": True, "result": result})

    @staticmethod
    async def _params(request: web.Request) -> dict[str, Any]:
        params: dict[str, Any] = {}
        if request.content_type == "application/json":
            return dict(await request.json())
        form = await request.post()
        for key, value in form.items():
            if isinstance(value, str):
                try:
                    params[key] = json.loads(value) if value[:1] in "[{" else value
                except ValueError:
                    params[key] = value
            else:
                params[key] = value.file.read()
        return params

    @staticmethod
    def _error(status: int, description: str, parameters: dict[str, Any] | None = None) -> web.Response:
        body: dict[str, Any] = {"ok": False, "error_code": status, "description": description}
        if parameters:
            body["parameters"] = parameters
        return web.json_response(body, status=status)

    def _check_text(self, params: dict[str, Any], key: str = "text") -> web.Response | None:
        text = str(params.get(key, ""))
        if not text.strip():
            return self._error(400, "Bad Request: message text is empty")
        length = len(text)
        if params.get("parse_mode") == "HTML":
            error, length = check_html(text)
            if error:
                return self._error(400, f"Bad Request: {error}")
        if length > 4096:
            return self._error(400, "Bad Request: message is too long")
        return None

    # --- methods ----------------------------------------------------------------------------------

    async def _m_getme(self, params: dict[str, Any]) -> Any:
        return {"id": BOT_ID, "is_bot": True, "first_name": "Клиника", "username": BOT_USERNAME,
                "can_join_groups": True, "can_read_all_group_messages": False,
                "supports_inline_queries": False}  # fmt: skip

    async def _m_getupdates(self, params: dict[str, Any]) -> Any:
        if self.webhook["url"]:
            return self._error(409, "Conflict: can't use getUpdates method while webhook is active")
        self._poll_generation += 1
        generation = self._poll_generation
        self._new_update.set()  # wake (and terminate) an older long poll
        await asyncio.sleep(0)
        offset = int(params.get("offset") or 0)
        if offset:
            confirmed = [u["update_id"] for u in self.updates if u["update_id"] < offset]
            if confirmed and self.on_confirm is not None:
                self.on_confirm(confirmed)
            self.updates = [u for u in self.updates if u["update_id"] >= offset]
        timeout = float(params.get("timeout") or 0)
        deadline = time.monotonic() + timeout
        while True:
            if generation != self._poll_generation:
                return self._error(409, "Conflict: terminated by other getUpdates request")
            if self.updates or time.monotonic() >= deadline or self._stopping:
                limit = int(params.get("limit") or 100)
                return self.updates[:limit]
            self._new_update.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._new_update.wait(), max(0.0, deadline - time.monotonic()))

    def _record(self, params: dict[str, Any], text: str) -> Sent:
        sent = Sent(
            int(params["chat_id"]),
            next(self._message_ids),
            text,
            params.get("reply_markup"),
            params.get("parse_mode"),
            int(params["reply_to_message_id"]) if params.get("reply_to_message_id") else None,
        )
        if isinstance(params.get("reply_parameters"), dict):
            sent.reply_to = params["reply_parameters"].get("message_id")
        self.sent.append(sent)
        self.by_id[(sent.chat_id, sent.message_id)] = sent
        if self.on_send:
            self.on_send(sent)
        return sent

    def _message_result(self, sent: Sent) -> dict[str, Any]:
        if self.bare_results:
            return {"message_id": sent.message_id}
        body = self._as_message(sent)
        if sent.reply_markup is not None:
            body["reply_markup"] = sent.reply_markup if "inline_keyboard" in sent.reply_markup else None
            if body["reply_markup"] is None:
                del body["reply_markup"]
        return body

    async def _m_sendmessage(self, params: dict[str, Any]) -> Any:
        chat_id = int(params["chat_id"])
        if chat_id in self.held:
            self._release.clear()
            await self._release.wait()
            return self._error(500, "Internal Server Error: held, then dropped")
        if chat_id in self.blocked:
            return self._error(403, "Forbidden: bot was blocked by the user")
        bad = self._check_text(params)
        if bad is not None:
            return bad
        markup = params.get("reply_markup")
        if isinstance(markup, dict) and "inline_keyboard" in markup:
            for row in markup["inline_keyboard"]:
                for button in row:
                    if len(str(button.get("callback_data", "")).encode()) > 64:
                        return self._error(400, "Bad Request: BUTTON_DATA_INVALID")
        return self._message_result(self._record(params, str(params["text"])))

    async def _m_sendphoto(self, params: dict[str, Any]) -> Any:
        photo = params.get("photo", b"")
        if isinstance(photo, str) and photo.startswith("attach://"):
            photo = params.get(photo.removeprefix("attach://"), b"")
        self.photos.append((int(params["chat_id"]), len(photo) if isinstance(photo, bytes) else 0))
        sent = self._record(params, str(params.get("caption", "")))
        return {**self._message_result(sent), "photo": [{"file_id": "p1", "file_unique_id": "u1",
                                                          "width": 10, "height": 10}]}  # fmt: skip

    async def _m_editmessagetext(self, params: dict[str, Any]) -> Any:
        sent = self.by_id.get((int(params["chat_id"]), int(params["message_id"])))
        if sent is None:
            return self._error(400, "Bad Request: message to edit not found")
        bad = self._check_text(params)
        if bad is not None:
            return bad
        current = sent.edits[-1] if sent.edits else sent.text
        if params["text"] == current and params.get("reply_markup") == sent.reply_markup:
            return self._error(400, "Bad Request: message is not modified")
        sent.edits.append(str(params["text"]))
        sent.reply_markup = params.get("reply_markup")
        return self._message_result(sent)

    async def _m_editmessagereplymarkup(self, params: dict[str, Any]) -> Any:
        sent = self.by_id.get((int(params["chat_id"]), int(params["message_id"])))
        if sent is None:
            return self._error(400, "Bad Request: message to edit not found")
        sent.reply_markup = params.get("reply_markup")
        return self._message_result(sent)

    async def _m_answercallbackquery(self, params: dict[str, Any]) -> Any:
        self.answered.append(params)
        return True

    async def _m_sendchataction(self, params: dict[str, Any]) -> Any:
        self.actions.append((int(params["chat_id"]), str(params["action"])))
        return True

    async def _m_setmycommands(self, params: dict[str, Any]) -> Any:
        self.commands = list(params.get("commands", []))
        return True

    async def _m_getchatmember(self, params: dict[str, Any]) -> Any:
        chat_id, user_id = int(params["chat_id"]), int(params["user_id"])
        if chat_id not in self.members and chat_id < 0:
            return self._error(400, "Bad Request: chat not found")
        user = self.user(user_id, "Ольга")
        if user_id == BOT_ID or user_id in self.members.get(chat_id, set()):
            return {"status": "member", "user": user}
        return {"status": "left", "user": user}

    async def _m_getchat(self, params: dict[str, Any]) -> Any:
        chat_id = int(params["chat_id"])
        if chat_id not in self.members:
            return self._error(400, "Bad Request: chat not found")
        return {**self.chat(chat_id, "supergroup"), "accent_color_id": 0, "max_reaction_count": 11}

    async def _m_setwebhook(self, params: dict[str, Any]) -> Any:
        self.webhook = {"url": params.get("url", ""), "secret_token": params.get("secret_token")}
        return True

    async def _m_deletewebhook(self, params: dict[str, Any]) -> Any:
        self.webhook = {"url": ""}
        return True

    async def _m_getwebhookinfo(self, params: dict[str, Any]) -> Any:
        return {"url": self.webhook["url"], "has_custom_certificate": False,
                "pending_update_count": 0 if self.webhook["url"] else len(self.updates)}  # fmt: skip

    async def _m_close(self, params: dict[str, Any]) -> Any:
        return True
