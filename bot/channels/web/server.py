"""The widget's HTTP side: `/widget.js` and `/widget.css`, the `/ws` WebSocket, the HTTP fallback under
`/web/` (`session`, `message`, `poll`), and the demo page `/` when `WEB_DEMO=1`.

Only pages from `WEB_ALLOWED_ORIGINS` (and, with `WEB_DEMO=1`, this server's own pages at the configured
`HTTP_HOST`:`HTTP_PORT`, never whatever the request's Host header says) may talk to the bot: the browser's
`Origin` header is checked on every connection and request; others get 403. What a browser sends is parsed
defensively: a frame that is not a flat JSON object of valid text gets a polite refusal, never a traceback.
"""

from __future__ import annotations

import contextlib
import json
import logging
from pathlib import Path
from typing import Any

from aiohttp import WSMsgType, web

from bot.bootstrap import App
from bot.channels.web.channel import Refusal, Session, WebChannel, WebMessenger
from bot.channels.web.limits import WebLimits, client_ip, networks

__all__ = ["EXTRAS_KEY", "STATIC_DIR", "WebServer", "setup_web"]

log = logging.getLogger(__name__)

EXTRAS_KEY = "web"
STATIC_DIR = Path(__file__).resolve().parent / "static"
HELLO_TIMEOUT = 10.0
MAX_DEPTH = 4  # the widget sends flat objects; a little room for other clients, deeper is refused
WILDCARD_HOSTS = frozenset({"", "0.0.0.0", "::", "[::]"})
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1", "[::1]"})


