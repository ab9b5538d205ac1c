"""The owner's report: figures on 2,000 generated leads checked against a count by hand, text and PNG."""

from __future__ import annotations

import io
import random
from collections import Counter
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from PIL import Image

from bot.bootstrap import App
from bot.dialogue.messages import Address
from bot.dialogue.state import ConversationState
from bot.knowledge.loader import load_knowledge
from bot.knowledge.models import Doctor, WorkingHours
from bot.report.build import render_report
from bot.report.chart import day_ticks, draw_report
from bot.report.stats import ServiceGroup, group_services, summarise
from bot.report.text import format_duration, format_report
from sheets.schema import CHANNELS, Lead, Status

ROOT = Path(__file__).resolve().parents[2]
TZ = ZoneInfo("Europe/Samara")
NOW = datetime(2026, 11, 23, 6, 0, tzinfo=UTC)  # Monday 10:00 in Samara
SERVICES = [
    "Смирнова Елена Викторовна (ЛОР)",
    "Кузнецов Андрей Павлович (ЛОР)",
    "Иванов Сергей Николаевич (Терапевт)",
    "УЗИ",
    "Гинеколог",
    "Анализы",
]


def generate(count: int, seed: int = 8) -> list[Lead]:
    """Leads spread over 45 days before NOW, a few after it, and a few rows with a broken date."""
    rng = random.Random(seed)
    local_now = NOW.astimezone(TZ).replace(tzinfo=None)
    leads = []
    for i in range(count):
        if i % 250 == 0:
            created = "вчера вечером"
        elif i % 199 == 0:
            created = (local_now + timedelta(minutes=rng.randint(1, 600))).strftime("%Y-%m-%d %H:%M")
        else:
            moment = local_now - timedelta(minutes=rng.randint(0, 45 * 24 * 60))
            created = moment.strftime("%Y-%m-%d %H:%M")
        leads.append(
            Lead(
                id=f"L{i:05d}",
                created=created,
                name="Анна",
                phone="+79123456789",
                service=rng.choice(SERVICES),
                window="любое",
                visit="первичное",
                channel=rng.choice(CHANNELS),
                contact="@anna",
                comment="",
                status=rng.choice(list(Status)).value,
            )
        )
    return leads


def clinic_open(moment: datetime) -> bool:
    """The sample clinic.toml by hand: пн-пт 08-20, сб 09-15, вс closed."""
    if moment.weekday() < 5:
        return time(8) <= moment.time() < time(20)
    if moment.weekday() == 5:
        return time(9) <= moment.time() < time(15)
    return False


@pytest.fixture(scope="module")
def hours() -> WorkingHours:
    return load_knowledge(ROOT / "knowledge").clinic.hours


