"""The Google Sheet as the lead sink: "Обращения" written through gspread + google-auth, "Врачи" read back.

Errors of gspread, google-auth and requests are translated here into `SinkError`:

    SinkError(retryable=True)   429 quota, 5xx, network, token endpoint unreachable
    SinkError(retryable=False)  403 not shared, 404 wrong id, 400/401, missing or malformed credentials
"""

from __future__ import annotations

import csv
import io
import json
import logging
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import gspread
import requests
from google.auth.exceptions import GoogleAuthError, RefreshError, TransportError
from google.oauth2.service_account import Credentials
from gspread.exceptions import APIError
from gspread.http_client import HTTPClient

from bot.config import Settings
from bot.errors import SinkError
from bot.knowledge.models import Doctor, Problem
from sheets.port import LeadSink
from sheets.schema import DOCTORS_HEADER, DOCTORS_SHEET, LEAD_HEADER, LEADS_SHEET, Lead, is_bot_status

__all__ = ["GoogleSheetsSink", "build_google_sink", "quoted", "rewriting_client"]

log = logging.getLogger(__name__)

GOOGLE_BASE = "https://sheets.googleapis.com"
SCOPES = ("https://www.googleapis.com/auth/spreadsheets",)
_LAST_COLUMN = chr(ord("A") + len(LEAD_HEADER) - 1)  # "K"
_STATUS_COLUMN = chr(ord("A") + LEAD_HEADER.index("Статус"))  # "K"
_BEFORE_STATUS = chr(ord(_STATUS_COLUMN) - 1)  # "J"
T = TypeVar("T")


def quoted(title: str) -> str:
    """A sheet title as A1 notation wants it: `'Обращения'`."""
    return "'" + title.replace("'", "''") + "'"


def rewriting_client(base_url: str) -> type[HTTPClient]:
    """A gspread HTTPClient class that sends every Sheets call to `base_url` instead of Google's."""
    base = base_url.rstrip("/")

    class RewritingHTTPClient(HTTPClient):
        def request(self, method: str, endpoint: str, *args: Any, **kwargs: Any) -> requests.Response:
            if base != GOOGLE_BASE and endpoint.startswith(GOOGLE_BASE):
                endpoint = base + endpoint[len(GOOGLE_BASE) :]
            return super().request(method, endpoint, *args, **kwargs)

    return RewritingHTTPClient


class _ProxiedCredentials(Credentials):  # type: ignore[misc]
    """Service-account credentials for a custom API base (a proxy or a test server): no side lookup of the
    "regional access boundary" at Google's IAM endpoint, which would bypass the proxy."""

    def _is_regional_access_boundary_lookup_required(self) -> bool:
        return False


