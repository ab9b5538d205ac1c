"""The report as one PNG with a few panels (matplotlib, Agg: no display needed, no pyplot global state)."""

from __future__ import annotations

import io
import textwrap

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from bot.report.stats import Summary, status_order
from bot.report.text import format_duration, percent

__all__ = ["day_ticks", "draw_report"]

_BLUE = "#3572b0"
_GREY = "#9aa5b1"
_STATUS_COLOURS = {
    "новая": "#f0ad4e",
    "не подтверждена": "#c9c9c9",
    "в работе": "#5bc0de",
    "записан": "#5cb85c",
    "отказ": "#d9534f",
    "не дозвонились": "#8e6c8a",
}


def _short(label: str, width: int = 28) -> str:
    """ "Смирнова Елена Викторовна (ЛОР)" -> "Смирнова Е. В. (ЛОР)", then cut to width."""
    name, bracket, rest = label.partition(" (")
    parts = name.split()
    if bracket and len(parts) == 3:
        label = f"{parts[0]} {parts[1][0]}. {parts[2][0]}. ({rest}"
    return label if len(label) <= width else label[: width - 1] + "…"


def _barh(ax, items: list[tuple[str, int]], title: str, colours: list[str] | None = None) -> None:  # type: ignore[no-untyped-def]
    labels = [_short(k) for k, _ in items][::-1]
    values = [v for _, v in items][::-1]
    # Positions, not labels, place the bars: two equal labels (cut to width) stay two bars.
    bars = ax.barh(range(len(values)), values, color=(colours[::-1] if colours else _BLUE))
    size = 8 if len(items) <= 12 else max(5, 8 - (len(items) - 12) // 4)
    ax.set_yticks(range(len(values)), labels)
    ax.bar_label(bars, padding=3, fontsize=size)
    ax.set_title(title, fontsize=11, loc="left")
    ax.tick_params(axis="y", labelsize=size)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # requests are counted, never 0.5
    ax.spines[["top", "right"]].set_visible(False)
    ax.margins(x=0.15)


def day_ticks(days: int, most: int = 15) -> list[int]:
    """Which days get a date under their bar: at most about `most`, counted back so the last day has one."""
    step = max(1, days // most)
    return list(range(days - 1, -1, -step))[::-1]


def draw_report(summary: Summary, dpi: int = 110) -> bytes:
    """Six panels: per day, by hour, by status, by channel, by doctor/service, the key shares."""
    s = summary
    fig = Figure(figsize=(14, 9), dpi=dpi, layout="constrained")
    FigureCanvasAgg(fig)
    fig.suptitle(
        f"Обращения за {s.days} дн. ({s.start:%d.%m} — {s.end:%d.%m.%Y}): всего {s.total}",
        fontsize=14,
        fontweight="bold",
    )
    if not s.total:
        # Empty panels with axes from -0.05 to 0.05 say nothing; the reason, in words, says it.
        text = "\n".join(textwrap.fill(n, 90) for n in s.notes) or "Заявок за этот период нет."
        fig.text(0.5, 0.5, text, ha="center", va="center", fontsize=14, wrap=True)
        return _png(fig)
    grid = fig.add_gridspec(2, 3)

    ax = fig.add_subplot(grid[0, 0:2])
    days = list(s.per_day)
    labels = [f"{d:%d.%m}" for d in days]
    colours = [_GREY if d.weekday() >= 5 else _BLUE for d in days]
    bars = ax.bar(range(len(days)), list(s.per_day.values()), color=colours)
    ticks = day_ticks(len(days))
    ax.set_xticks(ticks, [labels[i] for i in ticks], rotation=45 if len(days) > 10 else 0, fontsize=8)
    ax.set_xlim(-0.6, len(days) - 0.4)
    if len(days) <= 31:
        ax.bar_label(bars, padding=2, fontsize=7)
    ax.set_title("По дням (серым — выходные)", fontsize=11, loc="left")
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylabel("обращений")
    ax.spines[["top", "right"]].set_visible(False)

    ax = fig.add_subplot(grid[0, 2])
    peak = s.peak_hour
    ax.bar(range(24), s.by_hour, color=["#d9534f" if h == peak else _BLUE for h in range(24)])
    ax.set_xticks(range(0, 24, 3), [f"{h:02d}" for h in range(0, 24, 3)], fontsize=8)
    ax.set_title("По часам суток (красным — пик)", fontsize=11, loc="left")
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("час (время клиники)")
    ax.spines[["top", "right"]].set_visible(False)

    statuses = status_order(s.by_status)
    _barh(
        fig.add_subplot(grid[1, 0]),
        statuses,
        "По статусам",
        [_STATUS_COLOURS.get(k, _GREY) for k, _ in statuses],
    )

    ax = fig.add_subplot(grid[1, 1])
    groups = [(g.name, g.total) for g in s.by_specialty]
    _barh(ax, groups, "По специальностям и услугам (все)")

    ax = fig.add_subplot(grid[1, 2])
    ax.axis("off")
    channels = ", ".join(f"{k} {v}" for k, v in s.by_channel.items()) or "—"
    facts = [
        f"Обработано: {percent(s.processed, s.total)}",
        f"Записаны: {percent(s.booked, s.total)}",
        f"Не дозвонились: {percent(s.not_reached, s.total)}",
        f"Вне рабочего времени: {percent(s.outside_hours, s.total)}",
        f"До первой реакции (медиана): {format_duration(s.median_first_response)}",
        "",
        *textwrap.wrap(f"Каналы: {channels}", 38),
    ]
    ax.set_title("Главное", fontsize=11, loc="left")
    ax.text(0.0, 1.0, "\n".join(facts), va="top", ha="left", fontsize=10, transform=ax.transAxes)

    return _png(fig)


def _png(fig: Figure) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return buffer.getvalue()