class WebServer:
    """The aiohttp handlers of the widget around one `WebChannel`."""

    def __init__(self, channel: WebChannel) -> None:
        self.channel = channel
        settings = channel.app.settings
        self.allowed = {origin.lower() for origin in settings.web_allowed_origins}
        self.demo = settings.web_demo
        self.trusted = networks(settings.trusted_proxies)
        self.assets = {name: (STATIC_DIR / name).read_bytes() for name in ("widget.js", "widget.css")}
        self.demo_page = (STATIC_DIR / "demo.html").read_bytes() if self.demo else b""

    def add_routes(self, http_app: web.Application) -> None:
        router = http_app.router
        router.add_get("/widget.js", self.widget_js)
        router.add_get("/widget.css", self.widget_css)
        router.add_get("/ws", self.websocket)
        for name, handler in (("session", self.http_session), ("message", self.http_message)):
            router.add_post(f"/web/{name}", handler)
            router.add_route("OPTIONS", f"/web/{name}", self.preflight)
        router.add_post("/web/poll", self.http_poll)
        router.add_route("OPTIONS", "/web/poll", self.preflight)
        if self.demo:
            router.add_get("/", self.demo_index)

    # --- origins -------------------------------------------------------------------------------

    def origin_of(self, request: web.Request) -> str | None:
        """The page's origin when it may talk to the bot, else None."""
        origin = request.headers.get("Origin", "").rstrip("/").lower()
        if not origin or origin == "null":
            return None
        if origin in self.allowed or "*" in self.allowed:
            return origin
        if self.demo and origin in self.own_origins(request):
            return origin
        return None

    def own_origins(self, request: web.Request) -> set[str]:
        """This server's own pages (the demo): the configured host and port, not the request's Host header,
        which any script may set. Port 0 (any free port) is the port this connection arrived at."""
        settings = self.channel.app.settings
        sockname = request.transport.get_extra_info("sockname") if request.transport else None
        port = settings.http_port or (int(sockname[1]) if sockname else 0)
        host = settings.http_host.strip().lower()
        hosts = {host}
        if host in WILDCARD_HOSTS:  # every interface: the loopback names and the one this request came to
            hosts = set(LOOPBACK_HOSTS)
            if sockname:
                hosts.add(str(sockname[0]).lower())
        elif host in LOOPBACK_HOSTS:
            hosts = set(LOOPBACK_HOSTS)
        hosts = {f"[{h}]" if ":" in h and not h.startswith("[") else h for h in hosts}
        return {f"http://{h}:{port}" for h in hosts} | (
            {f"http://{h}" for h in hosts} if port == 80 else set()
        )

    def ip_of(self, request: web.Request) -> str:
        """The address a request counts against (X-Forwarded-For only from `TRUSTED_PROXIES`)."""
        return client_ip(request.remote or "?", request.headers.getall("X-Forwarded-For", []), self.trusted)

    def refuse_origin(self, request: web.Request) -> web.Response:
        log.warning(
            "виджет: запрос с неразрешённого сайта %r (%s)", request.headers.get("Origin"), request.path
        )
        refusal = Refusal("origin", 403)
        # The refused page may read why (so its widget can say it), nothing else.
        return self._json(refusal.to_json(), request.headers.get("Origin"), status=403)

    @staticmethod
    def _json(payload: dict[str, Any], origin: str | None, status: int = 200) -> web.Response:
        response = web.json_response(
            payload, status=status, dumps=lambda o: json.dumps(o, ensure_ascii=False)
        )
        if origin:
            response.headers["Access-Control-Allow-Origin"] = origin
            response.headers["Vary"] = "Origin"
        response.headers["Cache-Control"] = "no-store"
        return response

    async def preflight(self, request: web.Request) -> web.Response:
        origin = self.origin_of(request)
        if origin is None:
            return self.refuse_origin(request)
        response = web.Response(status=204)
        response.headers.update(
            {
                "Access-Control-Allow-Origin": origin,
                "Access-Control-Allow-Methods": "POST, OPTIONS",
                "Access-Control-Allow-Headers": "Content-Type",
                "Access-Control-Max-Age": "600",
                "Vary": "Origin",
            }
        )
        return response

    # --- static --------------------------------------------------------------------------------

    def _asset(self, name: str, content_type: str) -> web.Response:
        response = web.Response(body=self.assets[name], content_type=content_type, charset="utf-8")
        response.headers["Cache-Control"] = "public, max-age=300"
        response.headers["Access-Control-Allow-Origin"] = "*"
        return response

    async def widget_js(self, request: web.Request) -> web.Response:
        return self._asset("widget.js", "application/javascript")

    async def widget_css(self, request: web.Request) -> web.Response:
        return self._asset("widget.css", "text/css")

    async def demo_index(self, request: web.Request) -> web.Response:
        return web.Response(body=self.demo_page, content_type="text/html", charset="utf-8")

    # --- the WebSocket -------------------------------------------------------------------------

    async def websocket(self, request: web.Request) -> web.StreamResponse:
        origin = self.origin_of(request)
        if origin is None:
            return self.refuse_origin(request)
        ip = self.ip_of(request)
        limits = self.channel.limits
        ws = web.WebSocketResponse(heartbeat=30.0, max_msg_size=limits.max_frame)
        await ws.prepare(request)
        try:
            session = await self._hello(ws, ip)
        except Refusal as refusal:
            await ws.send_json(refusal.to_json())
            await ws.close(code=1008, message=refusal.code.encode())
            return ws
        if session is None:
            await ws.close()
            return ws
        try:
            self.channel.attach(session.key, ip, ws)
        except Refusal as refusal:
            await ws.send_json(refusal.to_json())
            await ws.close(code=1008, message=refusal.code.encode())
            return ws
        try:
            await self._serve(ws, session, ip)
        finally:
            self.channel.detach(session.key, ip, ws)
        return ws

    async def _hello(self, ws: web.WebSocketResponse, ip: str) -> Session | None:
        """The first frame names the session (`{"type": "hello", "token", "after"}`); the answer is the
        session with its history."""
        try:
            message = await ws.receive(timeout=HELLO_TIMEOUT)
        except TimeoutError:
            return None
        if message.type != WSMsgType.TEXT:
            return None
        payload = _parse(message.data)
        if payload.get("type") != "hello":
            raise Refusal("bad_request", 400)
        session = self.channel.open_session(payload.get("token"), ip)
        await ws.send_json(self.channel.welcome(session, _int(payload.get("after"))))
        return session

    async def _serve(self, ws: web.WebSocketResponse, session: Session, ip: str) -> None:
        async for message in ws:
            if message.type != WSMsgType.TEXT:
                if message.type == WSMsgType.ERROR:
                    log.info("виджет: соединение %s закрыто с ошибкой %s", session.label, ws.exception())
                continue
            try:
                payload = _parse(message.data)
                if payload.get("type") == "start":
                    await self.channel.start(session)
                elif payload.get("type") == "ping":
                    await ws.send_json({"type": "pong"})
                else:
                    await self.channel.receive(session, ip, payload)
            except Refusal as refusal:
                with contextlib.suppress(ConnectionError, RuntimeError):
                    await ws.send_json(refusal.to_json())
            except Exception:  # a bug of ours: logged, answered politely, and the socket stays open
                log.exception("виджет: сбой обработки кадра от %s", session.label)
                with contextlib.suppress(ConnectionError, RuntimeError):
                    await ws.send_json(self.channel.failure().to_json())

    # --- the HTTP fallback ---------------------------------------------------------------------

    async def _body(self, request: web.Request) -> dict[str, Any]:
        if (request.content_length or 0) > self.channel.limits.max_frame:
            raise Refusal("too_long", 413, max_chars=self.channel.limits.max_chars)
        raw = await request.content.read(self.channel.limits.max_frame + 1)
        if len(raw) > self.channel.limits.max_frame:
            raise Refusal("too_long", 413, max_chars=self.channel.limits.max_chars)
        return _parse(raw)

    async def _guarded(self, request: web.Request, work: Any) -> web.Response:
        origin = self.origin_of(request)
        if origin is None:
            return self.refuse_origin(request)
        try:
            payload = await self._body(request)
            result = await work(payload, self.ip_of(request))
        except Refusal as refusal:
            return self._json(refusal.to_json(), origin, status=refusal.status)
        except Exception:  # a bug of ours: logged, and the widget gets a polite answer
            log.exception("виджет: сбой запроса к %s", request.path)
            failure = self.channel.failure()
            return self._json(failure.to_json(), origin, status=failure.status)
        return self._json(result, origin)

    async def http_session(self, request: web.Request) -> web.Response:
        """`{"token"?, "after"?, "start"?}` → the session, as the WebSocket's hello answers it."""

        async def work(payload: dict[str, Any], ip: str) -> dict[str, Any]:
            session = self.channel.open_session(payload.get("token"), ip)
            if payload.get("start"):
                await self.channel.start(session)
            return self.channel.welcome(session, _int(payload.get("after")))

        return await self._guarded(request, work)

    async def http_message(self, request: web.Request) -> web.Response:
        """`{"token", "type": "message"|"choice", ...}` → the patient's message and the bot's answers."""

        async def work(payload: dict[str, Any], ip: str) -> dict[str, Any]:
            session = self.channel.session_of(payload.get("token"), ip)
            entries = await self.channel.receive(session, ip, payload)
            return {"type": "messages", "messages": [e.to_json() for e in entries]}

        return await self._guarded(request, work)

    async def http_poll(self, request: web.Request) -> web.Response:
        """`{"token", "after"}` → messages after `after`, waiting up to the poll timeout for new ones."""

        async def work(payload: dict[str, Any], ip: str) -> dict[str, Any]:
            session = self.channel.session_of(payload.get("token"), ip)
            timeout = min(self.channel.limits.poll_timeout, max(0.0, _float(payload.get("wait"), 1e9)))
            entries = await self.channel.wait(session.key, _int(payload.get("after")), timeout)
            return {"type": "messages", "messages": [e.to_json() for e in entries]}

        return await self._guarded(request, work)


