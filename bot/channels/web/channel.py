"""The widget's channel, apart from HTTP: sessions, limits, the dialogue call, live delivery to open widgets.

Every message of a session goes into the transcript first and is then pushed to every open WebSocket of
that session (several tabs) and wakes its long polls (the HTTP fallback), so all of them show the same.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from bot.bootstrap import App
from bot.channels.console import to_incoming
from bot.channels.web.limits import RateLimiter, WebLimits
from bot.channels.web.sessions import KEY_LENGTH, Entry, Sessions, Transcript, session_label
from bot.dialogue.messages import Address, Incoming, Outgoing
from bot.errors import BotError
from bot.http.health import error_log
from bot.notify import PatientMessenger

__all__ = ["CHANNEL", "Refusal", "Session", "WebChannel", "WebMessenger"]

log = logging.getLogger(__name__)

CHANNEL = "web"
LIVE_AFTER_POLL = 60.0  # seconds a poller counts as "the widget is open"

TEXTS = {
    "too_long": "Сообщение получилось слишком длинным — не больше {max_chars} символов. "
    "Сократите его, пожалуйста, или разделите на несколько.",
    "rate_limited": "Вы пишете очень быстро — подождите, пожалуйста, несколько секунд и отправьте ещё раз.",
    "too_many_sessions": "Слишком много новых чатов с вашего адреса. Попробуйте, пожалуйста, чуть позже.",
    "too_many_sockets": "Открыто слишком много окон чата. Закройте лишние вкладки, пожалуйста.",
    "bad_token": "Сессия чата устарела. Обновите страницу, пожалуйста.",
    "too_many_attempts": "Слишком много попыток открыть чат с вашего адреса. Подождите, пожалуйста, "
    "несколько минут и обновите страницу.",
    "bad_request": "Не получилось прочитать сообщение. Обновите страницу, пожалуйста.",
    "origin": "Чат не подключён на этом сайте.",
    "failed": "Извините, у нас что-то сломалось. Напишите, пожалуйста, ещё раз чуть позже{phone}.",
}


class Refusal(BotError):
    """A request the widget's limits or rules refuse; `code` and a Russian `text` go to the widget."""

    def __init__(self, code: str, status: int, **values: object) -> None:
        self.code = code
        self.status = status
        self.text = TEXTS[code].format(**values)
        super().__init__(f"{code}: {self.text}")

    def to_json(self) -> dict[str, Any]:
        return {"type": "error", "error": self.code, "code": self.code, "text": self.text}


@dataclass(frozen=True, slots=True)
class Session:
    """An open session: the browser's token, its key (the token's SHA-256: the conversation's and the
    transcript's key) and whether it was issued just now."""

    token: str
    key: str
    created: bool

    @property
    def label(self) -> str:
        return session_label(self.key)

    @property
    def address(self) -> Address:
        return Address(CHANNEL, self.key, self.label)


