"""Whose status is it: the bot rewrites its own statuses, never one the administrators set."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

from sheets.csv_sink import CsvLeadSink
from sheets.port import LeadSink, MemorySink
from sheets.schema import Lead, Status, is_bot_status, keep_admin_status
from tests.unit.test_csv_sink import make_lead


class StatusOnlySink(LeadSink):
    """A sink that can only set statuses: the port's default `upsert`/`replace` are used."""

    name = "status-only"

    def __init__(self) -> None:
        self.inner = MemorySink()

    def append(self, leads: Sequence[Lead]) -> None:
        self.inner.append(leads)

    def read_all(self) -> list[Lead]:
        return self.inner.read_all()

    def update_status(self, lead_id: str, status: str) -> bool:
        return self.inner.update_status(lead_id, status)


SINKS: dict[str, Callable[[Path], LeadSink]] = {
    "memory": lambda _: MemorySink(),
    "csv": lambda tmp: CsvLeadSink(tmp / "leads.csv"),
    "default": lambda _: StatusOnlySink(),
}


@pytest.fixture(params=sorted(SINKS))
def sink(request: pytest.FixtureRequest, tmp_path: Path) -> LeadSink:
    return SINKS[request.param](tmp_path)


def test_which_statuses_are_the_bots() -> None:
    assert is_bot_status(Status.NEW) and is_bot_status(Status.UNCONFIRMED) and is_bot_status("")
    assert is_bot_status(" Не подтверждена ")  # as an administrator might retype it
    for status in (Status.IN_WORK, Status.BOOKED, Status.REFUSED, Status.NOT_REACHED, "перезвонить в пн"):
        assert not is_bot_status(status)
    lead = make_lead("AAAA2222", status=Status.NEW)
    assert keep_admin_status(lead, Status.UNCONFIRMED) == lead
    assert keep_admin_status(lead, Status.BOOKED).status == Status.BOOKED


@pytest.mark.parametrize("admin", [Status.IN_WORK, Status.BOOKED, Status.NOT_REACHED, Status.REFUSED])
def test_completing_an_unconfirmed_row_keeps_the_administrators_status(sink: LeadSink, admin: str) -> None:
    sink.append([make_lead("AAAA2222", status=Status.UNCONFIRMED), make_lead("BBBB3333")])
    assert sink.update_status("AAAA2222", admin)
    sink.upsert(make_lead("AAAA2222", window="после 14:00", status=Status.NEW))
    first, second = sink.read_all()
    assert first.status == admin
    if not isinstance(sink, StatusOnlySink):
        assert first.window == "после 14:00"  # the rest of the row is the bot's and is rewritten
    assert second == make_lead("BBBB3333")


def test_the_bots_own_status_is_replaced(sink: LeadSink) -> None:
    sink.append([make_lead("AAAA2222", status=Status.UNCONFIRMED)])
    sink.upsert(make_lead("AAAA2222", status=Status.NEW))
    assert [lead.status for lead in sink.read_all()] == [Status.NEW]
    sink.upsert(make_lead("AAAA2222", status=Status.UNCONFIRMED))  # a refresh may go back, too
    assert [lead.status for lead in sink.read_all()] == [Status.UNCONFIRMED]


def test_replace_keeps_the_administrators_status_too(sink: LeadSink) -> None:
    sink.append([make_lead("AAAA2222", status=Status.NEW)])
    sink.update_status("AAAA2222", Status.BOOKED)
    sink.replace(make_lead("AAAA2222", name="Мария", status=Status.NEW))
    assert [lead.status for lead in sink.read_all()] == [Status.BOOKED]


def test_upsert_of_an_unknown_id_appends(sink: LeadSink) -> None:
    sink.upsert(make_lead("AAAA2222", status=Status.UNCONFIRMED))
    assert [(lead.id, lead.status) for lead in sink.read_all()] == [("AAAA2222", Status.UNCONFIRMED)]
