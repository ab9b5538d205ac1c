"""`GET /healthz` is public: status and counts, and errors by kind only (no sheet id, e-mail, key file, lead
or chat id)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest

from bot.bootstrap import build_app
from bot.clock import FakeClock
from bot.config import Settings
from bot.dialogue.messages import Address, Incoming
from bot.http.health import error_log
from bot.http.server import create_http_app, start_http
from tests.fakes.sheets_api import FakeSheetsApi, write_credentials

SHEET = "1BxiMVs0XRA5nFMdKvBdBZjgmUUqptlbs74OgvE2upms"  # a sheet id as Google writes them
EMAIL = "clinic-bot@clinic-test.iam.gserviceaccount.com"  # the fake's service account
PATIENT = Address("telegram", "5550001", "@olga")


@pytest.fixture
def api() -> Iterator[FakeSheetsApi]:
    with FakeSheetsApi() as server:
        server.add_spreadsheet(SHEET, sheets=("Обращения", "Врачи"))
        yield server


async def test_healthz_shows_counts_and_error_kinds_but_no_ids_or_e_mails(
    settings: Settings, api: FakeSheetsApi, clock: FakeClock, tmp_path: Path
) -> None:
    key_file = write_credentials(api, tmp_path)
    configured = settings.model_copy(
        update={
            "google_sheet_id": SHEET,
            "google_application_credentials": key_file,
            "google_sheets_api_url": api.base_url,
        }
    )
    app = build_app(configured, clock=clock)
    runner = None
    try:
        api.deny = True  # the sheet was not shared with the service account: Google answers 403
        for text in ("Здравствуйте, я Ольга, хочу к лору после обеда, впервые, 89123456789", "да", "да"):
            await app.service.handle(PATIENT, Incoming(text=text))
        [lead] = app.store.leads()
        await app.flusher.flush()
        assert EMAIL in app.outbox.last_errors()[0] and SHEET in app.outbox.last_errors()[0]  # for the log
        error_log(app).record("telegram", f"reply to 5550001 failed: chat {PATIENT.key} ({EMAIL}) not found")
        error_log(app).record("web", f"OSError: cannot open {key_file}")

        http_app = create_http_app(app)
        runner, port = await start_http(http_app, "127.0.0.1", 0)
        async with aiohttp.ClientSession() as http, http.get(f"http://127.0.0.1:{port}/healthz") as response:
            assert response.status == 200
            raw = await response.text()
            health = await response.json()
    finally:
        if runner is not None:
            await runner.cleanup()
        app.close()

    for secret in (SHEET, EMAIL, "gserviceaccount", lead.id, "5550001", str(key_file), "+7912"):
        assert secret not in raw, secret
    assert health["status"] == "degraded"
    assert health["outbox"] == {"sheets": {"parked": 1}}
    assert health["admin_alerts"] == {"pending": 0, "failing": 0}
    assert health["conversations"] == 1
    [outbox_error] = health["outbox_errors"]
    assert outbox_error.startswith("sheets: ") and "403" in outbox_error  # the kind: access refused
    assert [e["source"] for e in health["last_errors"]] == ["web", "telegram"]
    assert "not found" in health["last_errors"][1]["error"] and "OSError" in health["last_errors"][0]["error"]
