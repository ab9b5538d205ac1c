"""What the operator's knowledge files become once loaded."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import time
from enum import StrEnum


class Level(StrEnum):
    WARNING = "warning"
    ERROR = "error"


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong in a knowledge file, with where it is and how to fix it."""

    level: Level
    file: str
    line: int
    message: str
    fix: str = ""  # what to do, said apart so that `check` never cuts a sentence to find it

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.message}" + (f"; {self.fix}" if self.fix else "")


@dataclass(frozen=True, slots=True)
class FaqEntry:
    question: str
    answer: str
    topic: str = ""
    source: str = ""
    line: int = 0


@dataclass(frozen=True, slots=True)
class Doctor:
    full_name: str
    specialty: str
    services: tuple[str, ...] = ()
    note: str = ""

    @property
    def surname(self) -> str:
        return self.full_name.split()[0] if self.full_name.split() else self.full_name

    @property
    def short_name(self) -> str:
        """ "Смирнова Елена Викторовна" -> "Смирнова Е. В."."""
        parts = self.full_name.split()
        return " ".join([parts[0], *(p[0] + "." for p in parts[1:3])]) if parts else self.full_name

    @property
    def display(self) -> str:
        return f"{self.full_name} ({self.specialty})"


@dataclass(frozen=True, slots=True)
class WorkingHours:
    """Opening hours per weekday (0 = Monday); None = closed that day."""

    days: tuple[tuple[time, time] | None, ...] = (None,) * 7

    def open_on(self, weekday: int) -> tuple[time, time] | None:
        return self.days[weekday]


@dataclass(frozen=True, slots=True)
class ClinicFacts:
    name: str = ""
    address: str = ""
    phone: str = ""
    hours_text: str = ""
    hours: WorkingHours = field(default_factory=WorkingHours)
    privacy_url: str = ""
    consent_url: str = ""
    consent_version: str = "1"
    website: str = ""
    telegram: str = ""
    whatsapp: str = ""
    callback_minutes: int = 15


@dataclass(frozen=True, slots=True)
class SafetyInfo:
    """What the bot says when a message shows emergency signs (`safety.toml`; embedded defaults without it)."""

    ambulance: str = "103"
    emergency: str = "112"
    crisis_lines: tuple[tuple[str, str], ...] = ()  # (phone, who answers and when)
    texts: tuple[tuple[str, str], ...] = ()  # "urgent", "after", "soft", "question", "suicide", "alert"
    advice: tuple[tuple[str, str], ...] = ()  # category -> what to do while waiting, never a diagnosis

    def text(self, key: str) -> str:
        return dict(self.texts).get(key, "")

    def advice_for(self, category: str) -> str:
        found = dict(self.advice)
        return found.get(category, found.get("other", ""))


@dataclass(frozen=True, slots=True)
class Knowledge:
    faq: tuple[FaqEntry, ...]
    doctors: tuple[Doctor, ...]
    clinic: ClinicFacts
    problems: tuple[Problem, ...] = ()
    safety: SafetyInfo = field(default_factory=SafetyInfo)

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.level is Level.ERROR]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.level is Level.WARNING]

    @property
    def specialties(self) -> list[str]:
        seen: dict[str, None] = {}
        for doctor in self.doctors:
            seen.setdefault(doctor.specialty, None)
        return list(seen)
