"""A fake WhatsApp Cloud API (Graph API) on 127.0.0.1, driven by the real httpx client.

`POST /{version}/{phone number id}/messages` takes text, interactive (button / list) and read receipts
(with the typing indicator), checked like Graph checks them: the bearer token (else 401, code 190), the
phone number id (else 400, code 100), `messaging_product`, text under 4,096 characters, at most 3 reply
buttons with titles of at most 20 characters, lists of at most 10 rows (titles 24, descriptions 72),
bodies of at most 1,024 characters (else 400, code 131009). `GET /{version}/{phone number id}` returns the
number's details. Switchable failures and delays: `fail_next(n, status, code)` for the next n sends,
`closed_windows` (recipients outside the 24-hour window: 131047), `gate` (sends wait until it is set).
Everything accepted is recorded in `sent`.
"""

from __future__ import annotations

import asyncio
import itertools
from collections import Counter, deque
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from tests.fakes import SHUTDOWN_TIMEOUT

TOKEN = "EAAG-test-token"
PHONE_NUMBER_ID = "109876543210987"
VERSION = "v21.0"


@dataclass(frozen=True)
class Failure:
    status: int
    code: int
    message: str


class GraphRefusal(Exception):
    def __init__(self, status: int, code: int, message: str, details: str = "") -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.details = status, code, message, details


def _invalid(details: str) -> GraphRefusal:
    return GraphRefusal(400, 131009, "(#131009) Parameter value is not valid", details)


