"""The one place configuration is read: every variable of the contract, from the environment and `.env`."""

from __future__ import annotations

import ipaddress
import re
from datetime import time, timedelta
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BeforeValidator, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from bot.errors import ConfigError

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, None: 1}


def parse_duration(value: Any) -> timedelta:
    """Read durations the way people write them: `45s`, `30m`, `2h`, `90d`, `1.5s`, a bare number of seconds."""
    if isinstance(value, timedelta):
        return value
    if isinstance(value, int | float):
        return timedelta(seconds=float(value))
    match = _DURATION.match(str(value))
    if not match:
        raise ValueError(f"«{value}» — не длительность; пишите так: 45s, 30m, 2h или 90d")
    number, unit = match.groups()
    return timedelta(seconds=float(number) * _UNIT_SECONDS[unit])


def parse_quiet_hours(value: Any) -> tuple[time, time] | None:
    """`21:00-09:00` -> (21:00, 09:00); empty -> None (no quiet hours)."""
    if value is None or (isinstance(value, tuple) and len(value) == 2):
        return value  # type: ignore[return-value]
    text = str(value).strip()
    if not text:
        return None
    match = re.fullmatch(r"(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})", text)
    if not match:
        raise ValueError(f"«{text}» — не промежуток времени; пишите так: 21:00-09:00 или оставьте пустым")
    h1, m1, h2, m2 = (int(x) for x in match.groups())
    try:
        return time(h1, m1), time(h2, m2)
    except ValueError as exc:
        raise ValueError(f"«{text}»: такого времени нет") from exc


def parse_origins(value: Any) -> tuple[str, ...]:
    if isinstance(value, list | tuple):
        return tuple(str(v).strip().rstrip("/") for v in value if str(v).strip())
    return tuple(part.strip().rstrip("/") for part in str(value or "").split(",") if part.strip())


def parse_networks(value: Any) -> tuple[str, ...]:
    """`10.0.0.1, 192.168.0.0/24` -> ("10.0.0.1/32", "192.168.0.0/24"); empty -> ()."""
    parts = value if isinstance(value, list | tuple) else str(value or "").split(",")
    found = []
    for part in (str(p).strip() for p in parts):
        if not part:
            continue
        try:
            found.append(str(ipaddress.ip_network(part, strict=False)))
        except ValueError as exc:
            raise ValueError(
                f"«{part}» — не IP-адрес и не сеть; пишите так: 127.0.0.1 или 10.0.0.0/8"
            ) from exc
    return tuple(found)


Duration = Annotated[timedelta, BeforeValidator(parse_duration)]
QuietHours = Annotated[tuple[time, time] | None, BeforeValidator(parse_quiet_hours), NoDecode]
Origins = Annotated[tuple[str, ...], BeforeValidator(parse_origins), NoDecode]
Networks = Annotated[tuple[str, ...], BeforeValidator(parse_networks), NoDecode]


