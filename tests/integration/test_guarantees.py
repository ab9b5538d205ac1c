"""The service's promises (README, «Что гарантирует сервис»), each shown on the whole application."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path

from bot.bootstrap import build_app
from bot.clock import FakeClock
from bot.config import Settings
from bot.dialogue.messages import Address, Incoming
from bot.errors import SinkError
from sheets.csv_sink import CsvLeadSink
from sheets.google import GoogleSheetsSink
from sheets.port import LeadSink
from sheets.schema import Lead
from tests.fakes.sheets_api import FakeSheetsApi, write_credentials

PATIENT = Address("telegram", "42", "@olga")
BOOKING = ("Я Ольга, хочу к лору после обеда, впервые, 89123456789", "да", "да")


def committed_lead_ids(db_path: Path) -> list[str]:
    """What another process would read from the local record: committed rows only."""
    conn = sqlite3.connect(db_path)
    try:
        return [str(r[0]) for r in conn.execute("SELECT id FROM leads")]
    finally:
        conn.close()


class WitnessSink(LeadSink):
    """Fails every write, noting whether the lead was already committed to SQLite when it was offered."""

    name = "witness"

    def __init__(self, db_path: Path) -> None:
        self.db_path = db_path
        self.seen_committed: list[bool] = []

    def append(self, leads: Sequence[Lead]) -> None:
        ids = committed_lead_ids(self.db_path)
        self.seen_committed += [lead.id in ids for lead in leads]
        raise SinkError("the sheet is down", retryable=True)

    def upsert(self, lead: Lead) -> None:
        self.append([lead])

    def update_status(self, lead_id: str, status: str) -> bool:
        raise SinkError("the sheet is down", retryable=True)

    def read_all(self) -> list[Lead]:
        return []


async def test_lead_is_committed_locally_before_the_patient_is_told(
    settings: Settings, clock: FakeClock
) -> None:
    witness = WitnessSink(settings.state_db)
    app = build_app(settings, clock=clock, sinks={"csv": witness})
    try:
        for text in BOOKING:
            replies = await app.service.handle(PATIENT, Incoming(text=text))
        assert "Заявка принята" in replies[0].text
        [lead_id] = committed_lead_ids(settings.state_db)
        assert witness.seen_committed == [True]  # the sink was offered only what was already safe
        assert app.outbox.backlog() == {"csv": {"pending": 1}}
        assert "the sheet is down" in app.outbox.last_errors()[0]
        assert [lead.id for lead in app.store.leads()] == [lead_id]
    finally:
        app.close()


async def test_sheet_outage_during_booking_then_delivery_once(
    settings: Settings, clock: FakeClock, tmp_path: Path
) -> None:
    with FakeSheetsApi() as api:
        api.add_spreadsheet("s1")
        sheet = GoogleSheetsSink(
            "s1", write_credentials(api, tmp_path), api_url=api.base_url, cache_dir=tmp_path
        )
        app = build_app(
            settings, clock=clock, sinks={"csv": CsvLeadSink(settings.leads_csv), "sheets": sheet}
        )
        try:
            api.outage = True
            for text in BOOKING:
                replies = await app.service.handle(PATIENT, Incoming(text=text))
            assert "Заявка принята" in replies[0].text
            await app.flusher.flush()
            assert [lead.phone for lead in app.sinks["csv"].read_all()] == ["+79123456789"]
            assert app.outbox.backlog() == {"sheets": {"pending": 1}}
            api.outage = False
            for _ in range(3):  # retries are due later: move the clock past the backoff
                clock.advance(timedelta(minutes=10))
                await app.flusher.flush()
            assert app.outbox.backlog() == {}
            rows = api.values("s1", "Обращения")
            assert [r[3] for r in rows[1:]] == ["+79123456789"]
        finally:
            app.close()


async def test_slow_sheet_does_not_slow_the_patients_answer(
    settings: Settings, clock: FakeClock, tmp_path: Path
) -> None:
    with FakeSheetsApi() as api:
        api.add_spreadsheet("s1")
        sheet = GoogleSheetsSink(
            "s1", write_credentials(api, tmp_path), api_url=api.base_url, cache_dir=tmp_path
        )
        app = build_app(
            settings, clock=clock, sinks={"csv": CsvLeadSink(settings.leads_csv), "sheets": sheet}
        )
        flusher = asyncio.create_task(app.flusher.run_forever(interval=0.05))
        try:
            api.latency = 0.8  # every Sheets call takes 0.8 s
            for text in BOOKING[:2]:
                await app.service.handle(PATIENT, Incoming(text=text))
            began = time.perf_counter()
            replies = await app.service.handle(PATIENT, Incoming(text=BOOKING[2]))
            assert time.perf_counter() - began < 0.7
            assert "Заявка принята" in replies[0].text
            assert [lead.phone for lead in app.sinks["csv"].read_all()] == ["+79123456789"]
            for _ in range(200):
                if not app.outbox.backlog():
                    break
                await asyncio.sleep(0.05)
            assert [r[3] for r in api.values("s1", "Обращения")[1:]] == ["+79123456789"]
        finally:
            flusher.cancel()
            app.close()
