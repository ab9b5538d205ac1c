"""The local stand-in for "Обращения": `DATA_DIR/leads.csv`, UTF-8, RFC 4180, the contract's header."""

from __future__ import annotations

import csv
import fcntl
import io
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from bot.errors import SinkError
from sheets.port import LeadSink
from sheets.safety import neutralise, restore
from sheets.schema import LEAD_HEADER, Lead, keep_admin_status


class CsvLeadSink(LeadSink):
    """Appends leads to a CSV file; safe between processes (an exclusive lock around each change).

    A status an administrator typed into the file (or set through the bot) survives the bot's rewrites."""

    name = "csv"

    def __init__(self, path: Path) -> None:
        self.path = path

    @contextmanager
    def _locked(self) -> Iterator[None]:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            lock_path = self.path.with_name(self.path.name + ".lock")
            with open(lock_path, "a") as lock:
                fcntl.flock(lock, fcntl.LOCK_EX)
                try:
                    yield
                finally:
                    fcntl.flock(lock, fcntl.LOCK_UN)
        except OSError as exc:
            raise SinkError(
                f"не удаётся записать {self.path}: {exc.strerror or exc}", retryable=True
            ) from exc

    def _read_rows(self) -> list[list[str]]:
        if not self.path.exists():
            return []
        with open(self.path, encoding="utf-8", newline="") as fh:
            rows = list(csv.reader(fh))
        return rows[1:] if rows and tuple(rows[0][: len(LEAD_HEADER)]) == LEAD_HEADER else rows

    @staticmethod
    def _encode(lead: Lead) -> list[str]:
        return [neutralise(cell) for cell in lead.to_row()]

    @staticmethod
    def _decode(row: list[str]) -> Lead:
        return Lead.from_row([restore(cell) for cell in row])

    def append(self, leads: Sequence[Lead]) -> None:
        if not leads:
            return
        with self._locked():
            known = {row[0] for row in self._read_rows() if row}
            fresh = [lead for lead in leads if lead.id not in known]
            if not fresh:
                return
            new_file = not self.path.exists() or self.path.stat().st_size == 0
            buffer = io.StringIO()
            writer = csv.writer(buffer, lineterminator="\r\n")
            if new_file:
                writer.writerow(LEAD_HEADER)
            for lead in fresh:
                writer.writerow(self._encode(lead))
            with open(self.path, "a", encoding="utf-8", newline="") as fh:
                fh.write(buffer.getvalue())
                fh.flush()
                os.fsync(fh.fileno())

    def read_all(self) -> list[Lead]:
        try:
            return [self._decode(row) for row in self._read_rows() if row]
        except OSError as exc:
            raise SinkError(f"не удаётся прочитать {self.path}: {exc.strerror or exc}") from exc

    def _rewrite(self, leads: list[Lead]) -> None:
        tmp = self.path.with_name(self.path.name + ".tmp")
        with open(tmp, "w", encoding="utf-8", newline="") as fh:
            writer = csv.writer(fh, lineterminator="\r\n")
            writer.writerow(LEAD_HEADER)
            for lead in leads:
                writer.writerow(self._encode(lead))
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.path)

    def update_status(self, lead_id: str, status: str) -> bool:
        with self._locked():
            leads = [self._decode(row) for row in self._read_rows() if row]
            if not any(lead.id == lead_id for lead in leads):
                return False
            self._rewrite([lead.with_status(status) if lead.id == lead_id else lead for lead in leads])
            return True

    def replace(self, lead: Lead) -> None:
        with self._locked():
            self._rewrite_row(lead)

    def upsert(self, lead: Lead) -> None:
        with self._locked():
            if self._rewrite_row(lead):
                return
        self.append([lead])

    def _rewrite_row(self, lead: Lead) -> bool:
        """Rewrite the lead's row (under the lock), keeping an administrators' status; False if absent."""
        leads = [self._decode(row) for row in self._read_rows() if row]
        if not any(x.id == lead.id for x in leads):
            return False
        self._rewrite([keep_admin_status(lead, x.status) if x.id == lead.id else x for x in leads])
        return True
