"""Reads KNOWLEDGE_DIR (FAQ `*.md`, `doctors.csv`, `clinic.toml`, `safety.toml`) and reports every problem with file and line."""

from __future__ import annotations

import csv
import io
import re
import tomllib
from datetime import time
from pathlib import Path
from typing import Any

from bot.knowledge.models import ClinicFacts, Doctor, FaqEntry, Knowledge, Level, Problem, WorkingHours
from bot.knowledge.safety import load_safety

DOCTORS_FILE = "doctors.csv"
CLINIC_FILE = "clinic.toml"
DOCTOR_COLUMNS = ("ФИО", "Специальность", "Услуги", "Примечание")
_DAYS = ("пн", "вт", "ср", "чт", "пт", "сб", "вс")
_RANGE = re.compile(r"^\s*(\d{1,2})[:.](\d{2})\s*[-–—]\s*(\d{1,2})[:.](\d{2})\s*$")


class _Report:
    def __init__(self) -> None:
        self.problems: list[Problem] = []

    def warn(self, file: str, line: int, message: str, fix: str = "") -> None:
        self.problems.append(Problem(Level.WARNING, file, line, message, fix))

    def error(self, file: str, line: int, message: str, fix: str = "") -> None:
        self.problems.append(Problem(Level.ERROR, file, line, message, fix))


def _read_text(path: Path, report: _Report) -> str | None:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        report.error(path.name, 0, f"файл не читается: {exc.strerror or exc}", "проверьте права на файл")
        return None
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        report.error(
            path.name,
            line,
            "файл не в кодировке UTF-8 (видимо, сохранён как Windows-1251)",
            "сохраните его заново в кодировке UTF-8",
        )
        return None


def parse_faq(text: str, source: str, report: _Report) -> list[FaqEntry]:
    entries: list[FaqEntry] = []
    topic = ""
    question: str | None = None
    question_line = 0
    answer: list[str] = []

    def close() -> None:
        if question is None:
            return
        body = "\n".join(answer).strip()
        if not body:
            report.warn(
                source,
                question_line,
                f"у вопроса «{question}» нет ответа",
                "допишите ответ под заголовком вопроса",
            )
            return
        entries.append(FaqEntry(question, body, topic, source, question_line))

    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if stripped.startswith("## ") or stripped == "##":
            close()
            question = stripped[2:].strip()
            question_line = number
            answer = []
            if not question:
                report.warn(source, number, "пустой заголовок `## `", "напишите вопрос после `## `")
                question = None
        elif stripped.startswith("# ") and not stripped.startswith("##"):
            close()
            question = None
            answer = []
            topic = stripped[2:].strip()
        elif question is not None:
            answer.append(line.rstrip())
    close()
    return entries


def _parse_doctors(text: str, source: str, report: _Report) -> list[Doctor]:
    reader = csv.reader(io.StringIO(text))
    try:
        header = [cell.strip() for cell in next(reader)]
    except StopIteration:
        report.error(source, 1, "файл пуст", f"первой строкой напишите {','.join(DOCTOR_COLUMNS)}")
        return []
    missing = [c for c in DOCTOR_COLUMNS[:2] if c not in header]
    if missing and len(header) == 1 and ";" in header[0]:
        report.error(
            source,
            1,
            "столбцы разделены «;» (так сохраняет CSV Excel)",
            "сохраните файл как «CSV UTF-8 (разделитель — запятая)» или замените «;» на «,»",
        )
        return []
    if missing:
        report.error(
            source,
            1,
            f"в заголовке нет столбца {', '.join(missing)}",
            f"первой строкой должно быть {','.join(DOCTOR_COLUMNS)}",
        )
        return []
    for unknown in [c for c in header if c and c not in DOCTOR_COLUMNS]:
        report.warn(
            source,
            1,
            f"неизвестный столбец «{unknown}» не учитывается",
            f"известные: {', '.join(DOCTOR_COLUMNS)}",
        )
    index = {name: header.index(name) for name in DOCTOR_COLUMNS if name in header}
    doctors: list[Doctor] = []
    seen: dict[str, int] = {}
    for row in reader:
        number = reader.line_num
        if not any(cell.strip() for cell in row):
            continue

        def cell(column: str, row: list[str] = row) -> str:
            i = index.get(column)
            return row[i].strip() if i is not None and i < len(row) else ""

        name = " ".join(cell("ФИО").split())
        specialty = cell("Специальность")
        if not name:
            report.warn(source, number, "строка без ФИО пропущена", "впишите фамилию, имя и отчество врача")
            continue
        if not specialty:
            report.warn(
                source,
                number,
                f"у «{name}» не указана Специальность, строка пропущена",
                "впишите специальность",
            )
            continue
        if name.casefold() in seen:
            report.warn(
                source,
                number,
                f"«{name}» записан дважды (первый раз в строке {seen[name.casefold()]}); вторая строка не учитывается",
                "оставьте одну строку",
            )
            continue
        seen[name.casefold()] = number
        services = tuple(s.strip() for s in cell("Услуги").split(",") if s.strip())
        doctors.append(Doctor(name, specialty, services, cell("Примечание")))
    if not doctors:
        report.warn(
            source,
            0,
            "не указано ни одного врача: бот принимает заявки только по специальности",
            "впишите врачей, по строке на врача",
        )
    return doctors


