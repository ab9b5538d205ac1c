"""Telegram's webhook: the URL the bot registers and the secret token every delivery must carry.

Webhook mode never runs unauthenticated: without TELEGRAM_WEBHOOK_SECRET the bot generates a secret once,
keeps it in `DATA_DIR` (mode 0600) and reuses it after restarts, so the webhook Telegram has stays valid.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import secrets
import stat
import tempfile
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from bot.config import Settings
from bot.errors import ConfigError

__all__ = [
    "SECRET_FILE",
    "SECRET_HEADER",
    "WEBHOOK_PATH",
    "UrlProblem",
    "WebhookSecret",
    "read_generated_secret",
    "resolve_secret",
    "secret_path",
    "secret_problem",
    "url_problems",
    "webhook_url",
]

log = logging.getLogger(__name__)

WEBHOOK_PATH = "/webhook/telegram"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
SECRET_FILE = "telegram-webhook-secret"
# Bot API's rule for setWebhook's secret_token: 1-256 characters, A-Z, a-z, 0-9, _ and - only.
SECRET_CHARS = re.compile(r"[A-Za-z0-9_-]{1,256}")
OFFICIAL_API_HOST = "api.telegram.org"
TELEGRAM_PORTS = (443, 80, 88, 8443)  # the only ports Telegram's own servers post webhooks to
SECRET_FIX = (
    "use only Latin letters, digits, _ and - (1-256 characters) in TELEGRAM_WEBHOOK_SECRET, "
    "or leave it empty: the bot then generates a strong one and keeps it in DATA_DIR"
)


@dataclass(frozen=True, slots=True)
class WebhookSecret:
    """The secret in force and where it comes from: `configured` (the env) or `generated` (the file)."""

    value: str
    source: str
    path: Path | None = None


@dataclass(frozen=True, slots=True)
class UrlProblem:
    fatal: bool  # True: Telegram will refuse the URL or never reach it
    detail: str
    fix: str


def webhook_url(configured: str) -> str:
    """The URL registered with Telegram: TELEGRAM_WEBHOOK_URL as given when its path already ends with
    `/webhook/telegram`, otherwise that path appended (`https://clinic.ru` → `https://clinic.ru/webhook/telegram`)."""
    parts = urlsplit(configured.strip())
    path = parts.path.rstrip("/")
    if not path.endswith(WEBHOOK_PATH):
        path += WEBHOOK_PATH
    return urlunsplit((parts.scheme, parts.netloc, path, parts.query, ""))


def url_problems(configured: str, api_url: str) -> list[UrlProblem]:
    """What is wrong or doubtful in TELEGRAM_WEBHOOK_URL, each with its fix (empty: all is well)."""
    parts = urlsplit(configured.strip())
    official = (urlsplit(api_url).hostname or "") == OFFICIAL_API_HOST
    proxy = "a reverse proxy with a certificate (nginx, Caddy) in front of HTTP_HOST:HTTP_PORT"
    if parts.scheme not in ("https", "http") or not parts.hostname:
        return [
            UrlProblem(
                True,
                f"«{configured}» is not a web address",
                f"write the public address, e.g. https://clinic.example.ru{WEBHOOK_PATH}",
            )
        ]
    problems = []
    if parts.scheme != "https":
        problems.append(
            UrlProblem(
                official,
                f"{configured} is not https; Telegram posts webhooks only over HTTPS",
                f"use https://{parts.netloc}{parts.path} with {proxy}",
            )
        )
    try:
        port = parts.port
    except ValueError:
        port = -1
    if official and port is not None and port not in TELEGRAM_PORTS:
        problems.append(
            UrlProblem(
                True,
                f"port {parts.port or '?'} in {configured}: Telegram posts only to ports 443, 80, 88 or 8443",
                f"publish the webhook on 443 (no port in the URL) with {proxy}",
            )
        )
    if parts.fragment:
        problems.append(
            UrlProblem(True, f"{configured} has a #fragment, which is never sent", "remove the part after #")
        )
    path = parts.path.rstrip("/")
    if path and not path.endswith(WEBHOOK_PATH):
        full = webhook_url(configured)
        problems.append(
            UrlProblem(
                False,
                f"the path {parts.path} does not end with {WEBHOOK_PATH}, so the bot registers {full}",
                f"if your proxy passes {full} to this server's {WEBHOOK_PATH}, nothing to do; otherwise write "
                f"TELEGRAM_WEBHOOK_URL as the site's address alone (https://{parts.netloc}) or ending with "
                f"{WEBHOOK_PATH}",
            )
        )
    return problems


def secret_problem(value: str) -> str | None:
    """Why a configured secret cannot be given to setWebhook (None: it can)."""
    if SECRET_CHARS.fullmatch(value):
        return None
    if len(value) > 256:
        return f"TELEGRAM_WEBHOOK_SECRET is {len(value)} characters long; Telegram allows at most 256"
    return "TELEGRAM_WEBHOOK_SECRET has characters Telegram does not allow (only A-Z, a-z, 0-9, _ and -)"


def secret_path(settings: Settings) -> Path:
    return settings.data_dir / SECRET_FILE


def read_generated_secret(settings: Settings) -> str | None:
    """The secret a previous `run` generated, when its file holds a usable one."""
    try:
        return _read(secret_path(settings))
    except (FileNotFoundError, NotADirectoryError):
        return None


def resolve_secret(settings: Settings) -> WebhookSecret:
    """The configured secret, or the one generated earlier, or a new one written to DATA_DIR now."""
    configured = settings.telegram_webhook_secret
    if configured is not None:
        value = configured.get_secret_value().strip()
        problem = secret_problem(value)
        if problem is not None:
            raise ConfigError(f"{problem}: {SECRET_FIX}")
        return WebhookSecret(value, "configured")
    path = secret_path(settings)
    try:
        value = read_generated_secret(settings) or _generate(path)
        _restrict(path)
    except OSError as exc:
        raise ConfigError(
            f"cannot keep the Telegram webhook secret in {path} ({exc}); make DATA_DIR writable, "
            "or set TELEGRAM_WEBHOOK_SECRET"
        ) from exc
    return WebhookSecret(value, "generated", path)


def _generate(path: Path) -> str:
    """A new secret, written whole under `path` (0600) in one step; a file another process wrote first wins."""
    value = secrets.token_urlsafe(32)  # 43 characters of A-Z a-z 0-9 - _
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{SECRET_FILE}.")  # created 0600
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(value + "\n")
            f.flush()
            os.fsync(f.fileno())
        try:
            os.link(tmp, path)  # fails when the file exists: never half a secret, never two
        except FileExistsError:
            existing = _read(path)
            if existing is not None:
                return existing
            log.warning("the Telegram webhook secret in %s was unreadable; a new one replaces it", path)
            os.replace(tmp, path)
        log.info("generated the Telegram webhook secret; kept in %s", path)
        return value
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


def _read(path: Path) -> str | None:
    value = path.read_text(encoding="utf-8", errors="replace").strip()
    return value if SECRET_CHARS.fullmatch(value) else None


def _restrict(path: Path) -> None:
    """Owner-only permissions on the secret's file (an older copy or a restore may have widened them)."""
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        log.warning("the Telegram webhook secret file %s was readable by others; now 0600", path)
        path.chmod(0o600)