class FakeGraphAPI:
    def __init__(self, token: str = TOKEN, phone_number_id: str = PHONE_NUMBER_ID) -> None:
        self.token = token
        self.phone_number_id = phone_number_id
        self.sent: list[dict[str, Any]] = []  # accepted messages, in order
        self.read_receipts: list[dict[str, Any]] = []
        self.refused: list[tuple[int, dict[str, Any]]] = []  # (Graph error code, payload)
        self.closed_windows: set[str] = set()
        self.requests = 0
        self.gate: asyncio.Event | None = None  # when set to an unset Event, sends wait for it
        self._failures: deque[Failure] = deque()
        self._changed: asyncio.Condition | None = None
        self.count_to: Counter[str] = Counter()  # accepted messages per recipient
        self._ids = itertools.count(1)
        self._runner: web.AppRunner | None = None
        self.url = ""

    # --- control ----------------------------------------------------------------------------------

    def fail_next(
        self, n: int = 1, *, status: int = 429, code: int = 130429, message: str = "(#130429) Rate limit hit"
    ) -> None:
        """The next `n` message sends (not read receipts) are refused with this error."""
        self._failures.extend(Failure(status, code, message) for _ in range(n))

    def to(self, wa_id: str) -> list[dict[str, Any]]:
        return [m for m in self.sent if m.get("to") == wa_id]

    def texts(self, wa_id: str | None = None) -> list[str]:
        """Every message's visible text (text body or interactive body) in order."""
        result = []
        for message in self.sent if wa_id is None else self.to(wa_id):
            if message["type"] == "text":
                result.append(message["text"]["body"])
            elif message["type"] == "interactive":
                result.append(message["interactive"]["body"]["text"])
        return result

    async def wait_sent(self, wa_id: str, count: int, timeout: float = 10.0) -> None:
        """Until `count` messages were accepted for `wa_id`."""
        if self._changed is None:
            self._changed = asyncio.Condition()
        async with self._changed:
            await asyncio.wait_for(self._changed.wait_for(lambda: self.count_to[wa_id] >= count), timeout)

    async def start(self) -> str:
        app = web.Application()
        app.router.add_post("/{version}/{phone_id}/messages", self._messages)
        app.router.add_get("/{version}/{phone_id}", self._phone_number)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=SHUTDOWN_TIMEOUT)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}/{VERSION}"
        return self.url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    # --- the API ----------------------------------------------------------------------------------

    def _check_access(self, request: web.Request) -> None:
        if request.headers.get("Authorization") != f"Bearer {self.token}":
            raise GraphRefusal(401, 190, "Invalid OAuth access token - Cannot parse access token")
        if request.match_info["version"] != VERSION:
            raise GraphRefusal(400, 2500, f"Unknown path components: /{request.match_info['version']}")
        if request.match_info["phone_id"] != self.phone_number_id:
            raise GraphRefusal(
                400,
                100,
                f"Unsupported post request. Object with ID '{request.match_info['phone_id']}' does not "
                "exist, cannot be loaded due to missing permissions, or does not support this operation.",
            )

    async def _phone_number(self, request: web.Request) -> web.Response:
        self.requests += 1
        try:
            self._check_access(request)
        except GraphRefusal as exc:
            return self._error(exc)
        return web.json_response(
            {
                "display_phone_number": "+7 846 200-30-40",
                "verified_name": "Здоровье Самары",
                "id": self.phone_number_id,
            }
        )

    async def _messages(self, request: web.Request) -> web.Response:
        self.requests += 1
        payload: dict[str, Any] = {}
        try:
            self._check_access(request)
            try:
                payload = await request.json()
            except ValueError as exc:
                raise GraphRefusal(400, 100, "(#100) Invalid JSON body") from exc
            if payload.get("messaging_product") != "whatsapp":
                raise GraphRefusal(400, 100, "(#100) The parameter messaging_product is required.")
            if payload.get("status") == "read":
                return self._read(payload)
            if self.gate is not None:
                await self.gate.wait()
            if self._failures:
                failure = self._failures.popleft()
                raise GraphRefusal(failure.status, failure.code, failure.message)
            self._validate(payload)
            if payload["to"] in self.closed_windows:
                raise GraphRefusal(
                    400,
                    131047,
                    "Re-engagement message",
                    "Message failed to send because more than 24 hours have passed since the customer "
                    "last replied to this number.",
                )
        except GraphRefusal as exc:
            self.refused.append((exc.code, payload))
            return self._error(exc)
        self.sent.append(payload)
        self.count_to[payload["to"]] += 1
        if self._changed is not None:
            async with self._changed:
                self._changed.notify_all()
        wamid = f"wamid.FAKE{next(self._ids):06d}"
        return web.json_response(
            {
                "messaging_product": "whatsapp",
                "contacts": [{"input": payload["to"], "wa_id": payload["to"]}],
                "messages": [{"id": wamid}],
            }
        )

    def _read(self, payload: dict[str, Any]) -> web.Response:
        if not str(payload.get("message_id", "")).startswith("wamid."):
            raise GraphRefusal(400, 100, "(#100) Invalid parameter message_id")
        typing = payload.get("typing_indicator")
        if typing is not None and typing != {"type": "text"}:
            raise GraphRefusal(400, 100, "(#100) Param typing_indicator[type] must be one of {TEXT}")
        self.read_receipts.append(payload)
        return web.json_response({"success": True})

    def _validate(self, payload: dict[str, Any]) -> None:
        if not str(payload.get("to", "")).isdigit():
            raise GraphRefusal(400, 100, "(#100) The parameter to is required.")
        kind = payload.get("type", "text")
        if kind == "text":
            body = (payload.get("text") or {}).get("body", "")
            if not body:
                raise GraphRefusal(400, 100, "(#100) The parameter text['body'] is required.")
            if len(body) > 4096:
                raise GraphRefusal(
                    400, 100, "(#100) Param text['body'] must be at most 4096 characters long."
                )
        elif kind == "interactive":
            self._validate_interactive(payload.get("interactive") or {})
        else:
            raise GraphRefusal(400, 100, f"(#100) Param type must be one of the supported types, got {kind}")

    @staticmethod
    def _validate_interactive(interactive: dict[str, Any]) -> None:
        body = (interactive.get("body") or {}).get("text", "")
        if not body or len(body) > 1024:
            raise _invalid("Body text length invalid. Min length: 1, Max length: 1024")
        action = interactive.get("action") or {}
        if interactive.get("type") == "button":
            buttons = action.get("buttons") or []
            if not 1 <= len(buttons) <= 3:
                raise _invalid("Number of buttons invalid. Min: 1, Max: 3")
            ids, titles = set(), set()
            for button in buttons:
                reply = button.get("reply") or {}
                title, bid = str(reply.get("title", "")), str(reply.get("id", ""))
                if button.get("type") != "reply":
                    raise _invalid("Button type must be reply")
                if not 1 <= len(title) <= 20:
                    raise _invalid("Button title length invalid. Min length: 1, Max length: 20")
                if not 1 <= len(bid) <= 256:
                    raise _invalid("Button id length invalid. Min length: 1, Max length: 256")
                if bid in ids or title in titles:
                    raise _invalid("Button title and id must be unique")
                ids.add(bid)
                titles.add(title)
        elif interactive.get("type") == "list":
            label = str(action.get("button", ""))
            if not 1 <= len(label) <= 20:
                raise _invalid("Button label length invalid. Min length: 1, Max length: 20")
            sections = action.get("sections") or []
            if not 1 <= len(sections) <= 10:
                raise _invalid("Number of sections invalid. Min: 1, Max: 10")
            if len(sections) > 1 and not all(s.get("title") for s in sections):
                raise _invalid("Section title is required when there is more than one section")
            rows = [row for section in sections for row in section.get("rows") or []]
            if not 1 <= len(rows) <= 10:
                raise _invalid("Total row count exceed max allowed count: 10")
            ids = set()
            for row in rows:
                rid, title = str(row.get("id", "")), str(row.get("title", ""))
                if not 1 <= len(rid) <= 200 or rid in ids:
                    raise _invalid("Row id must be unique, 1 to 200 characters")
                if not 1 <= len(title) <= 24:
                    raise _invalid("Row title length invalid. Min length: 1, Max length: 24")
                if len(str(row.get("description", ""))) > 72:
                    raise _invalid("Row description length invalid. Max length: 72")
                ids.add(rid)
        else:
            raise _invalid(f"Unsupported interactive type {interactive.get('type')}")

    @staticmethod
    def _error(exc: GraphRefusal) -> web.Response:
        error: dict[str, Any] = {
            "message": exc.message,
            "type": "OAuthException",
            "code": exc.code,
            "fbtrace_id": "AbCdEfGhIjK",
        }
        if exc.details:
            error["error_data"] = {"messaging_product": "whatsapp", "details": exc.details}
        return web.json_response({"error": error}, status=exc.status)
