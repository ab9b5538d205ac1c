"""The owner's figures, computed from plain lead rows: pure, no I/O, so tests can count them by hand."""

from __future__ import annotations

import re
import statistics
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, tzinfo

from bot.knowledge.models import Doctor, WorkingHours
from sheets.schema import Lead, Status

__all__ = ["PROCESSED", "ServiceGroup", "Summary", "group_services", "parse_created", "summarise"]

# Statuses an administrator has set: the lead was looked at.
PROCESSED = frozenset({Status.IN_WORK, Status.BOOKED, Status.REFUSED, Status.NOT_REACHED})
OTHER = "другое"
NO_DOCTOR = "врач не выбран"
# `Врач / услуга` as the bot writes it for a chosen doctor: "Смирнова Елена Викторовна (ЛОР)".
_DOCTOR_LABEL = re.compile(r"^(?P<name>.+?)\s*\((?P<specialty>[^()]+)\)$")


def parse_created(value: str) -> datetime | None:
    """`YYYY-MM-DD HH:MM` (clinic time, naive) as the sheet holds it; None when it is not a date."""
    text = value.strip()
    for pattern in ("%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S", "%d.%m.%Y %H:%M"):
        try:
            return datetime.strptime(text, pattern)
        except ValueError:
            continue
    return None


@dataclass(frozen=True)
class ServiceGroup:
    """One specialty (or a service no doctor is listed for) with the requests for each of its doctors."""

    name: str
    total: int
    doctors: tuple[tuple[str, int], ...] = ()  # (full name, requests), the most asked first
    no_doctor: int = 0  # requests for the specialty or service itself, no doctor chosen


def group_services(services: Counter[str], doctors: Sequence[Doctor] = ()) -> list[ServiceGroup]:
    """`Врач / услуга` values grouped by specialty, the largest group first.

    "Смирнова Елена Викторовна (ЛОР)", "Кузнецов Андрей Павлович (ЛОР)" and "ЛОР" (no doctor chosen) are one
    group «ЛОР»; a doctor's bare full name finds its specialty in the doctors list; anything else (a service
    such as «Анализы») is a group of its own. Specialties are matched regardless of letter case.
    """
    specialty_of = {d.full_name.casefold(): d.specialty for d in doctors}
    spelled: dict[str, str] = {d.specialty.casefold(): d.specialty for d in doctors}
    per_doctor: dict[str, Counter[str]] = {}
    alone: Counter[str] = Counter()
    for label, number in services.items():
        match = _DOCTOR_LABEL.match(label)
        if match:
            name, specialty = " ".join(match["name"].split()), match["specialty"].strip()
        elif label.casefold() in specialty_of:
            name, specialty = label, specialty_of[label.casefold()]
        else:
            name, specialty = "", label
        key = specialty.casefold()
        spelled.setdefault(key, specialty)
        if name:
            per_doctor.setdefault(key, Counter())[name] += number
        else:
            alone[key] += number
    groups = []
    for key in {*per_doctor, *alone}:
        named = per_doctor.get(key, Counter())
        ranked = tuple(sorted(named.items(), key=lambda item: (-item[1], item[0])))
        total = sum(named.values()) + alone[key]
        groups.append(ServiceGroup(spelled[key], total, ranked, alone[key]))
    return sorted(groups, key=lambda g: (-g.total, g.name))


@dataclass(frozen=True)
class Summary:
    """Everything the report shows, for leads created from `start` (a date) to `end` (clinic time)."""

    start: date
    end: datetime
    total: int
    per_day: dict[date, int]
    per_week: dict[date, int]  # keyed by the week's Monday
    by_hour: list[int]  # 24 counts
    by_channel: dict[str, int]
    by_service: dict[str, int]  # the largest first, the tail folded into «другое»
    by_status: dict[str, int]
    processed: int
    booked: int
    not_reached: int
    outside_hours: int | None  # None: the clinic's hours are not known
    median_first_response: timedelta | None  # lead -> first administrator status change, where known
    responses_known: int
    skipped: int = 0  # rows whose date could not be read
    source: str = ""
    notes: list[str] = field(default_factory=list)
    by_specialty: list[ServiceGroup] = field(default_factory=list)  # every group, nothing folded

    def share(self, count: int | None) -> float | None:
        if count is None or not self.total:
            return None
        return count / self.total

    @property
    def peak_hour(self) -> int | None:
        return max(range(24), key=lambda h: self.by_hour[h]) if self.total else None

    @property
    def days(self) -> int:
        return len(self.per_day)


