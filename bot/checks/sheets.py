"""Google Sheets: the key file, access to the spreadsheet, both worksheets and their headers."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from bot.checks.model import Line, fail, ok, skip, warn
from bot.config import Settings
from bot.errors import SinkError
from bot.russian import count
from sheets.schema import DOCTORS_HEADER, DOCTORS_SHEET, LEAD_HEADER, LEADS_SHEET, SUMMARY_SHEET

__all__ = ["check_sheets", "header_problems"]

INIT_FIX = "выполните `make init-sheet` (добавит недостающее, имеющиеся строки не тронет)"


def _column(index: int) -> str:
    return chr(ord("A") + index) if index < 26 else f"#{index + 1}"


def header_problems(found: Sequence[str], expected: Sequence[str]) -> list[str]:
    """What differs in row 1: each contract column must be in its place (more columns may follow)."""
    cells = [str(c).strip() for c in found]
    problems = []
    for i, name in enumerate(expected):
        have = cells[i] if i < len(cells) else ""
        if have != name:
            shown = f"«{have}»" if have else "пусто"
            problems.append(f"в {_column(i)}1 {shown}, а должно быть «{name}»")
    return problems


async def check_sheets(settings: Settings) -> list[Line]:
    if not settings.sheets_enabled:
        return [
            skip(
                "Google Sheets",
                f"не подключена (GOOGLE_SHEET_ID пуст): заявки пишутся в файл {settings.leads_csv}",
            )
        ]
    return await asyncio.to_thread(_check_sync, settings)


def _check_sync(settings: Settings) -> list[Line]:
    from sheets.google import build_google_sink, quoted

    sink = build_google_sink(settings)
    try:
        sink._connect()
    except SinkError as exc:
        return [fail("Ключ Google", str(exc), "проверьте GOOGLE_APPLICATION_CREDENTIALS в файле .env")]
    email = sink.service_account_email
    lines = [ok("Ключ Google", f"сервисный аккаунт {email} (таблица должна быть открыта ему как редактору)")]
    share_fix = (
        f"откройте таблицу в Google Таблицах, нажмите «Настройки доступа» и добавьте {email} как редактора"
    )
    try:
        meta = sink.metadata()
    except SinkError as exc:
        text = str(exc)
        if "403" in text:
            return [
                *lines,
                fail(
                    "Доступ к таблице",
                    f"таблица {settings.google_sheet_id} не открыта для {email}",
                    share_fix,
                ),
            ]
        if "404" in text:
            return [
                *lines,
                fail(
                    "Доступ к таблице",
                    f"нет таблицы с id {settings.google_sheet_id}",
                    "впишите в GOOGLE_SHEET_ID длинный код из адреса таблицы — между /d/ и /edit",
                ),
            ]
        return [
            *lines,
            fail(
                "Доступ к таблице",
                text,
                "проверьте подключение к интернету и GOOGLE_SHEETS_API_URL, затем повторите проверку",
            ),
        ]
    title = str(meta.get("properties", {}).get("title", settings.google_sheet_id))
    titles = [str(s.get("properties", {}).get("title", "")) for s in meta.get("sheets", [])]
    sheets = count(len(titles), "лист", "листа", "листов")
    lines.append(ok("Доступ к таблице", f"«{title}» открывается ({sheets})"))
    for name, header in ((LEADS_SHEET, LEAD_HEADER), (DOCTORS_SHEET, DOCTORS_HEADER)):
        item = f"Лист «{name}»"
        if name not in titles:
            lines.append(fail(item, "листа нет", INIT_FIX))
            continue
        try:
            rows = sink.values(f"{quoted(name)}!1:1")
        except SinkError as exc:
            lines.append(fail(item, f"не читается строка 1 ({exc})", "повторите проверку через минуту"))
            continue
        problems = header_problems(rows[0] if rows else [], header)
        if problems:
            lines.append(
                fail(
                    item,
                    "заголовок: " + "; ".join(problems),
                    INIT_FIX + " или исправьте ячейки строки 1 вручную",
                )
            )
        else:
            lines.append(
                ok(item, f"заголовок из {count(len(header), 'столбца', 'столбцов', 'столбцов')} в порядке")
            )
            if name == DOCTORS_SHEET:
                lines += _doctor_rows(sink, quoted(name))
    if SUMMARY_SHEET not in titles:
        lines.append(warn(f"Лист «{SUMMARY_SHEET}»", "листа нет: у владельца нет сводки в таблице", INIT_FIX))
    return lines


def _doctor_rows(sink: Any, range_: str) -> list[Line]:
    """The rows of «Врачи» read as the bot reads them: each problem with its row number."""
    from sheets.google import parse_doctor_rows

    try:
        doctors, problems = parse_doctor_rows(sink.values(range_))
    except SinkError as exc:
        return [
            fail(f"Лист «{DOCTORS_SHEET}»", f"не читаются строки ({exc})", "повторите проверку через минуту")
        ]
    lines = [
        warn(f"Лист «{DOCTORS_SHEET}»", f"строка {p.line}: {p.message}" if p.line else p.message, p.fix)
        for p in problems
    ]
    if doctors:
        lines.append(ok(f"Лист «{DOCTORS_SHEET}»", count(len(doctors), "врач", "врача", "врачей")))
    return lines
