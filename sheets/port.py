"""The lead sink port: where confirmed requests end up (the Google Sheet, or the local CSV stand-in)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence

from sheets.schema import Lead


class LeadSink(ABC):
    """Contract: `append` writes each lead as one row and never writes an ID that is already there
    (it is safe to call again with leads that may have been written before a crash); `read_all`
    returns every lead in the sink; `update_status` sets the status of the lead with that ID and
    returns False when no such lead exists. Errors are raised as `SinkError` (with `retryable`)."""

    name: str = "sink"

    @abstractmethod
    def append(self, leads: Sequence[Lead]) -> None: ...

    @abstractmethod
    def read_all(self) -> list[Lead]: ...

    @abstractmethod
    def update_status(self, lead_id: str, status: str) -> bool: ...

    def upsert(self, lead: Lead) -> None:
        """Write the lead, or replace the row with its ID (used when an unconfirmed lead is completed)."""
        existing = {lead_.id for lead_ in self.read_all()}
        if lead.id in existing:
            self.replace(lead)
        else:
            self.append([lead])

    def replace(self, lead: Lead) -> None:
        """Replace every field of an existing row; default: status only."""
        self.update_status(lead.id, lead.status)


class MemorySink(LeadSink):
    """An in-memory sink for tests."""

    name = "memory"

    def __init__(self) -> None:
        self.leads: list[Lead] = []

    def append(self, leads: Sequence[Lead]) -> None:
        known = {lead.id for lead in self.leads}
        for lead in leads:
            if lead.id not in known:
                self.leads.append(lead)
                known.add(lead.id)

    def read_all(self) -> list[Lead]:
        return list(self.leads)

    def update_status(self, lead_id: str, status: str) -> bool:
        for i, lead in enumerate(self.leads):
            if lead.id == lead_id:
                self.leads[i] = lead.with_status(status)
                return True
        return False

    def replace(self, lead: Lead) -> None:
        self.leads = [lead if x.id == lead.id else x for x in self.leads]
