"""The lead sink port: where confirmed requests end up (the Google Sheet, or the local CSV stand-in)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence

from sheets.schema import Lead, is_bot_status, keep_admin_status


class LeadSink(ABC):
    """Contract: `append` writes each lead as one row and never writes an ID that is already there
    (it is safe to call again with leads that may have been written before a crash); `read_all`
    returns every lead in the sink; `update_status` sets the status of the lead with that ID and
    returns False when no such lead exists (it is how administrators' statuses arrive, so it sets
    any status). `upsert` and `replace` are the bot rewriting its own row: they never overwrite a
    status the administrators set (anything but `новая`/`не подтверждена`, see `is_bot_status`).
    Errors are raised as `SinkError` (with `retryable`)."""

    name: str = "sink"

    @abstractmethod
    def append(self, leads: Sequence[Lead]) -> None: ...

    @abstractmethod
    def read_all(self) -> list[Lead]: ...

    @abstractmethod
    def update_status(self, lead_id: str, status: str) -> bool: ...

    def upsert(self, lead: Lead) -> None:
        """Write the lead, or rewrite the row with its ID (an unconfirmed lead completed or refreshed, or
        its personal data removed), keeping an administrators' status there."""
        existing = {lead_.id for lead_ in self.read_all()}
        if lead.id in existing:
            self.replace(lead)
        else:
            self.append([lead])

    def replace(self, lead: Lead) -> None:
        """Rewrite every field of an existing row but an administrators' status; default: the status
        only, and only while it is still the bot's."""
        current = next((x for x in self.read_all() if x.id == lead.id), None)
        if current is not None and is_bot_status(current.status):
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
        self.leads = [keep_admin_status(lead, x.status) if x.id == lead.id else x for x in self.leads]
