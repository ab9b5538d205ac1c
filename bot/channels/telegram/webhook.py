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
    "оставьте в TELEGRAM_WEBHOOK_SECRET только латинские буквы, цифры, _ и - (1-256 знаков) "
    "или оставьте его пустым: тогда бот создаст стойкий секрет сам и сохранит его в DATA_DIR"
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
    proxy = "обратным прокси с сертификатом (nginx, Caddy) перед HTTP_HOST:HTTP_PORT"
    if parts.scheme not in ("https", "http") or not parts.hostname:
        return [
            UrlProblem(
                True,
                f"«{configured}» — не веб-адрес",
                f"впишите публичный адрес, например https://clinic.example.ru{WEBHOOK_PATH}",
            )
        ]
    problems = []
    if parts.scheme != "https":
        problems.append(
            UrlProblem(
                official,
                f"{configured} — не https; Telegram присылает webhook только по HTTPS",
                f"используйте https://{parts.netloc}{parts.path} с {proxy}",
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
                f"порт {parts.port or '?'} в {configured}: Telegram присылает только на порты 443, 80, 88 или 8443",
                f"откройте webhook на порту 443 (без порта в адресе) с {proxy}",
            )
        )
    if parts.fragment:
        problems.append(
            UrlProblem(
                True, f"в {configured} есть часть после #, она никогда не передаётся", "удалите часть после #"
            )
        )
    path = parts.path.rstrip("/")
    if path and not path.endswith(WEBHOOK_PATH):
        full = webhook_url(configured)
        problems.append(
            UrlProblem(
                False,
                f"путь {parts.path} не оканчивается на {WEBHOOK_PATH}, поэтому бот регистрирует {full}",
                f"если ваш прокси передаёт {full} на {WEBHOOK_PATH} этого сервера, ничего делать не нужно; иначе "
                f"впишите в TELEGRAM_WEBHOOK_URL только адрес сайта (https://{parts.netloc}) или адрес, "
                f"оканчивающийся на {WEBHOOK_PATH}",
            )
        )
    return problems


def secret_problem(value: str) -> str | None:
    """Why a configured secret cannot be given to setWebhook (None: it can)."""
    if SECRET_CHARS.fullmatch(value):
        return None
    if len(value) > 256:
        return f"в TELEGRAM_WEBHOOK_SECRET {len(value)} знаков; Telegram допускает не больше 256"
    return "в TELEGRAM_WEBHOOK_SECRET есть знаки, которые Telegram не допускает (можно только A-Z, a-z, 0-9, _ и -)"


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
            log.warning("секрет webhook Telegram в %s не читался; вместо него создан новый", path)
            os.replace(tmp, path)
        log.info("создан секрет webhook Telegram; хранится в %s", path)
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
        log.warning(
            "файл секрета webhook Telegram %s могли читать другие пользователи; права теперь 0600", path
        )
        path.chmod(0o600)
