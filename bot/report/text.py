"""The report as a plain-text table for the terminal and the admin chat (Russian, monospace-friendly)."""

from __future__ import annotations

from datetime import timedelta

from bot.report.stats import NO_DOCTOR, ServiceGroup, Summary, status_order

__all__ = ["format_duration", "format_report", "percent"]

_WEEKDAYS = ("пн", "вт", "ср", "чт", "пт", "сб", "вс")


def percent(part: int | None, total: int) -> str:
    if part is None:
        return "нет данных"
    if not total:
        return "—"
    return f"{100 * part / total:.0f} %"


def format_duration(value: timedelta | None) -> str:
    if value is None:
        return "нет данных"
    minutes = round(value.total_seconds() / 60)
    if minutes < 60:
        return f"{minutes} мин"
    hours, rest = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} ч {rest:02d} мин"
    return f"{hours // 24} дн {hours % 24} ч"


def _table(rows: list[tuple[str, int]], total: int, width: int = 34) -> list[str]:
    lines = []
    for label, count in rows:
        shown = label if len(label) <= width else label[: width - 1] + "…"
        lines.append(f"  {shown:<{width}} {count:>5}  {percent(count, total):>5}")
    return lines


def _groups(groups: list[ServiceGroup], total: int) -> list[str]:
    """Each specialty with its total, and under it each of its doctors (and the requests with no doctor)."""
    rows: list[str] = []
    for group in groups:
        rows += _table([(group.name, group.total)], total, width=48)
        if group.doctors:
            parts = [*group.doctors, *([(NO_DOCTOR, group.no_doctor)] if group.no_doctor else [])]
            rows += _table([(f"  {name}", n) for name, n in parts], total, width=48)
    return rows


def format_report(summary: Summary) -> str:
    """The whole report as text; the same figures as the picture."""
    s = summary
    lines = [
        f"Отчёт по обращениям за {s.days} дн.: {s.start:%d.%m.%Y} — {s.end:%d.%m.%Y %H:%M}",
        f"Всего обращений: {s.total}",
    ]
    if s.source:
        lines.append(f"Источник: {s.source}")
    for note in s.notes:
        lines.append(note)
    if s.skipped:
        lines.append(f"Строк с непонятной датой (не учтены): {s.skipped}")
    if not s.total:
        return "\n".join(lines) + "\n"  # every table would be zeros; the notes above say why
    lines += [
        "",
        "Итоги",
        f"  Обработано администраторами:   {s.processed:>5}  {percent(s.processed, s.total):>5}",
        f"  Записаны на приём:             {s.booked:>5}  {percent(s.booked, s.total):>5}",
        f"  Не дозвонились:                {s.not_reached:>5}  {percent(s.not_reached, s.total):>5}",
        "  Вне рабочего времени клиники:  "
        + (
            f"{s.outside_hours:>5}  {percent(s.outside_hours, s.total):>5}"
            if s.outside_hours is not None
            else "нет данных (часы работы не заданы в clinic.toml)"
        ),
        f"  Медиана до первой смены статуса администратором: {format_duration(s.median_first_response)}"
        + (f" (известно для {s.responses_known})" if s.responses_known else ""),
        "",
        "По дням",
    ]
    lines += _table([(f"{d:%d.%m} {_WEEKDAYS[d.weekday()]}", n) for d, n in s.per_day.items()], s.total)
    lines += ["", "По неделям (с понедельника)"]
    lines += _table([(f"неделя с {d:%d.%m.%Y}", n) for d, n in s.per_week.items()], s.total)
    lines += ["", "По часам суток (время клиники)"]
    lines += _table([(f"{h:02d}:00–{h:02d}:59", n) for h, n in enumerate(s.by_hour) if n], s.total)
    if s.peak_hour is not None:
        lines.append(f"  Пиковый час: {s.peak_hour:02d}:00–{s.peak_hour:02d}:59")
    lines += ["", "По статусам"]
    lines += _table(status_order(s.by_status), s.total)
    lines += ["", "По каналам"]
    lines += _table(list(s.by_channel.items()), s.total)
    lines += ["", "По врачам и услугам (по специальностям, под каждой — её врачи)"]
    lines += _groups(s.by_specialty, s.total)
    return "\n".join(lines) + "\n"