def test_figures_on_2000_leads_match_a_count_by_hand(hours: WorkingHours) -> None:
    leads = generate(2000)
    summary = summarise(leads, now=NOW, days=30, tz=TZ, hours=hours)

    first_day = date(2026, 10, 25)
    local_now = datetime(2026, 11, 23, 10, 0)
    chosen = []
    broken = 0
    for lead in leads:
        try:
            moment = datetime.strptime(lead.created, "%Y-%m-%d %H:%M")
        except ValueError:
            broken += 1
            continue
        if moment.date() >= first_day and moment <= local_now:
            chosen.append((lead, moment))

    assert summary.skipped == broken == 8
    assert summary.total == len(chosen) and 1200 < summary.total < 1400
    assert summary.start == first_day and summary.days == 30
    assert sum(summary.per_day.values()) == summary.total
    for day in (first_day, date(2026, 11, 1), date(2026, 11, 23)):
        assert summary.per_day[day] == sum(1 for _, m in chosen if m.date() == day)
    # Weeks start on Monday: 25.10 is a Sunday, so the first "week" holds one day.
    assert list(summary.per_week)[:2] == [date(2026, 10, 19), date(2026, 10, 26)]
    assert summary.per_week[date(2026, 10, 19)] == summary.per_day[first_day]
    assert summary.per_week[date(2026, 11, 16)] == sum(
        1 for _, m in chosen if date(2026, 11, 16) <= m.date() <= date(2026, 11, 22)
    )
    for hour in range(24):
        assert summary.by_hour[hour] == sum(1 for _, m in chosen if m.hour == hour)
    assert summary.by_channel == dict(Counter(lead.channel for lead, _ in chosen))
    assert summary.by_service == dict(Counter(lead.service for lead, _ in chosen))
    statuses = Counter(lead.status for lead, _ in chosen)
    assert summary.by_status == {s.value: statuses[s.value] for s in Status}
    processed = sum(statuses[s] for s in ("в работе", "записан", "отказ", "не дозвонились"))
    assert summary.processed == processed
    assert summary.booked == statuses["записан"] and summary.not_reached == statuses["не дозвонились"]
    assert summary.outside_hours == sum(1 for _, m in chosen if not clinic_open(m))
    assert summary.median_first_response is None and summary.responses_known == 0

    text = format_report(summary)
    assert f"Всего обращений: {summary.total}" in text
    assert f"Строк с непонятной датой (не учтены): {broken}" in text
    share = f"{100 * summary.booked / summary.total:.0f} %"
    assert f"Записаны на приём:             {summary.booked:>5}  {share:>5}" in text
    assert "По часам суток" in text and "Пиковый час" in text and "telegram" in text


def test_the_picture_is_a_png_that_opens(hours: WorkingHours) -> None:
    summary = summarise(generate(2000), now=NOW, days=30, tz=TZ, hours=hours)
    png = draw_report(summary)
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    with Image.open(io.BytesIO(png)) as image:
        image.load()
        assert image.format == "PNG" and image.width > 1000 and image.height > 700
        # Not a blank canvas: many distinct colours were drawn.
        assert len(image.convert("RGB").getcolors(maxcolors=100_000) or []) > 20


def test_folding_the_long_tail_of_services_and_empty_period(hours: WorkingHours) -> None:
    base = NOW.astimezone(TZ).replace(tzinfo=None) - timedelta(hours=1)
    leads = [
        Lead(
            f"X{i}",
            base.strftime("%Y-%m-%d %H:%M"),
            "А",
            "+79",
            f"Услуга {i % 14}",
            "",
            "",
            "web",
            "",
            "",
            "",
        )
        for i in range(28)
    ]
    summary = summarise(leads, now=NOW, days=1, tz=TZ, hours=hours, top_services=10)
    assert len(summary.by_service) == 11 and summary.by_service["другое"] == 8
    assert summary.by_status["не указан"] == 28 and summary.processed == 0

    empty = summarise([], now=NOW, days=7, tz=TZ, hours=hours)
    assert empty.total == 0 and empty.peak_hour is None and "Всего обращений: 0" in format_report(empty)
    assert draw_report(empty)[:4] == b"\x89PNG"
    unknown = summarise(leads, now=NOW, days=1, tz=TZ, hours=WorkingHours())
    assert unknown.outside_hours is None and "нет данных" in format_report(unknown)
    with pytest.raises(ValueError):
        summarise([], now=NOW, days=0, tz=TZ, hours=hours)


def test_format_duration() -> None:
    assert format_duration(None) == "нет данных"
    assert format_duration(timedelta(minutes=14, seconds=40)) == "15 мин"
    assert format_duration(timedelta(hours=3, minutes=5)) == "3 ч 05 мин"
    assert format_duration(timedelta(days=3, hours=2)) == "3 дн 2 ч"


