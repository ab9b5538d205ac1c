"""`check` against fake servers speaking the real protocols (Bot API, OpenAI, Sheets, Graph)."""

from __future__ import annotations

import asyncio
import json
import os
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


async def test_all_good_exits_0_and_prints_no_secret(
    env: dict[str, str], tmp_path: Path, sheets_api: FakeSheetsApi
) -> None:
    doctors = sheets_api.spreadsheets[SHEET].sheet("Врачи")
    assert doctors is not None
    for col, value in enumerate(("Смирнова Елена Викторовна", "ЛОР")):
        doctors.set(1, col, ("text", value))
    code, out = await run_cli(env, tmp_path)
    assert code == 0, out
    assert "✗" not in out and out.rstrip().endswith("Всё в порядке."), out
    assert f"@{BOT_USERNAME}" in out and "! Чат администраторов" not in out
    assert "clinic-bot@clinic-test.iam.gserviceaccount.com" in out
    assert "✓ Лист «Обращения»: заголовок из 11 столбцов в порядке" in out
    assert "✓ LLM:" in out and "gpt-4o-mini" in out
    assert "✓ Номер WhatsApp: +7 846 200-30-40 «Здоровье Самары»" in out
    assert "✓ Чат администраторов: " in out and "бот в чате" in out
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

    telegram = line("✗ Токен Telegram:")
    assert "401 Unauthorized" in telegram and "@BotFather" in telegram and "TELEGRAM_BOT_TOKEN" in telegram
    access = line("✗ Доступ к таблице:")
    assert "не открыта для clinic-bot@clinic-test.iam.gserviceaccount.com" in access
    assert "добавьте clinic-bot@clinic-test.iam.gserviceaccount.com как редактора" in access
    assert "нет связи с http://127.0.0.1:9/v1" in line("✗ LLM:") and "OPENAI_BASE_URL" in line("✗ LLM:")
    assert "неверен или просрочен" in line("✗ Номер WhatsApp:") and "WHATSAPP_TOKEN" in line(
        "✗ Номер WhatsApp:"
    )
    # Every ✗ line says what to do, as a whole sentence after the marker.
    for failure in [x for x in lines if x.startswith("✗")]:
        assert failure.count(" — как исправить: ") == 1, failure
    assert lines[-1] == "Найдено: 4 ошибки (✗). Исправьте строки с ✗ и запустите проверку снова: make check"
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
    assert "в D1 «Тел.», а должно быть «Телефон»" in leads and "в K1 пусто, а должно быть «Статус»" in leads
    assert "make init-sheet" in leads
    [doctors] = [p for p in problems if "«Врачи»" in p]
    assert doctors.startswith("✗ Лист «Врачи»: листа нет — как исправить: выполните `make init-sheet`")


async def test_admin_chat_webhook_and_llm_model(
    settings: Settings, env: dict[str, str], bot_api: FakeBotApi, openai_api: FakeOpenAI
) -> None:
    bot_api.webhook = {"url": "https://old.example.ru/hook"}
    lines = await run_checks(configured(settings, env, ADMIN_CHAT_ID="-100999", OPENAI_MODEL="gpt-9"))
    problems = failed(lines)
    assert any(
        p.startswith("✗ Чат администраторов: чат -100999 недоступен") and "ADMIN_CHAT_ID" in p
        for p in problems
    )
    assert any(p.startswith("✗ LLM:") and "нет модели «gpt-9»" in p and "OPENAI_MODEL" in p for p in problems)
    [webhook] = [x for x in lines if x.item == "Webhook Telegram"]
    assert webhook.mark is Mark.WARN and "https://old.example.ru/hook" in webhook.detail
    assert openai_api.requests and openai_api.requests[-1]["max_tokens"] == 5


async def test_wrong_llm_key_and_whatsapp_number(settings: Settings, env: dict[str, str]) -> None:
    lines = await run_checks(
        configured(settings, env, OPENAI_API_KEY="sk-wrong-0123456789", WHATSAPP_PHONE_NUMBER_ID="555")
    )
    problems = failed(lines)
    assert any(p.startswith("✗ LLM:") and "не принял ключ" in p and "OPENAI_API_KEY" in p for p in problems)
    assert any(
        "Phone number ID 555 для этого токена не найден" in p and "WHATSAPP_PHONE_NUMBER_ID" in p
        for p in problems
    )
    assert all("sk-wrong-0123456789" not in p for p in problems)


