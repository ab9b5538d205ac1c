"""The Telegram webhook's URL rule, its secret (configured, or generated and kept 0600) and bounded JSON."""

from __future__ import annotations

import json
import re
import stat
from pathlib import Path

import pytest
from pydantic import SecretStr

from bot.channels.telegram.webhook import (
    SECRET_FILE,
    read_generated_secret,
    resolve_secret,
    secret_problem,
    url_problems,
    webhook_url,
)
from bot.config import Settings
from bot.errors import ConfigError
from bot.http.bounded_json import JsonTooDeep, loads_bounded

TELEGRAM = "https://api.telegram.org"
LOCAL_API = "http://127.0.0.1:8081"


@pytest.mark.parametrize(
    ("configured", "registered"),
    [
        ("https://clinic.example", "https://clinic.example/webhook/telegram"),
        ("https://clinic.example/", "https://clinic.example/webhook/telegram"),
        ("https://clinic.example/webhook/telegram", "https://clinic.example/webhook/telegram"),
        ("https://clinic.example/webhook/telegram/", "https://clinic.example/webhook/telegram"),
        ("https://clinic.example/bot", "https://clinic.example/bot/webhook/telegram"),
        ("https://clinic.example/bot/webhook/telegram", "https://clinic.example/bot/webhook/telegram"),
        ("https://clinic.example/?src=tg", "https://clinic.example/webhook/telegram?src=tg"),
    ],
)
def test_the_path_is_completed_only_when_missing(configured: str, registered: str) -> None:
    assert webhook_url(configured) == registered


@pytest.mark.parametrize(
    "configured", ["https://clinic.example", "https://clinic.example/webhook/telegram", "https://c.ru:8443/"]
)
def test_good_urls_have_no_problems(configured: str) -> None:
    assert url_problems(configured, TELEGRAM) == []


def test_plain_http_is_fatal_with_telegram_and_a_warning_with_a_local_bot_api_server() -> None:
    [problem] = url_problems("http://clinic.example/webhook/telegram", TELEGRAM)
    assert problem.fatal and "HTTPS" in problem.detail and "https://clinic.example" in problem.fix
    [problem] = url_problems("http://127.0.0.1:8080/webhook/telegram", LOCAL_API)
    assert not problem.fatal


def test_a_port_telegram_never_posts_to_is_fatal() -> None:
    [problem] = url_problems("https://clinic.example:8080/webhook/telegram", TELEGRAM)
    assert problem.fatal and "443, 80, 88 или 8443" in problem.detail


def test_a_path_not_ending_with_the_webhook_path_is_flagged_with_what_is_registered() -> None:
    [problem] = url_problems("https://clinic.example/hook", TELEGRAM)
    assert not problem.fatal
    assert "https://clinic.example/hook/webhook/telegram" in problem.detail
    assert "https://clinic.example" in problem.fix and "/webhook/telegram" in problem.fix


@pytest.mark.parametrize(
    "configured", ["clinic.example/webhook/telegram", "ftp://clinic.example", "https://"]
)
def test_not_a_web_address(configured: str) -> None:
    [problem] = url_problems(configured, TELEGRAM)
    assert problem.fatal and "не веб-адрес" in problem.detail


@pytest.mark.parametrize(
    ("value", "ok"),
    [("a", True), ("A-z_09" * 40, True), ("x" * 256, True), ("x" * 257, False), ("пароль", False),
     ("with space", False), ("a.b", False), ("a+b/c=", False)],
)  # fmt: skip
def test_configured_secrets_must_be_what_telegram_accepts(value: str, ok: bool) -> None:
    assert (secret_problem(value) is None) is ok


def configured(settings: Settings, secret: str | None) -> Settings:
    return settings.model_copy(
        update={"telegram_webhook_secret": SecretStr(secret) if secret is not None else None}
    )


def test_a_configured_secret_is_used_as_is_and_nothing_is_written(settings: Settings) -> None:
    secret = resolve_secret(configured(settings, "my-secret_1"))
    assert (secret.value, secret.source, secret.path) == ("my-secret_1", "configured", None)
    assert not (settings.data_dir / SECRET_FILE).exists()


def test_a_configured_secret_telegram_would_refuse_stops_with_the_fix(settings: Settings) -> None:
    with pytest.raises(ConfigError, match=r"TELEGRAM_WEBHOOK_SECRET.*оставьте его пустым"):
        resolve_secret(configured(settings, "пароль клиники"))


def test_without_a_secret_one_is_generated_once_kept_0600_and_reused(settings: Settings) -> None:
    first = resolve_secret(settings)
    path = settings.data_dir / SECRET_FILE
    assert first.source == "generated" and first.path == path
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", first.value)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_text().strip() == first.value
    assert resolve_secret(settings).value == first.value  # a restart keeps Telegram's webhook valid
    assert read_generated_secret(settings) == first.value
    assert [p.name for p in settings.data_dir.iterdir() if "secret" in p.name] == [SECRET_FILE]


def test_two_data_folders_get_different_secrets(settings: Settings, tmp_path: Path) -> None:
    other = settings.model_copy(update={"data_dir": tmp_path / "other"})
    assert resolve_secret(settings).value != resolve_secret(other).value


def test_a_secret_file_readable_by_others_is_restricted(settings: Settings) -> None:
    value = resolve_secret(settings).value
    path = settings.data_dir / SECRET_FILE
    path.chmod(0o644)
    assert resolve_secret(settings).value == value
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


@pytest.mark.parametrize("content", [b"", b"\n", b"not a secret!\n", b"\xff\xfe\x00garbage"])
def test_a_damaged_secret_file_is_replaced(settings: Settings, content: bytes) -> None:
    settings.data_dir.mkdir(parents=True)
    path = settings.data_dir / SECRET_FILE
    path.write_bytes(content)
    secret = resolve_secret(settings)
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", secret.value)
    assert path.read_text().strip() == secret.value


def test_an_unwritable_data_folder_is_a_config_error_naming_the_way_out(settings: Settings) -> None:
    settings.data_dir.parent.mkdir(parents=True, exist_ok=True)
    settings.data_dir.write_text("a file, not a folder")
    with pytest.raises(ConfigError, match="TELEGRAM_WEBHOOK_SECRET"):
        resolve_secret(settings)


@pytest.mark.parametrize(
    "raw",
    [b"[" * 50_000 + b"]" * 50_000, b'{"a":' * 50_000 + b"0" + b"}" * 50_000, "[" * 65 + "]" * 65],
    ids=["brackets", "objects", "just past the bound"],
)
def test_deep_json_is_a_value_error_not_a_recursion_error(raw: bytes | str) -> None:
    with pytest.raises(JsonTooDeep):
        loads_bounded(raw)
    with pytest.raises(ValueError):
        loads_bounded(raw)


def test_ordinary_json_is_parsed_as_json_loads_does() -> None:
    update = {"update_id": 1, "message": {"chat": {"id": 1}, "entities": [{"type": "bold"}] * 200}}
    raw = json.dumps(update).encode()
    assert loads_bounded(raw) == update
    assert loads_bounded("[" * 64 + "]" * 64) == json.loads("[" * 64 + "]" * 64)
    with pytest.raises(ValueError):
        loads_bounded(b"not json")
