"""The owner's report from a running (or freshly built) application: the lead sink plus the local record.

`render_report(app, days)` is what `python -m bot report`, the admin command `/report` and the weekly send
call. It reads the sheet over the network when one is configured, so async callers run it in a thread
(`await asyncio.to_thread(render_report, app, 7)`).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from bot.errors import BotError
from bot.report.chart import draw_report
from bot.report.stats import Summary, summarise
from bot.report.text import format_report
from sheets.schema import Lead

if TYPE_CHECKING:
    from bot.bootstrap import App

__all__ = ["build_summary", "read_leads", "render_report", "status_changes"]

log = logging.getLogger(__name__)


def read_leads(app: App) -> tuple[list[Lead], str, list[str]]:
    """Leads from the sheet when configured (the administrators' statuses live there), else the CSV.

    Returns (leads, source, notes); a sheet that cannot be read falls back to the local CSV with a note.
    """
    notes: list[str] = []
    sheet = app.sinks.get("sheets")
    if sheet is not None:
        try:
            return sheet.read_all(), "Google-таблица «Обращения»", notes
        except BotError as exc:
            log.warning("отчёт: таблица не читается (%s); использую локальный CSV", exc)
            notes.append(f"Внимание: таблица недоступна ({exc}); отчёт по локальной копии.")
    csv_sink = app.sinks.get("csv")
    if csv_sink is None:
        return app.store.leads(), "локальная база", notes
    if not app.settings.leads_csv.exists():
        return [], "", notes  # nothing to name: the file is written with the first confirmed lead
    return csv_sink.read_all(), f"файл {app.settings.leads_csv}", notes


def _where_leads_appear(app: App) -> str:
    if "sheets" in app.sinks:
        return "в Google-таблице, на листе «Обращения»"
    return f"в файле {app.settings.leads_csv}"


def status_changes(app: App) -> list[tuple[str, str, str, str]]:
    """Rows (lead_id, status, by, at) of the local record, oldest first."""
    rows = app.db.query("SELECT lead_id, status, by, at FROM status_changes ORDER BY at")
    return [(str(a), str(b), str(c), str(d)) for a, b, c, d in rows]


def build_summary(app: App, days: int = 7) -> Summary:
    leads, source, notes = read_leads(app)
    summary = summarise(
        leads,
        now=app.clock.now(),
        days=days,
        tz=app.settings.tz,
        hours=app.knowledge().clinic.hours,
        changes=status_changes(app),
        source=source,
        doctors=app.knowledge().doctors,
    )
    summary.notes.extend(notes)
    if not leads:
        summary.notes.append(
            f"Заявок пока нет. Они появятся {_where_leads_appear(app)}, как только первый пациент "
            "подтвердит заявку."
        )
    elif not summary.total:
        summary.notes.append(f"За эти {summary.days} дн. заявок не было.")
    return summary


def render_report(app: App, days: int = 7) -> tuple[str, bytes]:
    """The report of the last `days` days: the text table and the PNG picture."""
    summary = build_summary(app, days)
    return format_report(summary), draw_report(summary)
