"""`init-sheet`: create or upgrade "Обращения", "Врачи" and "Сводка" without touching data rows.

Idempotent: what is already right is left alone, so a second run makes no write call at all.
Formats (bold frozen header, widths, status dropdown, colours, phone as text) are applied once per
FORMAT_VERSION, remembered in the sheet's developer metadata; raising the version upgrades them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from bot.errors import SinkError
from bot.knowledge.models import Doctor
from bot.russian import count
from sheets.google import GoogleSheetsSink, quoted
from sheets.schema import (
    CHANNELS,
    DOCTORS_HEADER,
    DOCTORS_SHEET,
    LEAD_HEADER,
    LEADS_SHEET,
    SUMMARY_SHEET,
    Status,
)

__all__ = ["SetupReport", "ensure_sheets", "init_sheet", "summary_values"]

FORMAT_KEY = "clinic-bot-format"
FORMAT_VERSION = "1"
LEAD_WIDTHS = (90, 130, 110, 130, 260, 110, 110, 90, 140, 320, 130)
DOCTOR_WIDTHS = (260, 160, 420, 260)
STATUS_COLOURS: dict[str, tuple[float, float, float]] = {
    Status.NEW: (1.0, 0.95, 0.8),
    Status.UNCONFIRMED: (0.93, 0.93, 0.93),
    Status.IN_WORK: (0.85, 0.92, 1.0),
    Status.BOOKED: (0.85, 0.95, 0.85),
    Status.REFUSED: (0.98, 0.85, 0.85),
    Status.NOT_REACHED: (1.0, 0.9, 0.8),
}
_LEADS = quoted(LEADS_SHEET)


@dataclass
class SetupReport:
    """What init-sheet did, one line per change; empty when everything was already in place."""

    changes: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _column(index: int) -> str:
    return chr(ord("A") + index)


def summary_values() -> list[list[str]]:
    """The summary sheet: counts per status and channel (column A-B), requests per day (D-E)."""
    status_col = _column(LEAD_HEADER.index("Статус"))
    channel_col = _column(LEAD_HEADER.index("Канал"))
    date_col = _column(LEAD_HEADER.index("Дата и время"))
    rows: list[list[str]] = [
        ["Сводка по обращениям", "", "", "День", "Обращений"],
        ["Всего обращений", f"=COUNTA({_LEADS}!A2:A)"],
        [
            "Обработано, %",
            f'=IFERROR(1-(COUNTIF({_LEADS}!{status_col}2:{status_col},"{Status.NEW}")'
            f'+COUNTIF({_LEADS}!{status_col}2:{status_col},"{Status.UNCONFIRMED}"))/B2,0)',
        ],
        [],
        ["Статус", "Обращений"],
    ]
    for status in Status:
        row = len(rows) + 1
        rows.append([str(status), f"=COUNTIF({_LEADS}!{status_col}2:{status_col},A{row})"])
    rows += [[], ["Канал", "Обращений"]]
    for channel in CHANNELS:
        row = len(rows) + 1
        rows.append([channel, f"=COUNTIF({_LEADS}!{channel_col}2:{channel_col},A{row})"])
    per_day = (
        f"=IFERROR(QUERY(ARRAYFORMULA(LEFT({_LEADS}!{date_col}2:{date_col},10)),"
        "\"select Col1, count(Col1) where Col1 <> '' group by Col1 order by Col1 desc label count(Col1) ''\",0),\"\")"
    )
    rows[1] = [*rows[1], "", per_day]
    return rows


def _sheets_by_title(meta: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    return {str(s["properties"]["title"]): s for s in meta.get("sheets", [])}


def ensure_sheets(sink: GoogleSheetsSink, doctors: Sequence[Doctor], *, summary: bool = False) -> SetupReport:
    """Create what is missing: the sheets, their headers, the doctors list when "Врачи" is empty."""
    report = SetupReport()
    wanted = [LEADS_SHEET, DOCTORS_SHEET, *([SUMMARY_SHEET] if summary else [])]
    existing = _sheets_by_title(sink.metadata())
    requests = [
        {
            "addSheet": {
                "properties": {"title": title, "gridProperties": {"rowCount": 1000, "columnCount": 26}}
            }
        }
        for title in wanted
        if title not in existing
    ]
    if requests:
        sink.call(lambda http: http.batch_update(sink.sheet_id, {"requests": requests}))
        report.changes += [f"создан лист «{r['addSheet']['properties']['title']}»" for r in requests]
    _ensure_header(sink, LEADS_SHEET, LEAD_HEADER, report)
    doctors_rows = sink.values(quoted(DOCTORS_SHEET))
    _ensure_header(sink, DOCTORS_SHEET, DOCTORS_HEADER, report, doctors_rows[:1])
    if len([r for r in doctors_rows[1:] if any(c.strip() for c in r)]) == 0 and doctors:
        values = [[d.full_name, d.specialty, ", ".join(d.services), d.note] for d in doctors]
        _write(sink, f"{quoted(DOCTORS_SHEET)}!A2", values, "RAW")
        filled = count(len(values), "врач", "врача", "врачей")
        report.changes.append(f"в лист «{DOCTORS_SHEET}» вписаны врачи из doctors.csv: {filled}")
    return report


def _ensure_header(
    sink: GoogleSheetsSink,
    title: str,
    header: Sequence[str],
    report: SetupReport,
    first: list[list[str]] | None = None,
) -> None:
    row = (first if first is not None else sink.values(f"{quoted(title)}!1:1"))[:1]
    current = [c.strip() for c in row[0]] if row else []
    if tuple(current[: len(header)]) == tuple(header):
        return
    known = [c for c in current if c]
    if not known or tuple(current) == tuple(header[: len(current)]):
        _write(sink, f"{quoted(title)}!A1", [list(header)], "RAW")
        report.changes.append(f"записан заголовок листа «{title}»")
        return
    raise SinkError(
        f"в строке 1 листа «{title}» не тот заголовок ({', '.join(current[:4])}…), а должен начинаться с "
        f"{', '.join(header)}. Вставьте пустую строку 1 или исправьте названия столбцов, "
        "затем снова выполните make init-sheet",
        retryable=False,
    )


def _grid(rows: Sequence[Sequence[str]], width: int, height: int) -> list[list[str]]:
    padded = [[*row, *[""] * (width - len(row))][:width] for row in rows[:height]]
    return padded + [[""] * width for _ in range(height - len(padded))]


def _write(sink: GoogleSheetsSink, range_: str, values: list[list[str]], option: str) -> None:
    body = {"values": values}
    sink.call(lambda http: http.values_update(sink.sheet_id, range_, {"valueInputOption": option}, body))


def _colour(rgb: tuple[float, float, float]) -> dict[str, float]:
    return {"red": rgb[0], "green": rgb[1], "blue": rgb[2]}


def _format_requests(sheet_id: int, widths: Sequence[int], columns: int) -> list[dict[str, Any]]:
    """Frozen bold header and widths, common to every sheet the bot owns."""
    requests: list[dict[str, Any]] = [
        {
            "updateSheetProperties": {
                "properties": {"sheetId": sheet_id, "gridProperties": {"frozenRowCount": 1}},
                "fields": "gridProperties.frozenRowCount",
            }
        },
        {
            "repeatCell": {
                "range": {
                    "sheetId": sheet_id,
                    "startRowIndex": 0,
                    "endRowIndex": 1,
                    "startColumnIndex": 0,
                    "endColumnIndex": columns,
                },
                "cell": {
                    "userEnteredFormat": {
                        "textFormat": {"bold": True},
                        "backgroundColor": _colour((0.9, 0.93, 0.97)),
                    }
                },
                "fields": "userEnteredFormat(textFormat,backgroundColor)",
            }
        },
    ]
    for index, width in enumerate(widths):
        requests.append(
            {
                "updateDimensionProperties": {
                    "range": {
                        "sheetId": sheet_id,
                        "dimension": "COLUMNS",
                        "startIndex": index,
                        "endIndex": index + 1,
                    },
                    "properties": {"pixelSize": width},
                    "fields": "pixelSize",
                }
            }
        )
    return requests


def _lead_requests(sheet_id: int, meta: Mapping[str, Any]) -> list[dict[str, Any]]:
    status_index = LEAD_HEADER.index("Статус")
    phone_index = LEAD_HEADER.index("Телефон")
    status_col = _column(status_index)
    data = {
        "sheetId": sheet_id,
        "startRowIndex": 1,
        "startColumnIndex": 0,
        "endColumnIndex": len(LEAD_HEADER),
    }
    requests = _format_requests(sheet_id, LEAD_WIDTHS, len(LEAD_HEADER))
    requests.append(
        {
            "repeatCell": {
                "range": {
                    "sheetId": sheet_id,
                    "startRowIndex": 1,
                    "startColumnIndex": phone_index,
                    "endColumnIndex": phone_index + 1,
                },
                "cell": {"userEnteredFormat": {"numberFormat": {"type": "TEXT"}}},
                "fields": "userEnteredFormat.numberFormat",
            }
        }
    )
    requests.append(
        {
            "setDataValidation": {
                "range": {
                    "sheetId": sheet_id,
                    "startRowIndex": 1,
                    "startColumnIndex": status_index,
                    "endColumnIndex": status_index + 1,
                },
                "rule": {
                    "condition": {
                        "type": "ONE_OF_LIST",
                        "values": [{"userEnteredValue": str(s)} for s in Status],
                    },
                    "strict": True,
                    "showCustomUi": True,
                    "inputMessage": "Выберите статус обращения",
                },
            }
        }
    )
    ours = {_rule_formula(status) for status in STATUS_COLOURS}
    old = [i for i, rule in enumerate(meta.get("conditionalFormats", [])) if _formula_of(rule) in ours]
    requests += [{"deleteConditionalFormatRule": {"sheetId": sheet_id, "index": i}} for i in reversed(old)]
    for index, (status, rgb) in enumerate(STATUS_COLOURS.items()):
        requests.append(
            {
                "addConditionalFormatRule": {
                    "index": index,
                    "rule": {
                        "ranges": [data],
                        "booleanRule": {
                            "condition": {
                                "type": "CUSTOM_FORMULA",
                                "values": [{"userEnteredValue": _rule_formula(status, status_col)}],
                            },
                            "format": {"backgroundColor": _colour(rgb)},
                        },
                    },
                }
            }
        )
    return requests


def _rule_formula(status: str, column: str = _column(LEAD_HEADER.index("Статус"))) -> str:
    return f'=${column}2="{status}"'


def _formula_of(rule: Mapping[str, Any]) -> str:
    try:
        return str(rule["booleanRule"]["condition"]["values"][0]["userEnteredValue"])
    except (KeyError, IndexError, TypeError):
        return ""


def _marker(sheet: Mapping[str, Any]) -> dict[str, Any] | None:
    for meta in sheet.get("developerMetadata", []):
        if meta.get("metadataKey") == FORMAT_KEY:
            return dict(meta)
    return None


def _marker_request(sheet_id: int, current: Mapping[str, Any] | None) -> dict[str, Any]:
    if current is None:
        return {
            "createDeveloperMetadata": {
                "developerMetadata": {
                    "metadataKey": FORMAT_KEY,
                    "metadataValue": FORMAT_VERSION,
                    "location": {"sheetId": sheet_id},
                    "visibility": "DOCUMENT",
                }
            }
        }
    return {
        "updateDeveloperMetadata": {
            "dataFilters": [
                {
                    "developerMetadataLookup": {
                        "metadataId": current["metadataId"],
                        "metadataLocation": {"sheetId": sheet_id},
                    }
                }
            ],
            "developerMetadata": {"metadataKey": FORMAT_KEY, "metadataValue": FORMAT_VERSION},
            "fields": "metadataValue",
        }
    }


def init_sheet(sink: GoogleSheetsSink, doctors: Sequence[Doctor]) -> SetupReport:
    """Create or upgrade the three sheets; a second run finds nothing to change."""
    report = ensure_sheets(sink, doctors, summary=True)
    summary = summary_values()
    width = max(len(r) for r in summary)
    current = sink.values(f"{quoted(SUMMARY_SHEET)}!A1:{_column(width - 1)}{len(summary)}", render="FORMULA")
    if _grid(current, width, len(summary)) != _grid(summary, width, len(summary)):
        _write(sink, f"{quoted(SUMMARY_SHEET)}!A1", summary, "USER_ENTERED")
        report.changes.append(f"записаны формулы листа «{SUMMARY_SHEET}»")
    sheets = _sheets_by_title(sink.metadata())
    requests: list[dict[str, Any]] = []
    for title in (LEADS_SHEET, DOCTORS_SHEET, SUMMARY_SHEET):
        sheet = sheets[title]
        marker = _marker(sheet)
        if marker is not None and marker.get("metadataValue") == FORMAT_VERSION:
            continue
        sheet_id = int(sheet["properties"]["sheetId"])
        if title == LEADS_SHEET:
            requests += _lead_requests(sheet_id, sheet)
        elif title == DOCTORS_SHEET:
            requests += _format_requests(sheet_id, DOCTOR_WIDTHS, len(DOCTORS_HEADER))
        else:
            requests += _format_requests(sheet_id, (220, 110, 40, 110, 110), 5)
        requests.append(_marker_request(sheet_id, marker))
        report.changes.append(
            f"оформлен лист «{title}» (закреплённый жирный заголовок, ширина столбцов"
            + (", список статусов с цветами, телефон как текст)" if title == LEADS_SHEET else ")")
        )
    if requests:
        sink.call(lambda http: http.batch_update(sink.sheet_id, {"requests": requests}))
    if not report.changes:
        report.notes.append("всё уже было на месте, ничего не изменено")
    return report
