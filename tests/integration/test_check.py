"""`check` against fake servers speaking the real protocols (Bot API, OpenAI, Sheets, Graph)."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from bot.checks.model import Line, Mark
from bot.checks.runner import run_checks
from bot.config import Settings
from sheets.schema import DOCTORS_HEADER, LEAD_HEADER
from tests.bot_env import without_services
from tests.fakes.bot_api import BOT_USERNAME, FakeBotApi
from tests.fakes.bot_api import TOKEN as BOT_TOKEN
from tests.fakes.graph_api import PHONE_NUMBER_ID, FakeGraphAPI
from tests.fakes.graph_api import TOKEN as WA_TOKEN
from tests.fakes.openai_api import Answer, FakeOpenAI
from tests.fakes.sheets_api import FakeSheetsApi, write_credentials

ROOT = Path(__file__).resolve().parents[2]
SHEET = "check-sheet"
ADMIN_CHAT = -1001234567890
LLM_KEY = "sk-test-key-for-the-fake-openai-0123456789"


def fill_headers(api: FakeSheetsApi, lead_header: tuple[str, ...] = LEAD_HEADER) -> None:
    book = api.spreadsheets[SHEET]
    for title, header in (("Обращения", lead_header), ("Врачи", DOCTORS_HEADER)):
        sheet = book.sheet(title)
        assert sheet is not None
        sheet.grid = []
        for col, name in enumerate(header):
            sheet.set(0, col, ("text", name))


@pytest.fixture
def sheets_api() -> Iterator[FakeSheetsApi]:
    with FakeSheetsApi() as server:
        server.add_spreadsheet(SHEET, "Клиника", sheets=("Обращения", "Врачи", "Сводка"))
        fill_headers(server)
        yield server


@pytest.fixture
async def bot_api() -> AsyncIterator[FakeBotApi]:
    server = await FakeBotApi().start()
    server.members[ADMIN_CHAT] = set()
    yield server
    await server.stop()


@pytest.fixture
async def graph() -> AsyncIterator[FakeGraphAPI]:
    server = FakeGraphAPI()
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
async def openai_api() -> AsyncIterator[FakeOpenAI]:
    server = FakeOpenAI(api_key=LLM_KEY)
    await server.start()
    yield server
    await server.close()


@pytest.fixture
def env(
    tmp_path: Path,
    sheets_api: FakeSheetsApi,
    bot_api: FakeBotApi,
    graph: FakeGraphAPI,
    openai_api: FakeOpenAI,
) -> dict[str, str]:
    """Every service configured and pointing at its fake: the environment of a healthy installation."""
    return {
        "TELEGRAM_BOT_TOKEN": BOT_TOKEN,
        "TELEGRAM_API_URL": bot_api.url,
        "ADMIN_CHAT_ID": str(ADMIN_CHAT),
        "OPENAI_API_KEY": LLM_KEY,
        "OPENAI_BASE_URL": openai_api.base_url,
        "OPENAI_MODEL": "gpt-4o-mini",
        "GOOGLE_SHEET_ID": SHEET,
        "GOOGLE_APPLICATION_CREDENTIALS": str(write_credentials(sheets_api, tmp_path)),
        "GOOGLE_SHEETS_API_URL": sheets_api.base_url,
        "WHATSAPP_TOKEN": WA_TOKEN,
        "WHATSAPP_PHONE_NUMBER_ID": PHONE_NUMBER_ID,
        "WHATSAPP_API_URL": graph.url,
        "WHATSAPP_APP_SECRET": "app-secret-0123456789abcdef",
        "WHATSAPP_VERIFY_TOKEN": "verify-token-0123456789",
        "DATA_DIR": str(tmp_path / "data"),
        "KNOWLEDGE_DIR": str(ROOT / "knowledge"),
        "PROMPTS_DIR": str(ROOT / "prompts"),
    }


def configured(settings: Settings, env: dict[str, str], **changes: str) -> Settings:
    values = {**env, **changes}
    return Settings(**{k.lower(): v for k, v in values.items()})  # type: ignore[arg-type]


def failed(lines: list[Line]) -> list[str]:
    return [line.render() for line in lines if line.mark is Mark.FAIL]


async def run_cli(env: dict[str, str], cwd: Path, *args: str) -> tuple[int, str]:
    clean = without_services()
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "check",
        *args,
        cwd=cwd,
        env={**clean, **env},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(process.communicate(), 90)
    return int(process.returncode or 0), out.decode()


async def test_all_good_exits_0_and_prints_no_secret(env: dict[str, str], tmp_path: Path) -> None:
    code, out = await run_cli(env, tmp_path)
    assert code == 0, out
    assert "✗" not in out and out.rstrip().endswith("All is well.")
    assert f"@{BOT_USERNAME}" in out
    assert "clinic-bot@clinic-test.iam.gserviceaccount.com" in out
    assert "Worksheet «Обращения»: header of 11 columns is right" in out
    assert "✓ LLM:" in out and "gpt-4o-mini" in out
    assert "✓ WhatsApp number: +7 846 200-30-40 «Здоровье Самары»" in out
    for secret in (BOT_TOKEN, LLM_KEY, WA_TOKEN, "app-secret-0123456789abcdef"):
        assert secret not in out
    assert BOT_TOKEN[:4] + "…" in out  # recognisable, not whole


async def test_everything_broken_exits_non_zero_with_the_right_lines(
    env: dict[str, str],
    tmp_path: Path,
    sheets_api: FakeSheetsApi,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from bot.cli import main

    sheets_api.deny = True  # the sheet is not shared with the service account
    broken = {
        **env,
        "TELEGRAM_BOT_TOKEN": "123456:WRONG-token-0000000000000000",
        "OPENAI_BASE_URL": "http://127.0.0.1:9/v1",  # nothing listens: a dead LLM
        "WHATSAPP_TOKEN": "EAAG-expired",
    }
    monkeypatch.chdir(tmp_path)
    for name, value in broken.items():
        monkeypatch.setenv(name, value)
    # The command runs its own event loop: in a thread, while this loop serves the fake APIs.
    code = await asyncio.to_thread(main, ["check"])
    out = capsys.readouterr().out
    assert code == 1, out
    lines = out.splitlines()

    def line(prefix: str) -> str:
        found = [x for x in lines if x.startswith(prefix)]
        assert found, f"no line {prefix!r} in:\n{out}"
        return found[0]

    telegram = line("✗ Telegram token:")
    assert "401 Unauthorized" in telegram and "@BotFather" in telegram and "TELEGRAM_BOT_TOKEN" in telegram
    assert "not shared with clinic-bot@clinic-test.iam.gserviceaccount.com" in line("✗ Google Sheet access:")
    assert "add clinic-bot@clinic-test.iam.gserviceaccount.com as an Editor" in line("✗ Google Sheet access:")
    assert "cannot connect to http://127.0.0.1:9/v1" in line("✗ LLM:") and "OPENAI_BASE_URL" in line("✗ LLM:")
    assert "invalid or expired" in line("✗ WhatsApp number:") and "WHATSAPP_TOKEN" in line(
        "✗ WhatsApp number:"
    )
    assert "4 problem(s)" in out
    assert "123456:WRONG-token-0000000000000000" not in out and "EAAG-expired" not in out


async def test_missing_header_and_missing_worksheet(
    settings: Settings, env: dict[str, str], sheets_api: FakeSheetsApi
) -> None:
    header = list(LEAD_HEADER)
    header[3] = "Тел."
    fill_headers(sheets_api, tuple(header[:10]))  # «Статус» gone, «Телефон» renamed
    book = sheets_api.spreadsheets[SHEET]
    book.sheets = [s for s in book.sheets if s.title != "Врачи"]
    lines = await run_checks(configured(settings, env))
    problems = failed(lines)
    assert len(problems) == 2, problems
    [leads] = [p for p in problems if "«Обращения»" in p]
    assert "D1 is «Тел.», must be «Телефон»" in leads and "K1 is empty, must be «Статус»" in leads
    assert "init-sheet" in leads
    [doctors] = [p for p in problems if "«Врачи»" in p]
    assert "missing" in doctors and "python -m bot init-sheet" in doctors


async def test_admin_chat_webhook_and_llm_model(
    settings: Settings, env: dict[str, str], bot_api: FakeBotApi, openai_api: FakeOpenAI
) -> None:
    bot_api.webhook = {"url": "https://old.example.ru/hook"}
    lines = await run_checks(configured(settings, env, ADMIN_CHAT_ID="-100999", OPENAI_MODEL="gpt-9"))
    problems = failed(lines)
    assert any(
        p.startswith("✗ Admin chat: chat -100999 is not reachable") and "ADMIN_CHAT_ID" in p for p in problems
    )
    assert any(p.startswith("✗ LLM:") and "no model «gpt-9»" in p and "OPENAI_MODEL" in p for p in problems)
    [webhook] = [x for x in lines if x.item == "Telegram webhook"]
    assert webhook.mark is Mark.WARN and "https://old.example.ru/hook" in webhook.detail
    assert openai_api.requests and openai_api.requests[-1]["max_tokens"] == 5


async def test_wrong_llm_key_and_whatsapp_number(settings: Settings, env: dict[str, str]) -> None:
    lines = await run_checks(
        configured(settings, env, OPENAI_API_KEY="sk-wrong-0123456789", WHATSAPP_PHONE_NUMBER_ID="555")
    )
    problems = failed(lines)
    assert any(p.startswith("✗ LLM:") and "rejected" in p and "OPENAI_API_KEY" in p for p in problems)
    assert any("phone number id 555 is not found" in p and "Phone number ID" in p for p in problems)
    assert all("sk-wrong-0123456789" not in p for p in problems)


async def test_a_bot_outside_the_admin_chat(
    settings: Settings, env: dict[str, str], bot_api: FakeBotApi
) -> None:
    async def left(params: dict[str, Any]) -> Any:
        return {"status": "left", "user": bot_api.user(int(params["user_id"]), "Бот")}

    bot_api._m_getchatmember = left  # type: ignore[method-assign]
    lines = await run_checks(configured(settings, env))
    [admin] = [x for x in lines if x.item == "Admin chat"]
    assert admin.mark is Mark.FAIL and "not a member" in admin.detail and f"@{BOT_USERNAME}" in admin.fix


async def test_missing_credentials_file(settings: Settings, env: dict[str, str], tmp_path: Path) -> None:
    lines = await run_checks(
        configured(settings, env, GOOGLE_APPLICATION_CREDENTIALS=str(tmp_path / "no.json"))
    )
    [creds] = [x for x in lines if x.item == "Google credentials"]
    assert creds.mark is Mark.FAIL and "no.json" in creds.render()


async def test_nothing_configured_is_fine(settings: Settings) -> None:
    lines = await run_checks(settings)
    assert not failed(lines)
    assert {x.item for x in lines if x.mark is Mark.SKIP} == {
        "Telegram",
        "LLM",
        "Google Sheets",
        "WhatsApp",
        "MAX",
    }
    [llm] = [x for x in lines if x.item == "LLM"]
    assert "OPENAI_API_KEY" in llm.detail and "offline engine" in llm.detail


def test_bad_settings_are_one_line_each(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from bot.cli import main

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HTTP_PORT", "eighty")
    monkeypatch.setenv("CLINIC_TIMEZONE", "Mars/Olympus")
    assert main(["check"]) == 1
    out = capsys.readouterr().out
    failures = [x for x in out.splitlines() if x.startswith("✗ Settings:")]
    assert len(failures) == 2 and any("HTTP_PORT" in x and "eighty" in x for x in failures)
    assert any("Mars/Olympus" in x and "correct CLINIC_TIMEZONE in .env" in x for x in failures)


def test_secrets_are_masked() -> None:
    from bot.checks.model import mask

    assert mask(None) == "not set" and mask("short") == "*** (5 chars)"
    assert mask("sk-abcdefghijklmnop") == "sk-a…nop (19 chars)"
    assert json.dumps(mask(BOT_TOKEN)).count("TEST") == 0


async def test_doctor_rows_of_the_sheet_are_checked_like_doctors_csv(
    settings: Settings, env: dict[str, str], sheets_api: FakeSheetsApi
) -> None:
    sheet = sheets_api.spreadsheets[SHEET].sheet("Врачи")
    assert sheet is not None
    for row, cells in enumerate([("Смирнова Елена Викторовна", "ЛОР"), ("Петров Иван Ильич", "")], start=1):
        for col, value in enumerate(cells):
            sheet.set(row, col, ("text", value))
    lines = await run_checks(configured(settings, env))
    doctors = [x.render() for x in lines if x.item == "Worksheet «Врачи»"]
    assert any(
        x.startswith("! Worksheet «Врачи»: row 3: «Петров Иван Ильич» has no Специальность") for x in doctors
    )
    assert "✓ Worksheet «Врачи»: 1 doctors" in doctors and not failed(lines)


async def test_a_token_that_is_not_a_token(settings: Settings) -> None:
    from bot.checks.telegram import check_telegram

    [line] = await check_telegram(
        settings.model_copy(update={"telegram_bot_token": SecretStr("my bot password")})
    )
    assert (
        line.mark is Mark.FAIL
        and "does not look like a bot token" in line.detail
        and "@BotFather" in line.fix
    )
    assert "my bot password" not in line.render()


async def test_llm_out_of_quota(settings: Settings, env: dict[str, str], openai_api: FakeOpenAI) -> None:
    from bot.checks.llm import check_llm

    openai_api.script(Answer(status=429, retry_after="20"))
    [line] = await check_llm(configured(settings, env))
    assert line.mark is Mark.FAIL and "429" in line.detail and "balance" in line.fix


async def test_llm_model_the_key_may_not_use(
    settings: Settings, env: dict[str, str], openai_api: FakeOpenAI
) -> None:
    from bot.checks.llm import check_llm

    openai_api.script(Answer(status=403))
    [line] = await check_llm(configured(settings, env))
    assert line.mark is Mark.FAIL and "403" in line.detail and "«gpt-4o-mini»" in line.detail
    assert "OPENAI_MODEL" in line.fix and LLM_KEY not in line.render()


async def test_whatsapp_webhook_secrets(settings: Settings, env: dict[str, str]) -> None:
    from bot.checks.whatsapp import check_whatsapp

    number, webhook = await check_whatsapp(configured(settings, env))
    assert number.mark is Mark.OK and webhook.mark is Mark.OK and "/webhook/whatsapp" in webhook.detail
    without_secret = configured(settings, env).model_copy(update={"whatsapp_app_secret": None})
    [_, webhook] = await check_whatsapp(without_secret)
    assert webhook.mark is Mark.FAIL and "WHATSAPP_APP_SECRET" in webhook.render()
    without_verify = configured(settings, env).model_copy(update={"whatsapp_verify_token": None})
    [_, webhook] = await check_whatsapp(without_verify)
    assert webhook.mark is Mark.FAIL and "WHATSAPP_VERIFY_TOKEN" in webhook.render()


async def test_whatsapp_refused_token_half_configured_and_unreachable(
    settings: Settings, env: dict[str, str]
) -> None:
    from bot.checks.whatsapp import check_whatsapp

    [number, _] = await check_whatsapp(configured(settings, env, WHATSAPP_TOKEN="EAAG-old-token-0123456789"))
    assert number.mark is Mark.FAIL and "invalid or expired" in number.detail and "#190" in number.detail
    assert "WHATSAPP_TOKEN" in number.fix and "EAAG-old-token-0123456789" not in number.render()
    [half] = await check_whatsapp(configured(settings, env).model_copy(update={"whatsapp_token": None}))
    assert half.mark is Mark.FAIL and "WHATSAPP_TOKEN is empty" in half.detail
    [half] = await check_whatsapp(configured(settings, env, WHATSAPP_PHONE_NUMBER_ID=""))
    assert half.mark is Mark.FAIL and "WHATSAPP_PHONE_NUMBER_ID is empty" in half.detail
    [number, _] = await check_whatsapp(configured(settings, env, WHATSAPP_API_URL="http://127.0.0.1:9/v21.0"))
    assert number.mark is Mark.FAIL and "cannot reach http://127.0.0.1:9/v21.0" in number.detail
    assert "WHATSAPP_API_URL" in number.fix


def webhook_lines(lines: list[Line]) -> dict[str, Line]:
    return {line.item: line for line in lines if line.item.startswith("Telegram webhook")}


async def test_webhook_mode_says_where_the_secret_comes_from_never_printing_it(
    settings: Settings, env: dict[str, str], bot_api: FakeBotApi
) -> None:
    from bot.channels.telegram.webhook import resolve_secret
    from bot.checks.telegram import check_telegram

    polling = webhook_lines(await check_telegram(configured(settings, env)))
    assert (
        polling["Telegram webhook mode"].mark is Mark.OK
        and "off: long polling" in polling["Telegram webhook mode"].detail
    )
    hooked = configured(settings, env, TELEGRAM_WEBHOOK_URL="https://clinic.example")
    bot_api.webhook = {"url": "https://clinic.example/webhook/telegram"}  # what `run` registered
    lines = webhook_lines(await check_telegram(hooked))
    mode = lines["Telegram webhook mode"]
    assert (
        mode.mark is Mark.OK
        and "on: Telegram posts to https://clinic.example/webhook/telegram" in mode.detail
    )
    assert "`run` generates one" in mode.detail
    assert lines["Telegram webhook"].mark is Mark.OK  # the URL the bot completed is the one it registered
    secret = resolve_secret(hooked).value  # `run` generated it
    mode = webhook_lines(await check_telegram(hooked))["Telegram webhook mode"]
    assert mode.mark is Mark.OK and "secret generated by the bot" in mode.detail
    assert secret not in mode.render() and secret[:4] + "…" in mode.detail
    given = configured(settings, env, TELEGRAM_WEBHOOK_URL="https://clinic.example",
                       TELEGRAM_WEBHOOK_SECRET="operator-chosen-secret-0123")  # fmt: skip
    mode = webhook_lines(await check_telegram(given))["Telegram webhook mode"]
    assert mode.mark is Mark.OK and "configured in TELEGRAM_WEBHOOK_SECRET" in mode.detail
    assert "operator-chosen-secret-0123" not in mode.render()
    bad = configured(settings, env, TELEGRAM_WEBHOOK_URL="https://clinic.example",
                     TELEGRAM_WEBHOOK_SECRET="пароль клиники")  # fmt: skip
    mode = webhook_lines(await check_telegram(bad))["Telegram webhook mode"]
    assert mode.mark is Mark.FAIL and "A-Z, a-z, 0-9, _ and -" in mode.detail and "leave it empty" in mode.fix
    assert "пароль" not in mode.render()


async def test_a_webhook_url_with_a_wrong_path_or_without_https_is_flagged(
    settings: Settings, env: dict[str, str]
) -> None:
    from bot.checks.telegram import check_telegram

    wrong_path = configured(settings, env, TELEGRAM_WEBHOOK_URL="https://clinic.example/telegram-hook")
    url = webhook_lines(await check_telegram(wrong_path))["Telegram webhook URL"]
    assert url.mark is Mark.WARN
    assert "does not end with /webhook/telegram" in url.detail
    assert "https://clinic.example/telegram-hook/webhook/telegram" in url.detail
    on_telegram = configured(
        settings,
        env,
        TELEGRAM_WEBHOOK_URL="http://clinic.example",
        TELEGRAM_API_URL="https://api.telegram.org",
    )
    from bot.checks.telegram import webhook_mode

    [_, url] = webhook_mode(on_telegram)
    assert url.mark is Mark.FAIL and "not https" in url.detail and "https://clinic.example" in url.fix


async def test_check_prints_the_webhook_mode_and_the_generated_secret_masked(
    env: dict[str, str], tmp_path: Path
) -> None:
    data = tmp_path / "data"
    data.mkdir()
    secret = "Gx2kLq9wZr4TnB7vYc1mHd5sPf8jKa3eUo6iWl0bNzE"
    (data / "telegram-webhook-secret").write_text(secret + "\n")
    (data / "telegram-webhook-secret").chmod(0o600)
    code, out = await run_cli({**env, "TELEGRAM_WEBHOOK_URL": "https://clinic.example"}, tmp_path)
    assert code == 0, out
    assert "✓ Telegram webhook mode: on: Telegram posts to https://clinic.example/webhook/telegram" in out
    assert "secret generated by the bot" in out and "Gx2k…NzE (43 chars)" in out
    assert secret not in out
