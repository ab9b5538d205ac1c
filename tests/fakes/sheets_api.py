"""A fake Google Sheets API v4 and OAuth token endpoint on 127.0.0.1, driven by real gspread + google-auth.

It speaks the real wire protocol: a signed JWT (RS256) is exchanged at `/token` for a bearer token;
`/v4/spreadsheets/...` serves spreadsheets.get/batchUpdate and values get/batchGet/update/append/
batchUpdate/clear. Values entered `USER_ENTERED` are parsed like the Sheets UI (`=` a formula, `+7912…`
a number, a leading `'` forces text, a TEXT-formatted column keeps text); `RAW` values are stored as given.
Switchable failures: `fail_next(n, status)`, `outage`, `deny`; a write quota per window with an injectable
time source; `calls` counts every call by kind.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import re
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from aiohttp import web
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from tests.fakes import SHUTDOWN_TIMEOUT

Cell = tuple[str, Any]  # (kind, value): kind in text | number | bool | formula
WRITE_KINDS = {"append", "update", "values_batch_update", "clear", "batch_update"}
_NUMBER = re.compile(r"^[+-]?\d+(\.\d+)?$")
_CELL = re.compile(r"^([A-Za-z]*)(\d*)$")


def service_account_info(
    token_uri: str, email: str = "clinic-bot@clinic-test.iam.gserviceaccount.com"
) -> dict[str, str]:
    """A fresh service-account key (RSA 2048) whose token_uri points at the fake server."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    return {
        "type": "service_account",
        "project_id": "clinic-test",
        "private_key_id": "fake-key-1",
        "private_key": pem,
        "client_email": email,
        "client_id": "1234567890",
        "token_uri": token_uri,
    }


def column_index(letters: str) -> int:
    n = 0
    for ch in letters.upper():
        n = n * 26 + (ord(ch) - 64)
    return n - 1


@dataclass
class FakeSheet:
    sheet_id: int
    title: str
    index: int
    rows: int = 1000
    columns: int = 26
    frozen_rows: int = 0
    grid: list[list[Cell | None]] = field(default_factory=list)
    conditional_formats: list[dict[str, Any]] = field(default_factory=list)
    developer_metadata: list[dict[str, Any]] = field(default_factory=list)
    validations: list[dict[str, Any]] = field(default_factory=list)
    formats: list[dict[str, Any]] = field(default_factory=list)
    widths: dict[int, int] = field(default_factory=dict)
    text_columns: set[int] = field(default_factory=set)

    def properties(self) -> dict[str, Any]:
        grid: dict[str, Any] = {"rowCount": self.rows, "columnCount": self.columns}
        if self.frozen_rows:
            grid["frozenRowCount"] = self.frozen_rows
        return {
            "sheetId": self.sheet_id,
            "title": self.title,
            "index": self.index,
            "sheetType": "GRID",
            "gridProperties": grid,
        }

    def set(self, row: int, col: int, cell: Cell | None) -> None:
        while len(self.grid) <= row:
            self.grid.append([])
        line = self.grid[row]
        while len(line) <= col:
            line.append(None)
        line[col] = cell
        self.rows = max(self.rows, row + 1)

    def last_row(self) -> int:
        """Index after the last row with any value."""
        for i in range(len(self.grid) - 1, -1, -1):
            if any(c is not None and c[1] != "" for c in self.grid[i]):
                return i + 1
        return 0


@dataclass
class FakeSpreadsheet:
    spreadsheet_id: str
    title: str
    sheets: list[FakeSheet]

    def sheet(self, title: str) -> FakeSheet | None:
        return next((s for s in self.sheets if s.title == title), None)