def is_open(hours: WorkingHours, moment: datetime) -> bool | None:
    """Whether the clinic is open at this local time; None when no day has hours at all."""
    if all(day is None for day in hours.days):
        return None
    span = hours.open_on(moment.weekday())
    if span is None:
        return False
    start, end = span
    return start <= moment.time().replace(second=0, microsecond=0) < end


def _first_responses(
    leads: Sequence[tuple[Lead, datetime]],
    changes: Iterable[tuple[str, str, str, str]],
    tz: tzinfo,
) -> list[timedelta]:
    """Per lead: the first status change by someone other than the bot, minus the moment it was created.

    `changes` are rows (lead_id, status, by, at) of the local record's status_changes table (`at` ISO, aware).
    The lead's moment is the bot's first record of it when present (seconds precision), else its row date.
    """
    created: dict[str, datetime] = {}
    first_admin: dict[str, datetime] = {}
    for lead_id, _status, by, at in changes:
        try:
            moment = datetime.fromisoformat(at)
        except ValueError:
            continue
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=tz)
        if by == "bot":
            if lead_id not in created or moment < created[lead_id]:
                created[lead_id] = moment
        elif lead_id not in first_admin or moment < first_admin[lead_id]:
            first_admin[lead_id] = moment
    waits: list[timedelta] = []
    for lead, local in leads:
        answered = first_admin.get(lead.id)
        if answered is None:
            continue
        began = created.get(lead.id, local.replace(tzinfo=tz))
        if answered >= began:
            waits.append(answered - began)
    return waits


def _fold(counter: Counter[str], keep: int) -> dict[str, int]:
    ranked = counter.most_common()
    head = dict(ranked[:keep])
    tail = sum(n for _, n in ranked[keep:])
    if tail:
        head[OTHER] = head.get(OTHER, 0) + tail
    return head


def summarise(
    leads: Iterable[Lead],
    *,
    now: datetime,
    days: int,
    tz: tzinfo,
    hours: WorkingHours,
    changes: Iterable[tuple[str, str, str, str]] = (),
    top_services: int = 10,
    source: str = "",
    doctors: Sequence[Doctor] = (),
) -> Summary:
    """Figures for the last `days` calendar days in clinic time, today included."""
    if days < 1:
        raise ValueError("days must be at least 1")
    local_now = now.astimezone(tz).replace(tzinfo=None)
    start = local_now.date() - timedelta(days=days - 1)
    per_day = {start + timedelta(days=i): 0 for i in range(days)}
    per_week: dict[date, int] = {}
    for day in per_day:
        per_week.setdefault(day - timedelta(days=day.weekday()), 0)
    by_hour = [0] * 24
    channels: Counter[str] = Counter()
    services: Counter[str] = Counter()
    statuses: Counter[str] = Counter({s.value: 0 for s in Status})
    outside = 0
    hours_known = True
    skipped = 0
    chosen: list[tuple[Lead, datetime]] = []
    for lead in leads:
        moment = parse_created(lead.created)
        if moment is None:
            skipped += 1
            continue
        if not (start <= moment.date() and moment <= local_now):
            continue
        chosen.append((lead, moment))
        per_day[moment.date()] += 1
        per_week[moment.date() - timedelta(days=moment.weekday())] += 1
        by_hour[moment.hour] += 1
        channels[lead.channel.strip() or "не указан"] += 1
        services[lead.service.strip() or "не указано"] += 1
        statuses[lead.status.strip() or "не указан"] += 1
        open_now = is_open(hours, moment)
        if open_now is None:
            hours_known = False
        elif not open_now:
            outside += 1
    waits = _first_responses(chosen, changes, tz)
    return Summary(
        start=start,
        end=local_now,
        total=len(chosen),
        per_day=per_day,
        per_week=per_week,
        by_hour=by_hour,
        by_channel=dict(channels.most_common()),
        by_service=_fold(services, top_services),
        by_status=dict(statuses),
        processed=sum(n for s, n in statuses.items() if s in PROCESSED),
        booked=statuses[Status.BOOKED],
        not_reached=statuses[Status.NOT_REACHED],
        outside_hours=outside if hours_known else None,
        median_first_response=(
            timedelta(seconds=statistics.median(w.total_seconds() for w in waits)) if waits else None
        ),
        responses_known=len(waits),
        skipped=skipped,
        source=source,
        by_specialty=group_services(services, doctors),
    )


def status_order(by_status: Mapping[str, int]) -> list[tuple[str, int]]:
    """The contract's statuses in their natural order, then anything else found in the sheet."""
    known = [s.value for s in Status]
    rest = sorted(k for k in by_status if k not in known)
    return [(k, by_status.get(k, 0)) for k in [*known, *rest]]