def _parse(raw: str | bytes) -> dict[str, Any]:
    """A frame or body as a JSON object, nested at most `MAX_DEPTH` deep, whose text values are valid
    Unicode; anything else (not JSON, deep nesting, a lone surrogate such as "\\ud800") is a bad request."""
    try:
        payload = json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise Refusal("bad_request", 400) from exc
    if not isinstance(payload, dict) or _depth(payload) > MAX_DEPTH:
        raise Refusal("bad_request", 400)
    for value in payload.values():
        if isinstance(value, str) and not _encodable(value):
            raise Refusal("bad_request", 400)
    return payload


def _depth(value: object) -> int:
    """How deeply lists and objects nest in `value` (walked without recursion)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict | list):
            deepest = max(deepest, level)
            stack.extend((child, level + 1) for child in (item.values() if isinstance(item, dict) else item))
    return deepest


def _encodable(text: str) -> bool:
    """False for text with a lone surrogate (valid in JSON's escapes, not in UTF-8 or SQLite)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _int(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


def _float(value: object, default: float) -> float:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else default


def setup_web(app: App, http_app: web.Application, *, limits: WebLimits | None = None) -> WebChannel:
    """Add the widget's routes to the server and the "web" messenger to `app.messengers`."""
    channel = WebChannel(app, limits)
    server = WebServer(channel)
    server.add_routes(http_app)

    async def _stop(_: web.Application) -> None:
        await channel.close()

    http_app.on_shutdown.append(_stop)
    app.messengers.register(WebMessenger(channel))
    app.extras[EXTRAS_KEY] = channel
    if not app.settings.web_allowed_origins and not app.settings.web_demo:
        log.warning(
            "WEB_ALLOWED_ORIGINS пуст: виджет не работает ни на одном сайте (укажите адрес сайта клиники)"
        )
    log.info(
        "виджет сайта: /widget.js для %s%s",
        ", ".join(app.settings.web_allowed_origins) or "no site yet",
        "; demo page at /" if app.settings.web_demo else "",
    )
    return channel