class ApiError(Exception):
    def __init__(self, status: int, message: str, reason: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.reason = reason or {
            400: "INVALID_ARGUMENT",
            401: "UNAUTHENTICATED",
            403: "PERMISSION_DENIED",
            404: "NOT_FOUND",
            429: "RESOURCE_EXHAUSTED",
            503: "UNAVAILABLE",
        }.get(status, "INTERNAL")


class FakeSheetsApi:
    """The fake server; use as a context manager or call start()/stop()."""

    def __init__(self, *, time_source: Callable[[], float] = time.monotonic) -> None:
        self.time_source = time_source
        self.spreadsheets: dict[str, FakeSpreadsheet] = {}
        self.keys: dict[str, Any] = {}  # client_email -> public key
        self.tokens: set[str] = set()
        self.calls: Counter[str] = Counter()
        self.log: list[tuple[str, str]] = []
        self.failures: list[int] = []
        self.lost_responses: list[int] = []  # statuses returned after the write was applied
        self.outage = False
        self.deny = False
        self.write_quota: int | None = None  # writes allowed per window
        self.quota_window = 60.0
        self.latency = 0.0
        self._writes: list[float] = []
        self._lock = threading.RLock()
        self._ids = itertools.count(1000)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._thread: threading.Thread | None = None
        self.base_url = ""

    # --- set-up ----------------------------------------------------------------------------------

    def add_spreadsheet(
        self, spreadsheet_id: str, title: str = "Клиника", sheets: tuple[str, ...] = ("Лист1",)
    ) -> FakeSpreadsheet:
        with self._lock:
            book = FakeSpreadsheet(
                spreadsheet_id, title, [FakeSheet(next(self._ids), t, i) for i, t in enumerate(sheets)]
            )
            self.spreadsheets[spreadsheet_id] = book
            return book

    def service_account(
        self, email: str = "clinic-bot@clinic-test.iam.gserviceaccount.com"
    ) -> dict[str, str]:
        info = service_account_info(f"{self.base_url}/token", email)
        key = serialization.load_pem_private_key(info["private_key"].encode(), password=None)
        self.keys[email] = key.public_key()  # type: ignore[union-attr]
        return info

    def fail_next(self, count: int, status: int = 503) -> None:
        with self._lock:
            self.failures.extend([status] * count)

    def lose_next_response(self, count: int = 1, status: int = 503) -> None:
        """The next `count` write calls are applied, then answered with an error (a lost response)."""
        with self._lock:
            self.lost_responses.extend([status] * count)

    def writes(self) -> int:
        return sum(n for kind, n in self.calls.items() if kind in WRITE_KINDS)

    def values(self, spreadsheet_id: str, title: str, render: str = "FORMATTED_VALUE") -> list[list[Any]]:
        """What `values.get` on the whole sheet returns (for assertions)."""
        with self._lock:
            sheet = self.spreadsheets[spreadsheet_id].sheet(title)
            assert sheet is not None, title
            return _render(sheet, 0, 0, 10**6, 10**6, render)

    # --- server ----------------------------------------------------------------------------------

    def start(self) -> FakeSheetsApi:
        ready = threading.Event()

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            app = web.Application()
            app.router.add_post("/token", self._token)
            app.router.add_route("*", "/v4/spreadsheets/{tail:.+}", self._sheets)
            self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=SHUTDOWN_TIMEOUT)
            loop.run_until_complete(self._runner.setup())
            site = web.TCPSite(self._runner, "127.0.0.1", 0)
            loop.run_until_complete(site.start())
            port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
            self.base_url = f"http://127.0.0.1:{port}"
            ready.set()
            loop.run_forever()
            loop.run_until_complete(self._runner.cleanup())
            loop.close()

        self._thread = threading.Thread(target=run, name="fake-sheets-api", daemon=True)
        self._thread.start()
        ready.wait(10)
        return self

    def stop(self) -> None:
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is not None:
            self._thread.join(10)

    def __enter__(self) -> FakeSheetsApi:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- OAuth -----------------------------------------------------------------------------------

    async def _token(self, request: web.Request) -> web.Response:
        form = await request.post()
        self.calls["token"] += 1
        if form.get("grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer":
            return web.json_response({"error": "unsupported_grant_type"}, status=400)
        try:
            header_b64, claims_b64, signature_b64 = str(form["assertion"]).split(".")
            claims = json.loads(_b64decode(claims_b64))
            key = self.keys[claims["iss"]]
            key.verify(
                _b64decode(signature_b64),
                f"{header_b64}.{claims_b64}".encode(),
                padding.PKCS1v15(),
                hashes.SHA256(),
            )
            if claims.get("exp", 0) < time.time():
                raise ValueError("expired")
        except Exception:  # any flaw in the assertion is an invalid grant, as Google says
            return web.json_response(
                {"error": "invalid_grant", "error_description": "Invalid JWT Signature."}, status=400
            )
        token = f"ya29.fake-{next(self._ids)}"
        self.tokens.add(token)
        return web.json_response({"access_token": token, "expires_in": 3599, "token_type": "Bearer"})

    # --- Sheets API ------------------------------------------------------------------------------

    async def _sheets(self, request: web.Request) -> web.Response:
        if self.latency:
            await asyncio.sleep(self.latency)
        raw = request.rel_url.raw_path.removeprefix("/v4/spreadsheets/")
        body = await request.json() if request.can_read_body else {}
        try:
            kind, result = self._dispatch(request, raw, body)
            if kind in WRITE_KINDS and self.lost_responses:
                raise ApiError(self.lost_responses.pop(0), "backend error after the write was applied")
        except ApiError as exc:
            payload = {"error": {"code": exc.status, "message": exc.message, "status": exc.reason}}
            return web.json_response(payload, status=exc.status)
        return web.json_response(result)

    def _dispatch(self, request: web.Request, raw: str, body: Any) -> tuple[str, Any]:
        method = request.method
        if "/values" in raw:
            book_id, _, rest = raw.partition("/values")
            book_id = unquote(book_id)
            if rest.startswith(":"):
                kind = {"batchGet": "batch_get", "batchUpdate": "values_batch_update"}.get(rest[1:], rest[1:])
                range_ = ""
            else:
                target = unquote(rest.removeprefix("/"))
                kind = "get" if method == "GET" else "update"
                for suffix, name in ((":append", "append"), (":clear", "clear")):
                    if target.endswith(suffix):
                        target, kind = target[: -len(suffix)], name
                range_ = target
        else:
            book_id, _, action = unquote(raw).partition(":")
            kind = "batch_update" if action == "batchUpdate" else "spreadsheet_get"
            range_ = ""
        with self._lock:
            self.calls[kind] += 1
            self.log.append((kind, range_))
            self._gate(request, kind)
            book = self.spreadsheets.get(book_id)
            if book is None:
                raise ApiError(404, "Requested entity was not found.")
            query = request.rel_url.query
            if kind == "spreadsheet_get":
                return kind, self._metadata(book)
            if kind == "batch_update":
                return kind, self._batch_update(book, body)
            if kind == "get":
                sheet, bounds = self._range(book, range_)
                values = _render(sheet, *bounds, query.get("valueRenderOption", "FORMATTED_VALUE"))
                return kind, _values_response(range_, values)
            if kind == "batch_get":
                out = []
                for r in query.getall("ranges", []):
                    sheet, bounds = self._range(book, r)
                    out.append(
                        _values_response(
                            r, _render(sheet, *bounds, query.get("valueRenderOption", "FORMATTED_VALUE"))
                        )
                    )
                return kind, {"spreadsheetId": book_id, "valueRanges": out}
            if kind == "update":
                sheet, bounds = self._range(book, range_)
                self._write(
                    sheet, bounds[0], bounds[1], body.get("values", []), query.get("valueInputOption", "")
                )
                return kind, {
                    "spreadsheetId": book_id,
                    "updatedRange": range_,
                    "updatedRows": len(body.get("values", [])),
                }
            if kind == "values_batch_update":
                for item in body.get("data", []):
                    sheet, bounds = self._range(book, item["range"])
                    self._write(
                        sheet, bounds[0], bounds[1], item.get("values", []), body.get("valueInputOption", "")
                    )
                return kind, {
                    "spreadsheetId": book_id,
                    "totalUpdatedRows": sum(len(d.get("values", [])) for d in body.get("data", [])),
                }
            if kind == "append":
                sheet, bounds = self._range(book, range_)
                start = sheet.last_row()
                values = body.get("values", [])
                self._write(sheet, start, bounds[1], values, query.get("valueInputOption", ""))
                updated = f"{_quote(sheet.title)}!A{start + 1}:{chr(65 + max(len(v) for v in values) - 1) if values else 'A'}{start + len(values)}"
                return kind, {
                    "spreadsheetId": book_id,
                    "tableRange": range_,
                    "updates": {"updatedRange": updated, "updatedRows": len(values)},
                }
            if kind == "clear":
                sheet, (r0, c0, r1, c1) = self._range(book, range_)
                for ri in range(r0, min(r1, len(sheet.grid))):
                    for ci in range(c0, min(c1, len(sheet.grid[ri]))):
                        sheet.grid[ri][ci] = None
                return kind, {"spreadsheetId": book_id, "clearedRange": range_}
            raise ApiError(400, f"unknown method {kind}")

    def _gate(self, request: web.Request, kind: str) -> None:
        auth = request.headers.get("Authorization", "")
        if auth.removeprefix("Bearer ") not in self.tokens:
            raise ApiError(401, "Request had invalid authentication credentials.")
        if self.failures:
            status = self.failures.pop(0)
            raise ApiError(status, f"injected failure {status}")
        if self.outage:
            raise ApiError(503, "The service is currently unavailable.")
        if self.deny:
            raise ApiError(403, "The caller does not have permission")
        if kind in WRITE_KINDS and self.write_quota is not None:
            now = self.time_source()
            self._writes = [t for t in self._writes if now - t < self.quota_window]
            if len(self._writes) >= self.write_quota:
                self.calls["quota_refused"] += 1
                raise ApiError(
                    429,
                    "Quota exceeded for quota metric 'Write requests' and limit 'Write requests per minute per user'",
                )
            self._writes.append(now)

    def _metadata(self, book: FakeSpreadsheet) -> dict[str, Any]:
        sheets = []
        for s in book.sheets:
            entry: dict[str, Any] = {"properties": s.properties()}
            if s.conditional_formats:
                entry["conditionalFormats"] = s.conditional_formats
            if s.developer_metadata:
                entry["developerMetadata"] = s.developer_metadata
            sheets.append(entry)
        return {
            "spreadsheetId": book.spreadsheet_id,
            "properties": {"title": book.title, "locale": "ru_RU", "timeZone": "Europe/Samara"},
            "sheets": sheets,
        }

    def _range(self, book: FakeSpreadsheet, a1: str) -> tuple[FakeSheet, tuple[int, int, int, int]]:
        title, _, cells = a1.rpartition("!") if "!" in a1 else (a1, "", "")
        if title.startswith("'") and title.endswith("'"):
            title = title[1:-1].replace("''", "'")
        sheet = book.sheet(title)
        if sheet is None:
            raise ApiError(400, f"Unable to parse range: {a1}")
        if not cells:
            return sheet, (0, 0, 10**6, 10**6)
        first, _, last = cells.partition(":")
        m1, m2 = _CELL.match(first), _CELL.match(last or first)
        if m1 is None or m2 is None:
            raise ApiError(400, f"Unable to parse range: {a1}")
        c0 = column_index(m1[1]) if m1[1] else 0
        r0 = int(m1[2]) - 1 if m1[2] else 0
        c1 = column_index(m2[1]) + 1 if m2[1] else 10**6
        r1 = int(m2[2]) if m2[2] else 10**6
        return sheet, (r0, c0, r1, c1)

    def _write(self, sheet: FakeSheet, row: int, col: int, values: list[list[Any]], option: str) -> None:
        if option not in ("RAW", "USER_ENTERED"):
            raise ApiError(400, "Invalid valueInputOption: must be RAW or USER_ENTERED")
        for r, line in enumerate(values):
            for c, value in enumerate(line):
                if value is None:
                    continue
                sheet.set(row + r, col + c, _parse(value, option, (col + c) in sheet.text_columns))

    def _batch_update(self, book: FakeSpreadsheet, body: dict[str, Any]) -> dict[str, Any]:
        replies: list[dict[str, Any]] = []
        for req in body.get("requests", []):
            ((name, spec),) = req.items()
            self.log.append(("request", name))
            if name == "addSheet":
                props = spec.get("properties", {})
                if book.sheet(props["title"]) is not None:
                    raise ApiError(
                        400,
                        f'Invalid requests[0].addSheet: A sheet with the name "{props["title"]}" already exists.',
                    )
                grid = props.get("gridProperties", {})
                sheet = FakeSheet(
                    next(self._ids),
                    props["title"],
                    len(book.sheets),
                    grid.get("rowCount", 1000),
                    grid.get("columnCount", 26),
                    grid.get("frozenRowCount", 0),
                )
                book.sheets.append(sheet)
                replies.append({"addSheet": {"properties": sheet.properties()}})
                continue
            sheet = self._sheet_by_id(book, spec)
            if name == "updateSheetProperties":
                grid = spec["properties"].get("gridProperties", {})
                if "frozenRowCount" in grid:
                    sheet.frozen_rows = grid["frozenRowCount"]
                if "columnCount" in grid:
                    sheet.columns = grid["columnCount"]
            elif name == "repeatCell":
                sheet.formats.append(spec)
                number_format = spec.get("cell", {}).get("userEnteredFormat", {}).get("numberFormat", {})
                if number_format.get("type") == "TEXT":
                    rng = spec["range"]
                    sheet.text_columns.update(
                        range(rng.get("startColumnIndex", 0), rng.get("endColumnIndex", sheet.columns))
                    )
            elif name == "updateDimensionProperties":
                rng = spec["range"]
                for c in range(rng["startIndex"], rng["endIndex"]):
                    sheet.widths[c] = spec["properties"]["pixelSize"]
            elif name == "setDataValidation":
                sheet.validations.append(spec)
            elif name == "addConditionalFormatRule":
                sheet.conditional_formats.insert(
                    spec.get("index", len(sheet.conditional_formats)), spec["rule"]
                )
            elif name == "deleteConditionalFormatRule":
                sheet.conditional_formats.pop(spec["index"])
            elif name == "createDeveloperMetadata":
                meta = dict(spec["developerMetadata"])
                meta["metadataId"] = next(self._ids)
                meta["location"] = {"locationType": "SHEET", "sheetId": sheet.sheet_id}
                sheet.developer_metadata.append(meta)
                replies.append({"createDeveloperMetadata": {"developerMetadata": meta}})
                continue
            elif name == "updateDeveloperMetadata":
                for meta in sheet.developer_metadata:
                    if meta["metadataKey"] == spec["developerMetadata"]["metadataKey"]:
                        meta["metadataValue"] = spec["developerMetadata"]["metadataValue"]
            else:
                raise ApiError(400, f'Invalid JSON payload received. Unknown name "{name}"')
            replies.append({})
        return {"spreadsheetId": book.spreadsheet_id, "replies": replies}

    def _sheet_by_id(self, book: FakeSpreadsheet, spec: dict[str, Any]) -> FakeSheet:
        sheet_id = (
            spec.get("range", {}).get("sheetId")
            if "range" in spec
            else spec.get("properties", {}).get("sheetId", spec.get("sheetId"))
        )
        if sheet_id is None and "rule" in spec:
            sheet_id = spec["rule"]["ranges"][0]["sheetId"]
        if sheet_id is None and "developerMetadata" in spec:
            sheet_id = spec["developerMetadata"].get("location", {}).get("sheetId")
        if sheet_id is None and "dataFilters" in spec:
            sheet_id = spec["dataFilters"][0]["developerMetadataLookup"]["metadataLocation"]["sheetId"]
        for sheet in book.sheets:
            if sheet.sheet_id == sheet_id:
                return sheet
        raise ApiError(400, f"No grid with id: {sheet_id}")


def _parse(value: Any, option: str, text_column: bool) -> Cell:
    if isinstance(value, bool):
        return ("bool", value)
    if isinstance(value, int | float):
        return ("number", value)
    text = str(value)
    if option == "RAW" or text_column:
        return ("text", text)
    if text.startswith("'"):
        return ("text", text[1:])
    if text.startswith("="):
        return ("formula", text)
    if _NUMBER.match(text):
        return ("number", float(text))
    if text.startswith(("+", "-")):
        return ("formula", "=" + text)  # the UI reads "-x" or "+x" as a formula
    if text.upper() in ("TRUE", "FALSE"):
        return ("bool", text.upper() == "TRUE")
    return ("text", text)


def _show(cell: Cell | None, render: str) -> Any:
    if cell is None:
        return ""
    kind, value = cell
    if kind == "formula":
        return value if render == "FORMULA" else "#ERROR!"
    if kind == "number":
        if render == "UNFORMATTED_VALUE":
            return value
        return str(int(value)) if float(value).is_integer() else str(value)
    if kind == "bool":
        return value if render == "UNFORMATTED_VALUE" else ("TRUE" if value else "FALSE")
    return value


def _render(sheet: FakeSheet, r0: int, c0: int, r1: int, c1: int, render: str) -> list[list[Any]]:
    out: list[list[Any]] = []
    for r in range(r0, min(r1, len(sheet.grid))):
        line = [_show(c, render) for c in sheet.grid[r][c0:c1]]
        while line and line[-1] == "":
            line.pop()
        out.append(line)
    while out and not out[-1]:
        out.pop()
    return out


def _values_response(range_: str, values: list[list[Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {"range": range_, "majorDimension": "ROWS"}
    if values:
        result["values"] = values
    return result


def _quote(title: str) -> str:
    return "'" + title.replace("'", "''") + "'"


def _b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def write_credentials(api: FakeSheetsApi, directory: Any) -> Any:
    """A service-account JSON key file for `api`, written into `directory`; returns its path."""
    from pathlib import Path

    path = Path(directory) / "service-account.json"
    path.write_text(json.dumps(api.service_account()), encoding="utf-8")
    return path