def _parse_range(value: str) -> tuple[time, time] | None:
    match = _RANGE.match(value)
    if not match:
        return None
    h1, m1, h2, m2 = (int(x) for x in match.groups())
    return time(h1, m1), time(min(h2, 23), m2 if h2 < 24 else 59)


def key_line(text: str, key: str, after: int = 0) -> int:
    """The line where a TOML key is set (`key = ...` or `"key" = ...`), searched from line `after`; 0 if none."""
    pattern = re.compile(rf"""^\s*["']?{re.escape(key)}["']?\s*=""")
    for number, line in enumerate(text.splitlines(), start=1):
        if number > after and pattern.match(line):
            return number
    return 0


def _parse_hours(raw: dict[str, Any], source: str, report: _Report, text: str = "") -> WorkingHours:
    days: list[tuple[time, time] | None] = [None] * 7
    table = next((n for n, line in enumerate(text.splitlines(), start=1) if line.strip() == "[hours]"), 0)
    for key, value in raw.items():
        line = key_line(text, key, after=table) or table
        span = key.strip().lower().replace("–", "-")
        first, _, last = span.partition("-")
        if first not in _DAYS or (last and last not in _DAYS):
            report.warn(
                source,
                line,
                f"[hours]: «{key}» — не день недели",
                "пишите пн, вт, ср, чт, пт, сб, вс или промежуток, например пн-пт",
            )
            continue
        start, end = _DAYS.index(first), _DAYS.index(last or first)
        hours_text = str(value).strip().lower()
        closed = hours_text in {"", "выходной", "закрыто", "нет"}
        hours = None if closed else _parse_range(hours_text)
        if not closed and hours is None:
            report.warn(
                source,
                line,
                f"[hours] {key} = «{value}»: непонятное время",
                'пишите так: "08:00-20:00" или "выходной"',
            )
            continue
        for day in range(start, end + 1):
            days[day] = hours
    return WorkingHours(tuple(days))