class WebChannel:
    """Sessions, limits and live delivery of the site widget (one per running service)."""

    def __init__(self, app: App, limits: WebLimits | None = None, now: Callable[[], float] = time.monotonic):
        self.app = app
        self.limits = limits = limits or WebLimits()
        self.now = now
        self.transcript = Transcript(app.db)
        self.sessions = Sessions(app.db)
        self.per_session = RateLimiter(limits.session_burst, limits.session_per_minute, now)
        self.per_ip = RateLimiter(limits.ip_burst, limits.ip_per_minute, now)
        self.new_sessions = RateLimiter(limits.new_sessions_burst, limits.new_sessions_per_minute, now)
        self.failed_resumes = RateLimiter(limits.failed_resumes_burst, limits.failed_resumes_per_minute, now)
        self._refusing: set[str] = set()  # addresses whose resumes are refused now (logged once)
        self.sockets: defaultdict[str, set[web.WebSocketResponse]] = defaultdict(set)
        self.sockets_per_ip: Counter[str] = Counter()
        self._events: dict[str, asyncio.Event] = {}
        self._polled: dict[str, float] = {}
        self._start_locks: defaultdict[str, asyncio.Lock] = defaultdict(asyncio.Lock)
        self.closing = False

    # --- sessions ----------------------------------------------------------------------------

    def open_session(self, token: object, ip: str) -> Session:
        """The session of a token this server issued, or a new one (limited per IP address). An unknown
        token (expired, made up by the client, guessed) is a failed resume and gets a new session."""
        if token not in (None, ""):
            key = self._resume(token, ip)
            if key is not None:
                assert isinstance(token, str)
                return Session(token, key, created=False)
        if not self.new_sessions.allow(ip):
            raise Refusal("too_many_sessions", 429)
        fresh, key = self.sessions.issue(self.app.clock.now())
        return Session(fresh, key, created=True)

    def session_of(self, token: object, ip: str) -> Session:
        """The session of a token this server issued (the HTTP fallback's messages and polls), else 401."""
        key = self._resume(token, ip) if token not in (None, "") else None
        if key is None:
            raise Refusal("bad_token", 401)
        assert isinstance(token, str)
        return Session(token, key, created=False)

    def _resume(self, token: object, ip: str) -> str | None:
        """The key of a known token. Unknown ones count per address; past the limit every resume from that
        address is refused for a while (a guesser learns nothing, a patient behind it waits a few minutes)."""
        if self.failed_resumes.exhausted(ip):
            if ip not in self._refusing:
                if len(self._refusing) > 10_000:
                    self._refusing.clear()
                self._refusing.add(ip)
                log.warning(
                    "виджет: слишком много неизвестных токенов сессии от %s; продолжение сессий отклонено", ip
                )
            raise Refusal("too_many_attempts", 429)
        self._refusing.discard(ip)
        key = self.sessions.find(token)
        if key is None:
            self.failed_resumes.allow(ip)
            log.info("виджет: неизвестный токен сессии от %s (новая сессия или отказ)", ip)
        return key

    def config(self) -> dict[str, Any]:
        """What the widget shows around the conversation: the clinic's links and the limits."""
        clinic = self.app.knowledge().clinic
        return {
            "clinic": clinic.name,
            "phone": clinic.phone,
            "telegram": clinic.telegram,
            "whatsapp": clinic.whatsapp,
            "privacy_url": clinic.privacy_url,
            "consent_url": clinic.consent_url or clinic.privacy_url,
            "max_chars": self.limits.max_chars,
        }

    def welcome(self, session: Session, after: int = 0) -> dict[str, Any]:
        """The answer to a widget's hello: its token, its label (`Контакт`), the clinic's links and the
        history."""
        return {
            "type": "session",
            "token": session.token,
            "session": session.label,
            "config": self.config(),
            "messages": [e.to_json() for e in self.transcript.after(session.key, after)],
        }

    # --- the conversation --------------------------------------------------------------------

    async def start(self, session: Session) -> list[Entry]:
        """The widget was opened: a new conversation gets the greeting (with its buttons) at once."""
        async with self._start_locks[session.key]:
            if self.transcript.after(session.key, 0, limit=1):
                return []
            if self.app.store.load(session.address).greeted:
                return []
            replies = await self._dialogue(session.address, Incoming(text="Здравствуйте"))
            return await self.publish(session.key, "bot", replies)

    async def receive(self, session: Session, ip: str, payload: dict[str, Any]) -> list[Entry]:
        """One patient message (`{"type": "message", "text"}` or `{"type": "choice", "data", "label"}`)."""
        incoming = self._incoming(session, payload)
        if incoming is None:
            return []
        if not self.per_session.allow(session.key) or not self.per_ip.allow(ip):
            raise Refusal("rate_limited", 429)
        entries = await self.publish(session.key, "patient", [Outgoing(incoming.text)])
        await self.broadcast(session.key, {"type": "typing"})
        replies = await self._dialogue(session.address, incoming)
        entries += await self.publish(session.key, "bot", replies)
        return entries

    def _incoming(self, session: Session, payload: dict[str, Any]) -> Incoming | None:
        kind = payload.get("type")
        if kind == "choice":
            data, label = payload.get("data"), payload.get("label")
            for button in self.transcript.offered(session.key):
                if button.data == data:
                    return Incoming(text=button.label, button=button.data)
            text = label  # a stale or forged button: taken as the words on it
        elif kind == "message":
            text = payload.get("text")
        else:
            raise Refusal("bad_request", 400)
        if not isinstance(text, str):
            raise Refusal("bad_request", 400)
        text = text.strip()
        if not text:
            return None
        if len(text) > self.limits.max_chars:
            raise Refusal("too_long", 413, max_chars=self.limits.max_chars)
        return to_incoming(text, self.transcript.offered(session.key))

    async def _dialogue(self, address: Address, incoming: Incoming) -> list[Outgoing]:
        try:
            return await self.app.service.handle(address, incoming)
        except Exception as exc:  # one polite answer and a log line; the patient may write again
            log.exception("виджет: сбой обработки сообщения от %s", address.contact)
            # The public /healthz gets the kind only: an exception's text may quote the patient.
            error_log(self.app).record("web", f"{type(exc).__name__} while answering a widget message")
            return [Outgoing(self.failure().text)]

    def failure(self) -> Refusal:
        """Something broke on our side: the polite answer, with the clinic's phone."""
        phone = self.app.knowledge().clinic.phone
        return Refusal("failed", 500, phone=f" или позвоните нам: {phone}" if phone else "")

    # --- live delivery -------------------------------------------------------------------------

    async def publish(self, sid: str, sender: str, messages: Sequence[Outgoing]) -> list[Entry]:
        """Record messages in the transcript, then push them to every open widget of the session."""
        if not messages:
            return []
        entries = self.transcript.add(sid, sender, list(messages), self.app.clock.now())
        await self.broadcast(sid, {"type": "messages", "messages": [e.to_json() for e in entries]})
        event = self._events.pop(sid, None)
        if event is not None:
            event.set()
        return entries

    async def broadcast(self, sid: str, payload: dict[str, Any]) -> int:
        """Send to every open WebSocket of the session; returns how many got it."""
        sent = 0
        for ws in list(self.sockets.get(sid, ())):
            if ws.closed:
                continue
            with contextlib.suppress(ConnectionError, RuntimeError):
                await ws.send_json(payload)
                sent += 1
        return sent

    async def wait(self, sid: str, after: int, timeout: float) -> list[Entry]:
        """A long poll: the session's messages after `after`, waiting up to `timeout` for new ones."""
        self._polled[sid] = self.now()
        event = self._events.setdefault(sid, asyncio.Event())
        entries = self.transcript.after(sid, after)
        if entries or self.closing:
            return entries
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(event.wait(), timeout)
        self._polled[sid] = self.now()
        return self.transcript.after(sid, after)

    def live(self, sid: str) -> bool:
        """An open widget is there to show a message now (a WebSocket, or a poll within a minute)."""
        if any(not ws.closed for ws in self.sockets.get(sid, ())):
            return True
        polled = self._polled.get(sid)
        return polled is not None and self.now() - polled < LIVE_AFTER_POLL

    def attach(self, sid: str, ip: str, ws: web.WebSocketResponse) -> None:
        if self.sockets_per_ip[ip] >= self.limits.sockets_per_ip:
            raise Refusal("too_many_sockets", 429)
        self.sockets_per_ip[ip] += 1
        self.sockets[sid].add(ws)

    def detach(self, sid: str, ip: str, ws: web.WebSocketResponse) -> None:
        self.sockets[sid].discard(ws)
        if not self.sockets[sid]:
            del self.sockets[sid]
        self.sockets_per_ip[ip] -= 1
        if self.sockets_per_ip[ip] <= 0:
            del self.sockets_per_ip[ip]

    async def close(self) -> None:
        """The server stops: open widgets are told to reconnect later, long polls return."""
        self.closing = True
        for event in self._events.values():
            event.set()
        for sockets in list(self.sockets.values()):
            for ws in list(sockets):
                with contextlib.suppress(ConnectionError, RuntimeError):
                    await ws.close(code=1001, message=b"server stopping")


class WebMessenger(PatientMessenger):
    """Administrators' answers and reminders to a widget patient: shown live when the widget is open,
    kept in the transcript for the next visit otherwise. Returns True only when shown live."""

    channel = CHANNEL

    def __init__(self, web_channel: WebChannel) -> None:
        self.web = web_channel

    async def send(self, address: Address, messages: Sequence[Outgoing]) -> bool:
        if len(address.user_id) != KEY_LENGTH:  # a conversation of the old short ids: no widget can open it
            return False
        live = self.web.live(address.user_id)
        await self.web.publish(address.user_id, "bot", messages)
        return live