async def test_a_bot_outside_the_admin_chat(
    settings: Settings, env: dict[str, str], bot_api: FakeBotApi
) -> None:
    async def left(params: dict[str, Any]) -> Any:
        return {"status": "left", "user": bot_api.user(int(params["user_id"]), "Бот")}

    bot_api._m_getchatmember = left  # type: ignore[method-assign]
    lines = await run_checks(configured(settings, env))
    [admin] = [x for x in lines if x.item == "Чат администраторов"]
    assert (
        admin.mark is Mark.FAIL
        and "бота нет среди участников" in admin.detail
        and f"@{BOT_USERNAME}" in admin.fix
    )


async def test_missing_credentials_file(settings: Settings, env: dict[str, str], tmp_path: Path) -> None:
    lines = await run_checks(
        configured(settings, env, GOOGLE_APPLICATION_CREDENTIALS=str(tmp_path / "no.json"))
    )
    [creds] = [x for x in lines if x.item == "Ключ Google"]
    assert creds.mark is Mark.FAIL and "no.json" in creds.detail and creds.detail.startswith("файла ключа")


async def test_nothing_configured_passes_but_warns_that_alerts_reach_nobody(settings: Settings) -> None:
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
    assert "OPENAI_API_KEY" in llm.detail and "встроенный движок" in llm.detail
    [admin] = [x for x in lines if x.item == "Чат администраторов"]
    assert (
        admin.mark is Mark.WARN and "позвать администратора" in admin.detail and "ADMIN_CHAT_ID" in admin.fix
    )