def _parse_clinic(text: str, source: str, report: _Report) -> ClinicFacts:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        at = re.search(r"at line (\d+)", str(exc))
        line = getattr(exc, "lineno", 0) or (int(at.group(1)) if at else 0)
        report.error(source, line, f"файл не читается: {exc}", "проверьте кавычки и знак = в этой строке")
        return ClinicFacts()
    for required in ("name", "phone", "address"):
        if not str(data.get(required, "")).strip():
            line = key_line(text, required)
            if line:
                report.error(
                    source,
                    line,
                    f"поле `{required}` пустое",
                    f'впишите значение между кавычками: {required} = "..."',
                )
            else:
                report.error(
                    source, 0, f"нет строки `{required}`", f'добавьте строку вида {required} = "..."'
                )
    if not str(data.get("privacy_url", "")).strip():
        report.warn(
            source,
            key_line(text, "privacy_url"),
            "нет `privacy_url`: пациенты должны получить ссылку на политику обработки персональных данных",
            'добавьте строку privacy_url = "https://…"',
        )
    hours_raw = data.get("hours", {})
    if "hours" in data and not isinstance(hours_raw, dict):
        report.warn(
            source,
            key_line(text, "hours"),
            "часы работы записаны не таблицей",
            'пишите [hours], а под ним строки вида "пн-пт" = "08:00-20:00"',
        )
    hours = _parse_hours(hours_raw if isinstance(hours_raw, dict) else {}, source, report, text)
    callback = data.get("callback_minutes", 15)
    try:
        callback_minutes = int(callback or 15)
    except (TypeError, ValueError):
        report.warn(
            source,
            key_line(text, "callback_minutes"),
            f"callback_minutes = «{callback}» — не число; бот считает 15 минут",
            "впишите число минут, например callback_minutes = 15",
        )
        callback_minutes = 15
    privacy = str(data.get("privacy_url", "")).strip()
    return ClinicFacts(
        name=str(data.get("name", "")).strip(),
        address=str(data.get("address", "")).strip(),
        phone=str(data.get("phone", "")).strip(),
        hours_text=str(data.get("hours_text", "")).strip(),
        hours=hours,
        privacy_url=privacy,
        consent_url=str(data.get("consent_url", "")).strip() or privacy,
        consent_version=str(data.get("consent_version", "1")).strip() or "1",
        website=str(data.get("website", "")).strip(),
        telegram=str(data.get("telegram", "")).strip(),
        whatsapp=str(data.get("whatsapp", "")).strip(),
        callback_minutes=callback_minutes,
    )


def load_knowledge(directory: Path, doctors: list[Doctor] | None = None) -> Knowledge:
    """Load everything; `doctors` (e.g. from the sheet "Врачи") replaces doctors.csv when given."""
    report = _Report()
    if not directory.is_dir():
        report.error(str(directory), 0, "папки знаний нет", "укажите её в KNOWLEDGE_DIR в файле .env")
        return Knowledge((), tuple(doctors or ()), ClinicFacts(), tuple(report.problems))
    faq: list[FaqEntry] = []
    for path in sorted(directory.glob("*.md")):
        text = _read_text(path, report)
        if text is not None:
            faq.extend(parse_faq(text, path.name, report))
    first_seen: dict[str, FaqEntry] = {}
    unique: list[FaqEntry] = []
    for entry in faq:
        key = " ".join(entry.question.casefold().split())
        if key in first_seen:
            prev = first_seen[key]
            report.warn(
                entry.source,
                entry.line,
                f"вопрос «{entry.question}» уже есть в {prev.source}:{prev.line}",
                "оставьте один из двух",
            )
            continue
        first_seen[key] = entry
        unique.append(entry)
    if not unique:
        report.warn(
            str(directory),
            0,
            "не найдено ни одного вопроса",
            "добавьте в файл .md заголовки вида `## Вопрос`",
        )
    if doctors is None:
        path = directory / DOCTORS_FILE
        if path.exists():
            text = _read_text(path, report)
            doctors = _parse_doctors(text, DOCTORS_FILE, report) if text is not None else []
        else:
            report.warn(
                DOCTORS_FILE, 0, "файла нет", f"создайте его с первой строкой {','.join(DOCTOR_COLUMNS)}"
            )
            doctors = []
    clinic_path = directory / CLINIC_FILE
    if clinic_path.exists():
        text = _read_text(clinic_path, report)
        clinic = _parse_clinic(text, CLINIC_FILE, report) if text is not None else ClinicFacts()
    else:
        report.error(
            CLINIC_FILE,
            0,
            "файла нет, а в нём название клиники, адрес, телефон, часы работы и ссылка на политику",
            "восстановите его из проекта и впишите данные клиники",
        )
        clinic = ClinicFacts()
    safety = load_safety(directory, report)
    return Knowledge(tuple(unique), tuple(doctors), clinic, tuple(report.problems), safety)
