"""Google Sheets: the key file, access to the spreadsheet, both worksheets and their headers."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from bot.checks.model import Line, fail, ok, skip, warn
from bot.config import Settings
from bot.errors import SinkError
from sheets.schema import DOCTORS_HEADER, DOCTORS_SHEET, LEAD_HEADER, LEADS_SHEET, SUMMARY_SHEET

__all__ = ["check_sheets", "header_problems"]

INIT_FIX = "run `python -m bot init-sheet` (it adds what is missing and keeps existing rows)"


def _column(index: int) -> str:
    return chr(ord("A") + index) if index < 26 else f"#{index + 1}"


def header_problems(found: Sequence[str], expected: Sequence[str]) -> list[str]:
    """What differs in row 1: each contract column must be in its place (more columns may follow)."""
    cells = [str(c).strip() for c in found]
    problems = []
    for i, name in enumerate(expected):
        have = cells[i] if i < len(cells) else ""
        if have != name:
            shown = f"«{have}»" if have else "empty"
            problems.append(f"{_column(i)}1 is {shown}, must be «{name}»")
    return problems


async def check_sheets(settings: Settings) -> list[Line]:
    if not settings.sheets_enabled:
        return [
            skip(
                "Google Sheets",
                f"not configured (GOOGLE_SHEET_ID is empty): leads go to {settings.leads_csv}",
            )
        ]
    return await asyncio.to_thread(_check_sync, settings)


def _check_sync(settings: Settings) -> list[Line]:
    from sheets.google import build_google_sink, quoted

    sink = build_google_sink(settings)
    try:
        sink._connect()
    except SinkError as exc:
        detail, _, fix = str(exc).partition(": ")
        return [fail("Google credentials", detail, fix or "check GOOGLE_APPLICATION_CREDENTIALS")]
    email = sink.service_account_email
    lines = [ok("Google credentials", f"service account {email} (share the sheet with it)")]
    share_fix = f"open the sheet in Google Sheets, press «Share» and add {email} as an Editor"
    try:
        meta = sink.metadata()
    except SinkError as exc:
        text = str(exc)
        if "403" in text:
            return [
                *lines,
                fail(
                    "Google Sheet access",
                    f"the sheet {settings.google_sheet_id} is not shared with {email}",
                    share_fix,
                ),
            ]
        if "404" in text:
            return [
                *lines,
                fail(
                    "Google Sheet access",
                    f"no spreadsheet with id {settings.google_sheet_id}",
                    "set GOOGLE_SHEET_ID to the long id in the sheet's address, between /d/ and /edit",
                ),
            ]
        return [
            *lines,
            fail("Google Sheet access", text, "check the network and GOOGLE_SHEETS_API_URL, then try again"),
        ]
    title = str(meta.get("properties", {}).get("title", settings.google_sheet_id))
    titles = [str(s.get("properties", {}).get("title", "")) for s in meta.get("sheets", [])]
    lines.append(ok("Google Sheet access", f"«{title}» opens ({len(titles)} worksheet(s))"))
    for name, header in ((LEADS_SHEET, LEAD_HEADER), (DOCTORS_SHEET, DOCTORS_HEADER)):
        item = f"Worksheet «{name}»"
        if name not in titles:
            lines.append(fail(item, "missing", INIT_FIX))
            continue
        try:
            rows = sink.values(f"{quoted(name)}!1:1")
        except SinkError as exc:
            lines.append(fail(item, f"cannot read row 1 ({exc})", "try again in a minute"))
            continue
        problems = header_problems(rows[0] if rows else [], header)
        if problems:
            lines.append(
                fail(item, "header: " + "; ".join(problems), INIT_FIX + ", or fix the cells in row 1")
            )
        else:
            lines.append(ok(item, f"header of {len(header)} columns is right"))
            if name == DOCTORS_SHEET:
                lines += _doctor_rows(sink, quoted(name))
    if SUMMARY_SHEET not in titles:
        lines.append(warn(f"Worksheet «{SUMMARY_SHEET}»", "missing: no live summary for the owner", INIT_FIX))
    return lines


def _doctor_rows(sink: Any, range_: str) -> list[Line]:
    """The rows of «Врачи» read as the bot reads them: each problem with its row number."""
    from sheets.google import parse_doctor_rows

    try:
        doctors, problems = parse_doctor_rows(sink.values(range_))
    except SinkError as exc:
        return [
            fail(f"Worksheet «{DOCTORS_SHEET}»", f"cannot read the rows ({exc})", "try again in a minute")
        ]
    lines = [
        warn(f"Worksheet «{DOCTORS_SHEET}»", f"row {p.line}: {p.message}" if p.line else p.message)
        for p in problems
    ]
    if doctors:
        lines.append(ok(f"Worksheet «{DOCTORS_SHEET}»", f"{len(doctors)} doctors"))
    return lines