class Settings(BaseSettings):
    """Every setting of the service. Names are the contract's environment variables (case-insensitive)."""

    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", case_sensitive=False
    )

    # Telegram
    telegram_bot_token: SecretStr | None = None
    telegram_api_url: str = "https://api.telegram.org"
    admin_chat_id: int | None = None
    telegram_webhook_url: str | None = None
    telegram_webhook_secret: SecretStr | None = None
    telegram_debounce: Duration = timedelta(seconds=1.2)
    # Processes answering Telegram patients (1: this one alone; 2 on two cores halves a burst's wait)
    telegram_workers: int = Field(default=1, ge=1, le=32)
    # Paced sends under Telegram's published limits (0: not paced): messages a second for the whole bot,
    # a second to one private chat, a minute to one group (bot's and groups' shared over TELEGRAM_WORKERS)
    telegram_rate: float = Field(default=30.0, ge=0)
    telegram_chat_rate: float = Field(default=1.0, ge=0)
    telegram_group_rate: float = Field(default=20.0, ge=0)
    handoff_timeout: Duration = timedelta(hours=2)

    # LLM (no key: the offline engine)
    openai_api_key: SecretStr | None = None
    openai_base_url: str | None = None
    openai_model: str = "gpt-4o-mini"
    llm_connect_timeout: Duration = timedelta(seconds=5)
    llm_first_token_timeout: Duration = timedelta(seconds=6)
    llm_total_timeout: Duration = timedelta(seconds=8)  # a hung model: the offline answer within it
    llm_max_retries: int = Field(default=2, ge=0, le=10)
    llm_token_budget: int = Field(default=4000, ge=500)

    # Google Sheets (no sheet id: the local CSV sink)
    google_application_credentials: Path | None = None
    google_sheet_id: str | None = None
    google_sheets_api_url: str = "https://sheets.googleapis.com"
    sheets_writes_per_minute: int = Field(default=60, ge=1)

    # WhatsApp Cloud API
    whatsapp_token: SecretStr | None = None
    whatsapp_phone_number_id: str | None = None
    whatsapp_app_secret: SecretStr | None = None
    whatsapp_verify_token: SecretStr | None = None
    whatsapp_api_url: str = "https://graph.facebook.com/v21.0"
    # Messages a second the business number may send (Cloud API throughput: 80 by default, up to 1,000
    # once Meta raised it); 0: not paced
    whatsapp_rate: float = Field(default=80.0, ge=0)

    # MAX messenger (VK): long polling, or the webhook when MAX_WEBHOOK_URL is set
    max_bot_token: SecretStr | None = None
    max_api_url: str = "https://platform-api.max.ru"
    max_webhook_url: str | None = None
    max_webhook_secret: SecretStr | None = None
    max_admin_chat_id: int | None = None

    # Files and place
    knowledge_dir: Path = Path("knowledge")
    prompts_dir: Path = Path("prompts")
    data_dir: Path = Path("data")
    clinic_timezone: str = "Europe/Samara"

    # HTTP server (webhooks, widget, health)
    http_host: str = "127.0.0.1"
    http_port: int = Field(default=8080, ge=0, le=65535)
    # Reverse proxies whose X-Forwarded-For is believed (IPs or CIDRs); empty: the direct peer is the visitor
    trusted_proxies: Networks = ()

    # Timers of "nothing is lost"
    followup_delay: Duration = timedelta(minutes=30)
    unconfirmed_delay: Duration = timedelta(hours=2)
    quiet_hours: QuietHours = (time(21, 0), time(9, 0))

    # Retention (152-FZ: kept no longer than needed). Conversations and transcripts: counted from the last
    # message; receipts: delivered outbox rows, answered receipts, finished inbox rows. Leads stay. 0: forever.
    retention_conversations: Duration = timedelta(days=90)
    retention_receipts: Duration = timedelta(days=7)

    # Site widget
    web_allowed_origins: Origins = ()
    web_demo: bool = False

    # Owner's weekly report: weekday 0 = Monday, clinic time
    report_weekday: int = Field(default=0, ge=0, le=6)
    report_time: str = "09:00"

    log_level: str = "INFO"

    @field_validator(
        "telegram_api_url",
        "google_sheets_api_url",
        "whatsapp_api_url",
        "max_api_url",
        "openai_base_url",
        mode="after",
    )
    @classmethod
    def _strip_slash(cls, value: str | None) -> str | None:
        return value.rstrip("/") if value else value

    @field_validator("retention_conversations", "retention_receipts")
    @classmethod
    def _retention_at_least_a_day(cls, value: timedelta) -> timedelta:
        # Shorter would take away what a live conversation or a redelivered message still needs.
        if timedelta(0) < value < timedelta(days=1):
            raise ValueError(f"{value} — слишком мало; храните не меньше 1d (или 0 — хранить всё)")
        if value < timedelta(0):
            raise ValueError(
                "срок хранения не может быть отрицательным; пишите так: 90d, или 0 — хранить всё"
            )
        return value

    @field_validator("clinic_timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(
                f"неизвестный часовой пояс «{value}»; пишите название, например Europe/Samara"
            ) from exc
        return value

    @field_validator(
        "telegram_bot_token",
        "openai_api_key",
        "whatsapp_token",
        "whatsapp_app_secret",
        "whatsapp_verify_token",
        "telegram_webhook_secret",
        "max_bot_token",
        "max_webhook_secret",
        mode="before",
    )
    @classmethod
    def _empty_secret_is_none(cls, value: Any) -> Any:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator(
        "admin_chat_id",
        "google_sheet_id",
        "google_application_credentials",
        "openai_base_url",
        "telegram_webhook_url",
        "whatsapp_phone_number_id",
        "max_webhook_url",
        "max_admin_chat_id",
        mode="before",
    )
    @classmethod
    def _empty_is_none(cls, value: Any) -> Any:
        return None if isinstance(value, str) and not value.strip() else value

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.clinic_timezone)

    @property
    def telegram_enabled(self) -> bool:
        return self.telegram_bot_token is not None

    @property
    def llm_enabled(self) -> bool:
        return self.openai_api_key is not None

    @property
    def sheets_enabled(self) -> bool:
        return bool(self.google_sheet_id)

    @property
    def whatsapp_enabled(self) -> bool:
        return self.whatsapp_token is not None and bool(self.whatsapp_phone_number_id)

    @property
    def max_enabled(self) -> bool:
        return self.max_bot_token is not None

    @property
    def state_db(self) -> Path:
        return self.data_dir / "state.sqlite3"

    @property
    def leads_csv(self) -> Path:
        return self.data_dir / "leads.csv"


# pydantic's messages for the kinds of mistakes made in .env, as the operator reads them.
_RUSSIAN_ERRORS = {
    "int_parsing": "нужно целое число",
    "float_parsing": "нужно число",
    "bool_parsing": "нужно 1 или 0 (да/нет: true/false)",
    "greater_than_equal": "слишком маленькое значение",
    "greater_than": "слишком маленькое значение",
    "less_than_equal": "слишком большое значение",
    "less_than": "слишком большое значение",
    "url_parsing": "нужен адрес вида https://…",
    "url_scheme": "адрес должен начинаться с http:// или https://",
    "missing": "не задано",
}


def load_settings(**overrides: Any) -> Settings:
    """Build settings or raise ConfigError with one clear line per bad variable."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            name = ".".join(str(p) for p in err["loc"]).upper() or "settings"
            message = _RUSSIAN_ERRORS.get(err["type"], str(err["msg"]).removeprefix("Value error, "))
            lines.append(f"{name}: {message} (сейчас: {err.get('input')!r})")
        raise ConfigError("неверные настройки: " + "; ".join(lines)) from None