class GoogleSheetsSink(LeadSink):
    """Leads as rows of "Обращения" (values written RAW: patient text never becomes a formula or number).

    The bot rewrites a row (`upsert`, `replace`) in columns A..K while its status is the bot's own, and in
    A..J only once an administrator has set one, so that status is never overwritten."""

    name = "sheets"

    def __init__(
        self,
        sheet_id: str,
        credentials_file: Path | None,
        *,
        api_url: str = GOOGLE_BASE,
        writes_per_minute: int = 60,
        cache_dir: Path | None = None,
        knowledge_dir: Path | None = None,
        timeout: tuple[float, float] = (5.0, 30.0),
    ) -> None:
        self.sheet_id = sheet_id
        self.credentials_file = credentials_file
        self.api_url = api_url
        self.writes_per_minute = writes_per_minute
        self.cache_file = cache_dir / "doctors_cache.json" if cache_dir else None
        self.knowledge_dir = knowledge_dir
        self.timeout = timeout
        self.doctor_problems: list[Problem] = []
        self._last_doctors: list[Doctor] | None = None
        self._client: gspread.Client | None = None
        self._email = ""
        self._lock = threading.Lock()

    # --- connection and errors -------------------------------------------------------------------

    @property
    def service_account_email(self) -> str:
        """The e-mail the sheet must be shared with (read from the credentials file)."""
        if not self._email:
            try:
                self._connect()
            except SinkError:
                return ""
        return self._email

    def _connect(self) -> gspread.Client:
        if self._client is not None:
            return self._client
        path = self.credentials_file
        if path is None:
            raise SinkError(
                "GOOGLE_APPLICATION_CREDENTIALS не задан: впишите в него путь к JSON-ключу сервисного аккаунта",
                retryable=False,
            )
        try:
            info = json.loads(Path(path).read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise SinkError(
                f"файла ключа {path} нет; скачайте JSON-ключ сервисного аккаунта "
                "и впишите путь к нему в GOOGLE_APPLICATION_CREDENTIALS",
                retryable=False,
            ) from None
        except (OSError, ValueError) as exc:
            raise SinkError(
                f"файл ключа {path} не читается как JSON ({exc}); скачайте его заново "
                "в Google Cloud Console (IAM → Service accounts → Keys → Add key → JSON)",
                retryable=False,
            ) from exc
        try:
            kind = Credentials if self.api_url.rstrip("/") == GOOGLE_BASE else _ProxiedCredentials
            credentials = kind.from_service_account_info(info, scopes=list(SCOPES))
        except (ValueError, KeyError, TypeError) as exc:
            raise SinkError(
                f"файл {path} — не ключ сервисного аккаунта ({exc}); в нём должны быть "
                '"type": "service_account", client_email, private_key и token_uri',
                retryable=False,
            ) from exc
        self._email = str(info.get("client_email", ""))
        client = gspread.Client(credentials, http_client=rewriting_client(self.api_url))
        client.set_timeout(self.timeout)
        self._client = client
        return client

    def _translate(self, exc: Exception) -> SinkError:
        if isinstance(exc, APIError):
            code = exc.response.status_code
            detail = _api_message(exc)
            if code == 403:
                who = self._email or "адрес client_email сервисного аккаунта"
                return SinkError(
                    f"Google не дал доступа к таблице {self.sheet_id} (403 {detail}); откройте таблицу, "
                    f"нажмите «Настройки доступа» и добавьте {who} как редактора",
                    retryable=False,
                )
            if code == 404:
                return SinkError(
                    f"таблица {self.sheet_id} не найдена (404); проверьте GOOGLE_SHEET_ID — длинный код "
                    "из адреса таблицы между /d/ и /edit",
                    retryable=False,
                )
            if code == 429:
                return SinkError(
                    f"превышена квота Google Sheets (429 {detail}); повторю позже", retryable=True
                )
            if code >= 500:
                return SinkError(f"Google Sheets недоступен ({code} {detail}); повторю позже", retryable=True)
            if code == 401:
                return SinkError(
                    f"Google не принял ключ (401 {detail}); проверьте файл ключа {self.credentials_file}",
                    retryable=False,
                )
            return SinkError(f"Google Sheets отклонил запрос ({code} {detail})", retryable=False)
        if isinstance(exc, RefreshError):
            retryable = bool(getattr(exc, "retryable", False))
            return SinkError(
                f"Google не принял ключ сервисного аккаунта из {self.credentials_file} ({exc}); "
                "если ключ удалён, создайте новый",
                retryable=retryable,
            )
        if isinstance(exc, TransportError | requests.RequestException):
            return SinkError(f"нет связи с Google Sheets ({type(exc).__name__}: {exc}); повторю позже")
        return SinkError(f"запрос к Google Sheets не удался: {exc}", retryable=False)

    def call(self, action: Callable[[HTTPClient], T]) -> T:
        """Run one API call with the client, translating every library error into SinkError."""
        client = self._connect()
        try:
            return action(client.http_client)
        except (APIError, GoogleAuthError, requests.RequestException) as exc:
            raise self._translate(exc) from exc

    @contextmanager
    def _serial(self) -> Iterator[None]:
        """One change at a time from this process (read IDs, then write)."""
        with self._lock:
            yield

    def values(self, range_: str, render: str = "FORMATTED_VALUE") -> list[list[str]]:
        result = self.call(
            lambda http: http.values_get(self.sheet_id, range_, params={"valueRenderOption": render})
        )
        return [[str(cell) for cell in row] for row in result.get("values", [])]

    def metadata(self) -> Mapping[str, Any]:
        return self.call(lambda http: http.fetch_sheet_metadata(self.sheet_id))

    # --- leads -----------------------------------------------------------------------------------

    def _ids(self, prepare: bool = False) -> dict[str, int]:
        """Lead ID -> 1-based row number, read from column A of "Обращения".

        With `prepare`, a missing sheet is created and a missing header written first (before an append)."""
        try:
            rows = self.values(f"{quoted(LEADS_SHEET)}!A:A")
        except SinkError as exc:
            if not (
                prepare and isinstance(exc.__cause__, APIError) and exc.__cause__.response.status_code == 400
            ):
                raise
            request = {"addSheet": {"properties": {"title": LEADS_SHEET}}}
            self.call(lambda http: http.batch_update(self.sheet_id, {"requests": [request]}))
            log.warning("создан недостающий лист %s; для оформления запустите init-sheet", LEADS_SHEET)
            rows = []
        if prepare and not rows:
            self._write_row(f"{quoted(LEADS_SHEET)}!A1", [list(LEAD_HEADER)])
            rows = [[LEAD_HEADER[0]]]
        ids: dict[str, int] = {}
        for n, row in enumerate(rows, start=1):
            cell = row[0].strip() if row else ""
            if cell and cell != LEAD_HEADER[0]:
                ids.setdefault(cell, n)
        return ids

    def append(self, leads: Sequence[Lead]) -> None:
        """Append the leads whose ID is not in the sheet yet, in one call (values RAW)."""
        if not leads:
            return
        with self._serial():
            known = self._ids(prepare=True)
            fresh: list[Lead] = []
            for lead in leads:
                if lead.id not in known:
                    fresh.append(lead)
                    known[lead.id] = 0
            if len(fresh) < len(leads):
                log.info(
                    "в таблице уже есть заявки (%d из %d); повторно не добавлены",
                    len(leads) - len(fresh),
                    len(leads),
                )
            if not fresh:
                return
            body = {"values": [lead.to_row() for lead in fresh]}
            params: dict[str, Any] = {"valueInputOption": "RAW", "insertDataOption": "INSERT_ROWS"}
            self.call(
                lambda http: http.values_append(self.sheet_id, f"{quoted(LEADS_SHEET)}!A1", params, body)
            )

    def read_all(self) -> list[Lead]:
        rows = self.values(f"{quoted(LEADS_SHEET)}!A:{_LAST_COLUMN}")
        start = 1 if rows and tuple(rows[0][: len(LEAD_HEADER)]) == LEAD_HEADER else 0
        return [Lead.from_row(row) for row in rows[start:] if row and row[0].strip()]

    def _write_row(self, range_: str, values: list[list[str]]) -> None:
        body = {"values": values}
        self.call(lambda http: http.values_update(self.sheet_id, range_, {"valueInputOption": "RAW"}, body))

    def update_status(self, lead_id: str, status: str) -> bool:
        with self._serial():
            row = self._ids().get(lead_id)
            if row is None:
                return False
            self._write_row(f"{quoted(LEADS_SHEET)}!{_STATUS_COLUMN}{row}", [[status]])
            return True

    def _rows_and_statuses(self) -> dict[str, tuple[int, str]]:
        """Lead ID -> (1-based row number, the status in the sheet now), in one read of columns A and K."""
        ranges = [f"{quoted(LEADS_SHEET)}!A:A", f"{quoted(LEADS_SHEET)}!{_STATUS_COLUMN}:{_STATUS_COLUMN}"]
        result = self.call(lambda http: http.values_batch_get(self.sheet_id, ranges))
        ids, statuses = ([[str(c) for c in r] for r in vr.get("values", [])] for vr in result["valueRanges"])
        found: dict[str, tuple[int, str]] = {}
        for n, row in enumerate(ids, start=1):
            cell = row[0].strip() if row else ""
            if cell and cell != LEAD_HEADER[0] and cell not in found:
                status = statuses[n - 1] if n <= len(statuses) else []
                found[cell] = (n, status[0] if status else "")
        return found

    def _rewrite_row(self, lead: Lead) -> bool:
        """Rewrite the lead's row (serialised); a status the administrators set is left as it is."""
        found = self._rows_and_statuses().get(lead.id)
        if found is None:
            return False
        row, status = found
        if is_bot_status(status):
            self._write_row(f"{quoted(LEADS_SHEET)}!A{row}:{_LAST_COLUMN}{row}", [lead.to_row()])
        else:  # columns A..J only: the status cell is not touched at all
            self._write_row(f"{quoted(LEADS_SHEET)}!A{row}:{_BEFORE_STATUS}{row}", [lead.to_row()[:-1]])
        return True

    def replace(self, lead: Lead) -> None:
        with self._serial():
            self._rewrite_row(lead)

    def upsert(self, lead: Lead) -> None:
        with self._serial():
            if self._rewrite_row(lead):
                return
        self.append([lead])

    # --- doctors ---------------------------------------------------------------------------------

    def read_doctors(self) -> list[Doctor] | None:
        """Doctors from "Врачи"; on an outage the last good copy (DATA_DIR), or None (use doctors.csv).

        A missing or empty "Врачи" (and a missing "Обращения") is created first, seeded from doctors.csv."""
        try:
            rows = self._doctor_rows()
        except SinkError as exc:
            cached = self._cached_doctors()
            log.warning(
                "не читается лист %s (%s); использую %s",
                DOCTORS_SHEET,
                exc,
                "последнюю удачную копию" if cached is not None else "doctors.csv",
            )
            return cached
        doctors, problems = parse_doctor_rows(rows)
        self.doctor_problems = problems
        for problem in problems:
            log.warning("%s", problem)
        if not doctors:
            return self._cached_doctors()
        self._last_doctors = doctors
        self._store_cache(doctors)
        return doctors

    def _doctor_rows(self) -> list[list[str]]:
        try:
            rows = self.values(quoted(DOCTORS_SHEET))
        except SinkError as exc:
            if not (isinstance(exc.__cause__, APIError) and exc.__cause__.response.status_code == 400):
                raise
            rows = []
        if len(rows) > 1 or self.knowledge_dir is None:
            return rows
        from bot.knowledge.loader import load_knowledge
        from sheets.setup import ensure_sheets

        local = load_knowledge(self.knowledge_dir).doctors
        report = ensure_sheets(self, local)
        for change in report.changes:
            log.warning("таблица: %s", change)
        return self.values(quoted(DOCTORS_SHEET))

    def _cached_doctors(self) -> list[Doctor] | None:
        if self._last_doctors is not None:
            return list(self._last_doctors)
        if self.cache_file is None or not self.cache_file.exists():
            return None
        try:
            data = json.loads(self.cache_file.read_text(encoding="utf-8"))
            return [Doctor(d["full_name"], d["specialty"], tuple(d["services"]), d["note"]) for d in data]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            log.warning("не читается сохранённая копия списка врачей %s: %s", self.cache_file, exc)
            return None

    def _store_cache(self, doctors: list[Doctor]) -> None:
        if self.cache_file is None:
            return
        data = [
            {"full_name": d.full_name, "specialty": d.specialty, "services": list(d.services), "note": d.note}
            for d in doctors
        ]
        try:
            self.cache_file.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.cache_file.with_suffix(".tmp")
            tmp.write_text(json.dumps(data, ensure_ascii=False, indent=1), encoding="utf-8")
            tmp.replace(self.cache_file)
        except OSError as exc:
            log.warning("не удалось сохранить копию списка врачей в %s: %s", self.cache_file, exc)

    def check(self) -> str:
        """Open the spreadsheet once; returns its title, or raises SinkError with the fix."""
        meta = self.metadata()
        titles = [str(s["properties"]["title"]) for s in meta.get("sheets", [])]
        missing = [t for t in (LEADS_SHEET, DOCTORS_SHEET) if t not in titles]
        title = str(meta.get("properties", {}).get("title", self.sheet_id))
        if missing:
            return f"{title} (no sheet {', '.join(missing)} yet: run `python -m bot init-sheet`)"
        return title


def parse_doctor_rows(rows: list[list[str]]) -> tuple[list[Doctor], list[Problem]]:
    """The rows of "Врачи" read like doctors.csv, each problem with its row number."""
    from bot.knowledge.loader import _parse_doctors, _Report

    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    for row in rows:
        writer.writerow([" ".join(cell.split()) for cell in row])
    report = _Report()
    if not rows:
        report.warn(DOCTORS_SHEET, 1, "лист пуст", f"в строке 1 должно быть: {', '.join(DOCTORS_HEADER)}")
        return [], report.problems
    return _parse_doctors(buffer.getvalue(), f"лист {DOCTORS_SHEET}", report), report.problems


def _api_message(exc: APIError) -> str:
    try:
        return str(exc.response.json()["error"]["message"])
    except (ValueError, KeyError, TypeError):
        return exc.response.reason or ""


def build_google_sink(settings: Settings) -> GoogleSheetsSink:
    """The sink bootstrap uses when GOOGLE_SHEET_ID is set; credentials are read on first use."""
    if not settings.google_sheet_id:
        raise SinkError("GOOGLE_SHEET_ID не задан", retryable=False)
    return GoogleSheetsSink(
        settings.google_sheet_id,
        settings.google_application_credentials,
        api_url=settings.google_sheets_api_url,
        writes_per_minute=settings.sheets_writes_per_minute,
        cache_dir=settings.data_dir,
        knowledge_dir=settings.knowledge_dir,
    )
