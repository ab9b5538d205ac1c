"""The service's one HTTP server: `GET /healthz` here; channels add their webhook routes before it starts.

Paths (DESIGN.md): `/webhook/whatsapp`, `/webhook/telegram`, `/webhook/max`, `/widget.js`, `/ws`, `/healthz`.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from bot.bootstrap import App
from bot.http.health import error_log, redact

__all__ = ["APP_KEY", "HEALTH_PATH", "create_http_app", "health", "start_http"]

APP_KEY: web.AppKey[App] = web.AppKey("clinic_app", App)
HEALTH_PATH = "/healthz"
MAX_BODY = 1024 * 1024  # webhook bodies are small; a larger one is refused with 413


def health(app: App) -> dict[str, Any]:
    """The state of the service in a few numbers: outbox backlog, admin alerts not yet posted, recent
    errors, conversations. Anyone may ask, so errors are shown by kind only (`redact`): no sheet id,
    e-mail, key file, lead or chat id; the full text is in the service's log."""
    backlog = app.outbox.backlog()
    parked = sum(states.get("parked", 0) for states in backlog.values())
    errors = error_log(app)
    alerts_failing = app.store.alerts.failing()
    settings = app.settings
    secrets = (settings.google_sheet_id or "", str(settings.google_application_credentials or ""))
    return {
        "status": "degraded" if parked or alerts_failing else "ok",
        "outbox": backlog,
        "outbox_errors": [_outbox_error(line, secrets) for line in app.outbox.last_errors()],
        "admin_alerts": {"pending": app.store.alerts.pending(), "failing": alerts_failing},
        "last_errors": [
            {"at": e["at"], "source": e["source"], "error": redact(e["error"], secrets)}
            for e in errors.recent()
        ],
        "conversations": app.store.count(),
        "channels": sorted(
            name for name in ("console", "telegram", "whatsapp", "max", "web") if app.messengers.get(name)
        ),
    }


def _outbox_error(line: str, secrets: tuple[str, ...]) -> str:
    """`sink LEAD_ID: error` (Outbox.last_errors) -> `sink: kind of the error`, without the lead's id."""
    sink, _, rest = line.partition(" ")
    _, _, error = rest.partition(": ")
    return f"{sink}: {redact(error or rest, secrets)}"


async def _healthz(request: web.Request) -> web.Response:
    return web.json_response(health(request.app[APP_KEY]))


def create_http_app(app: App) -> web.Application:
    """An aiohttp application with `/healthz`; other channels add their routes to it before it starts."""
    http_app = web.Application(client_max_size=MAX_BODY)
    http_app[APP_KEY] = app
    http_app.router.add_get(HEALTH_PATH, _healthz)
    return http_app


async def start_http(http_app: web.Application, host: str, port: int) -> tuple[web.AppRunner, int]:
    """Start serving; returns the runner (call `.cleanup()` to stop) and the bound port (port 0: any)."""
    runner = web.AppRunner(http_app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    addresses = runner.addresses
    bound = int(addresses[0][1]) if addresses else port
    return runner, bound