async def test_render_report_from_the_app_with_the_median_first_response(app: App) -> None:
    """Leads through the local record (the bot's row), statuses set by administrators, the CSV as sink."""
    leads = generate(40, seed=3)[1:21]
    local_now = app.clock.now().astimezone(app.settings.tz)
    waits = [timedelta(minutes=m) for m in (5, 10, 20, 40, 90)]
    for n, lead in enumerate(leads[:5]):
        created = local_now - timedelta(hours=30 - n)
        lead = Lead(**{**lead.as_dict(), "created": created.strftime("%Y-%m-%d %H:%M")})
        leads[n] = lead
        app.store.save(
            Address("telegram", f"u{n}", "@u"), ConversationState(), created.isoformat(), [(lead, False)]
        )
        app.store.set_status(lead.id, "в работе", "admin:42", (created + waits[n]).isoformat())
        app.store.set_status(lead.id, "записан", "admin:42", (created + waits[n] * 3).isoformat())
    app.sinks["csv"].append(leads)

    text, png = render_report(app, 7)
    assert "Медиана до первой смены статуса администратором: 20 мин (известно для 5)" in text
    assert f"файл {app.settings.leads_csv}" in text
    assert png[:4] == b"\x89PNG"


def test_one_specialty_is_one_group_with_its_doctors_under_it(hours: WorkingHours) -> None:
    """«ЛОР» alone and each ЛОР doctor are one group; a bare doctor's name finds its specialty; nothing folded."""
    doctors = [
        Doctor("Смирнова Елена Викторовна", "ЛОР"),
        Doctor("Кузнецов Андрей Павлович", "ЛОР"),
        Doctor("Иванов Сергей Николаевич", "Терапевт"),
    ]
    services = Counter(
        {
            "Смирнова Елена Викторовна (ЛОР)": 5,
            "Кузнецов Андрей Павлович (ЛОР)": 3,
            "ЛОР": 2,
            "лор": 1,  # typed by an administrator in the sheet
            "Иванов Сергей Николаевич": 4,  # the bare name, as an administrator may write it
            "Терапевт": 1,
            "Анализы": 2,
            **{f"Услуга {i}": 1 for i in range(12)},
        }
    )
    groups = group_services(services, doctors)
    assert groups[0] == ServiceGroup(
        "ЛОР", 11, (("Смирнова Елена Викторовна", 5), ("Кузнецов Андрей Павлович", 3)), no_doctor=3
    )
    assert groups[1] == ServiceGroup("Терапевт", 5, (("Иванов Сергей Николаевич", 4),), no_doctor=1)
    assert groups[2] == ServiceGroup("Анализы", 2, (), no_doctor=2)
    assert len(groups) == 3 + 12 and sum(g.total for g in groups) == sum(services.values())
    assert all(g.name != "другое" for g in groups)

    base = NOW.astimezone(TZ).replace(tzinfo=None) - timedelta(hours=1)
    leads = [
        Lead(f"G{n}-{i}", base.strftime("%Y-%m-%d %H:%M"), "А", "+79", label, "", "", "web", "", "", "новая")
        for n, (label, count) in enumerate(services.items())
        for i in range(count)
    ]
    summary = summarise(leads, now=NOW, days=1, tz=TZ, hours=hours, doctors=doctors)
    assert summary.by_specialty == groups
    text = format_report(summary)
    table = text[text.index("По врачам и услугам") :].splitlines()[1:]
    assert table[:5] == [
        f"  {'ЛОР':<48} {11:>5}  {'37 %':>5}",  # of 30 requests
        f"  {'  Смирнова Елена Викторовна':<48} {5:>5}  {'17 %':>5}",
        f"  {'  Кузнецов Андрей Павлович':<48} {3:>5}  {'10 %':>5}",
        f"  {'  врач не выбран':<48} {3:>5}  {'10 %':>5}",
        f"  {'Терапевт':<48} {5:>5}  {'17 %':>5}",
    ]
    assert len(table) == 15 + 3 + 2  # every group; under ЛОР and Терапевт their doctors and «врач не выбран»
    assert "другое" not in text


def test_the_day_axis_labels_the_last_day() -> None:
    for days in (1, 3, 7, 14, 15, 16, 30, 31, 45, 90, 365):
        ticks = day_ticks(days)
        assert ticks[-1] == days - 1 and ticks[0] >= 0 and len(ticks) <= 16
        assert ticks == sorted(set(ticks))
    assert day_ticks(7) == list(range(7)) and day_ticks(30) == list(range(1, 30, 2))