def test_the_command_without_an_admin_chat_does_not_say_all_is_well(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from bot.cli import main

    monkeypatch.chdir(tmp_path)
    for name in [*os.environ]:
        if name.startswith(("TELEGRAM", "OPENAI", "GOOGLE", "WHATSAPP", "ADMIN")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("KNOWLEDGE_DIR", str(ROOT / "knowledge"))
    monkeypatch.setenv("PROMPTS_DIR", str(ROOT / "prompts"))
    monkeypatch.setenv("DATA_DIR", str(tmp_path / "data"))
    assert main(["check"]) == 0  # a warning, not a failure: the bot works without administrators' alerts
    out = capsys.readouterr().out
    assert "! Чат администраторов: не настроен" in out and "Всё в порядке" not in out
    assert out.rstrip().splitlines()[-1].startswith("Ошибок нет, но есть 1 предупреждение")


def test_bad_settings_are_one_line_each(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from bot.cli import main

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HTTP_PORT", "eighty")
    monkeypatch.setenv("CLINIC_TIMEZONE", "Mars/Olympus")
    assert main(["check"]) == 1
    out = capsys.readouterr().out
    failures = [x for x in out.splitlines() if x.startswith("✗ Настройки:")]
    assert len(failures) == 2 and any(
        "HTTP_PORT: нужно целое число (сейчас: 'eighty')" in x for x in failures
    ), failures
    assert any(
        "неизвестный часовой пояс «Mars/Olympus»" in x and "исправьте CLINIC_TIMEZONE в файле .env" in x
        for x in failures
    )
    assert out.rstrip().splitlines()[-1].startswith("Найдено: 2 ошибки (✗).")


def test_secrets_are_masked() -> None:
    from bot.checks.model import mask

    assert mask(None) == "не задан" and mask("short") == "*** (5 символов)"
    assert mask("sk-abcdefghijklmnop") == "sk-a…nop (19 символов)"
    assert mask("sk-abcdefghijklmnopqr") == "sk-a…pqr (21 символ)" and mask("abc") == "*** (3 символа)"
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
    doctors = [x.render() for x in lines if x.item == "Лист «Врачи»"]
    assert any(
        x.startswith("! Лист «Врачи»: строка 3: у «Петров Иван Ильич» не указана Специальность")
        for x in doctors
    )
    assert "✓ Лист «Врачи»: 1 врач" in doctors and not failed(lines)


async def test_a_token_that_is_not_a_token(settings: Settings) -> None:
    from bot.checks.telegram import check_telegram

    [line] = await check_telegram(
        settings.model_copy(update={"telegram_bot_token": SecretStr("my bot password")})
    )
    assert line.mark is Mark.FAIL and "не похож на токен бота" in line.detail and "@BotFather" in line.fix
    assert "my bot password" not in line.render()


async def test_llm_out_of_quota(settings: Settings, env: dict[str, str], openai_api: FakeOpenAI) -> None:
    from bot.checks.llm import check_llm

    openai_api.script(Answer(status=429, retry_after="20"))
    [line] = await check_llm(configured(settings, env))
    assert line.mark is Mark.FAIL and "429" in line.detail and "пополните баланс" in line.fix


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
    assert number.mark is Mark.FAIL and "неверен или просрочен" in number.detail and "#190" in number.detail
    assert "WHATSAPP_TOKEN" in number.fix and "EAAG-old-token-0123456789" not in number.render()
    [half] = await check_whatsapp(configured(settings, env).model_copy(update={"whatsapp_token": None}))
    assert half.mark is Mark.FAIL and "WHATSAPP_TOKEN пуст" in half.detail
    [half] = await check_whatsapp(configured(settings, env, WHATSAPP_PHONE_NUMBER_ID=""))
    assert half.mark is Mark.FAIL and "WHATSAPP_PHONE_NUMBER_ID пуст" in half.detail
    [number, _] = await check_whatsapp(configured(settings, env, WHATSAPP_API_URL="http://127.0.0.1:9/v21.0"))
    assert number.mark is Mark.FAIL and "нет связи с http://127.0.0.1:9/v21.0" in number.detail
    assert "WHATSAPP_API_URL" in number.fix


def webhook_lines(lines: list[Line]) -> dict[str, Line]:
    return {line.item: line for line in lines if "webhook telegram" in line.item.lower()}


async def test_webhook_mode_says_where_the_secret_comes_from_never_printing_it(
    settings: Settings, env: dict[str, str], bot_api: FakeBotApi
) -> None:
    from bot.channels.telegram.webhook import resolve_secret
    from bot.checks.telegram import check_telegram

    polling = webhook_lines(await check_telegram(configured(settings, env)))
    assert (
        polling["Режим webhook Telegram"].mark is Mark.OK
        and "выключен: бот сам получает сообщения (long polling" in polling["Режим webhook Telegram"].detail
    )
    hooked = configured(settings, env, TELEGRAM_WEBHOOK_URL="https://clinic.example")
    bot_api.webhook = {"url": "https://clinic.example/webhook/telegram"}  # what `run` registered
    lines = webhook_lines(await check_telegram(hooked))
    mode = lines["Режим webhook Telegram"]
    assert (
        mode.mark is Mark.OK
        and "включён: Telegram присылает сообщения на https://clinic.example/webhook/telegram" in mode.detail
    )
    assert "`make run` создаст его сам" in mode.detail
    assert lines["Webhook Telegram"].mark is Mark.OK  # the URL the bot completed is the one it registered
    secret = resolve_secret(hooked).value  # `run` generated it
    mode = webhook_lines(await check_telegram(hooked))["Режим webhook Telegram"]
    assert mode.mark is Mark.OK and "секрет создан ботом" in mode.detail
    assert secret not in mode.render() and secret[:4] + "…" in mode.detail
    given = configured(settings, env, TELEGRAM_WEBHOOK_URL="https://clinic.example",
                       TELEGRAM_WEBHOOK_SECRET="operator-chosen-secret-0123")  # fmt: skip
    mode = webhook_lines(await check_telegram(given))["Режим webhook Telegram"]
    assert mode.mark is Mark.OK and "секрет задан в TELEGRAM_WEBHOOK_SECRET" in mode.detail
    assert "operator-chosen-secret-0123" not in mode.render()
    bad = configured(settings, env, TELEGRAM_WEBHOOK_URL="https://clinic.example",
                     TELEGRAM_WEBHOOK_SECRET="пароль клиники")  # fmt: skip
    mode = webhook_lines(await check_telegram(bad))["Режим webhook Telegram"]
    assert (
        mode.mark is Mark.FAIL and "A-Z, a-z, 0-9, _ и -" in mode.detail and "оставьте его пустым" in mode.fix
    )
    assert "пароль" not in mode.render()


async def test_a_webhook_url_with_a_wrong_path_or_without_https_is_flagged(
    settings: Settings, env: dict[str, str]
) -> None:
    from bot.checks.telegram import check_telegram

    wrong_path = configured(settings, env, TELEGRAM_WEBHOOK_URL="https://clinic.example/telegram-hook")
    url = webhook_lines(await check_telegram(wrong_path))["Адрес webhook Telegram"]
    assert url.mark is Mark.WARN
    assert "не оканчивается на /webhook/telegram" in url.detail
    assert "https://clinic.example/telegram-hook/webhook/telegram" in url.detail
    on_telegram = configured(
        settings,
        env,
        TELEGRAM_WEBHOOK_URL="http://clinic.example",
        TELEGRAM_API_URL="https://api.telegram.org",
    )
    from bot.checks.telegram import webhook_mode

    [_, url] = webhook_mode(on_telegram)
    assert url.mark is Mark.FAIL and "не https" in url.detail and "https://clinic.example" in url.fix


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
    assert (
        "✓ Режим webhook Telegram: включён: Telegram присылает сообщения на https://clinic.example/webhook/telegram"
        in out
    )
    assert "секрет создан ботом" in out and "Gx2k…NzE (43 символа)" in out
    assert secret not in out
