"""Every knowledge problem the operator can make, reported with its file and line, as a warning or an error."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.checks.local import check_knowledge
from bot.checks.model import Mark
from bot.config import Settings
from bot.knowledge.loader import load_knowledge
from bot.knowledge.models import Level, Problem

ROOT = Path(__file__).resolve().parents[2]
CLINIC = (ROOT / "knowledge" / "clinic.toml").read_text(encoding="utf-8")
DOCTORS = 'ФИО,Специальность,Услуги,Примечание\nСмирнова Елена Викторовна,ЛОР,"насморк, отит",\n'
FAQ = "# Общее\n\n## Где вы находитесь?\nУл. Молодогвардейская, 120.\n"


def folder(tmp_path: Path, **files: str | bytes) -> Path:
    """A knowledge folder with good defaults, some files replaced."""
    contents: dict[str, str | bytes] = {"clinic.toml": CLINIC, "doctors.csv": DOCTORS, "faq.md": FAQ}
    contents.update({name.replace("_", "."): text for name, text in files.items()})
    for name, text in contents.items():
        path = tmp_path / name
        if isinstance(text, bytes):
            path.write_bytes(text)
        else:
            path.write_text(text, encoding="utf-8")
    return tmp_path


def only(problems: tuple[Problem, ...], file: str) -> list[Problem]:
    return [p for p in problems if p.file == file]


def test_the_defaults_are_clean(tmp_path: Path) -> None:
    assert load_knowledge(folder(tmp_path)).problems == ()


def test_faq_heading_without_answer_is_a_warning_with_its_line(tmp_path: Path) -> None:
    knowledge = load_knowledge(
        folder(tmp_path, faq_md=FAQ + "\n## Есть ли парковка?\n\n## Сколько стоит?\n500 ₽\n")
    )
    [problem] = only(knowledge.problems, "faq.md")
    assert (problem.level, problem.line) == (
        Level.WARNING,
        6,
    ) and "у вопроса «Есть ли парковка?» нет ответа" in problem.message
    assert [e.question for e in knowledge.faq] == ["Где вы находитесь?", "Сколько стоит?"]


def test_duplicate_question_in_another_file_names_both_places(tmp_path: Path) -> None:
    knowledge = load_knowledge(folder(tmp_path, more_md="# Ещё\n\n\n## где  вы находитесь?\nДругой ответ.\n"))
    [problem] = only(knowledge.problems, "more.md")
    assert problem.level is Level.WARNING and problem.line == 4
    assert "уже есть в faq.md:3" in problem.message and problem.fix == "оставьте один из двух"
    assert len(knowledge.faq) == 1 and knowledge.faq[0].answer.startswith("Ул.")


@pytest.mark.parametrize(
    ("row", "line_text"),
    [
        (",Терапевт,,", "строка без ФИО"),
        ("Иванов Сергей Николаевич,,,", "не указана Специальность"),
        ("Смирнова  Елена Викторовна,ЛОР,,", "записан дважды (первый раз в строке 2)"),
    ],
)
def test_doctor_rows_with_a_problem_are_skipped_with_their_line(
    tmp_path: Path, row: str, line_text: str
) -> None:
    knowledge = load_knowledge(folder(tmp_path, doctors_csv=DOCTORS + "\n" + row + "\n"))
    [problem] = only(knowledge.problems, "doctors.csv")
    assert problem.level is Level.WARNING and problem.line == 4 and line_text in problem.message
    assert [d.full_name for d in knowledge.doctors] == ["Смирнова Елена Викторовна"]


def test_multiline_cells_keep_line_numbers_right(tmp_path: Path) -> None:
    text = DOCTORS + 'Кузнецов Андрей Павлович,ЛОР,"насморк,\nотит",\n,Терапевт,,\n'
    [problem] = only(load_knowledge(folder(tmp_path, doctors_csv=text)).problems, "doctors.csv")
    assert problem.line == 5


def test_unknown_column_is_a_warning_on_line_1(tmp_path: Path) -> None:
    text = DOCTORS.replace("Примечание", "Примечание,Кабинет", 1)
    [problem] = only(load_knowledge(folder(tmp_path, doctors_csv=text)).problems, "doctors.csv")
    assert (problem.level, problem.line) == (Level.WARNING, 1) and "«Кабинет»" in problem.message


def test_excel_semicolons_are_explained(tmp_path: Path) -> None:
    text = DOCTORS.replace(",", ";")
    [problem] = only(load_knowledge(folder(tmp_path, doctors_csv=text)).problems, "doctors.csv")
    assert (
        (problem.level, problem.line) == (Level.ERROR, 1)
        and "«;»" in problem.message
        and "CSV UTF-8" in problem.fix
    )


def test_missing_header_column_is_an_error(tmp_path: Path) -> None:
    text = "Врач,Специальность\nСмирнова Елена Викторовна,ЛОР\n"
    [problem] = only(load_knowledge(folder(tmp_path, doctors_csv=text)).problems, "doctors.csv")
    assert problem.level is Level.ERROR and problem.line == 1 and "нет столбца ФИО" in problem.message


@pytest.mark.parametrize("name", ["faq.md", "doctors.csv", "clinic.toml"])
def test_broken_encoding_is_an_error_at_the_first_bad_line(tmp_path: Path, name: str) -> None:
    good = {"faq.md": FAQ, "doctors.csv": DOCTORS, "clinic.toml": CLINIC}[name]
    lines = good.splitlines(keepends=True)
    cyrillic = next(i for i, line in enumerate(lines) if any("а" <= ch <= "я" for ch in line.lower()))
    raw = "".join(lines[:cyrillic]).encode("utf-8") + "".join(lines[cyrillic:]).encode("cp1251")
    knowledge = load_knowledge(folder(tmp_path, **{name.replace(".", "_"): raw}))
    [problem] = only(knowledge.problems, name)
    assert problem.level is Level.ERROR and problem.line == cyrillic + 1
    assert "UTF-8" in problem.message and "Windows-1251" in problem.message and "UTF-8" in problem.fix


@pytest.mark.parametrize("key", ["phone", "address", "name"])
def test_clinic_facts_missing_phone_or_address_are_errors(tmp_path: Path, key: str) -> None:
    removed = "\n".join(line for line in CLINIC.splitlines() if not line.startswith(f"{key} ="))
    [problem] = only(load_knowledge(folder(tmp_path, clinic_toml=removed)).problems, "clinic.toml")
    assert (
        problem.level is Level.ERROR
        and f"нет строки `{key}`" in problem.message
        and "добавьте строку" in problem.fix
    )


def test_an_empty_phone_points_at_its_line(tmp_path: Path) -> None:
    text = CLINIC.replace('phone = "+7 (846) 200-30-40"', 'phone = ""')
    line = text.splitlines().index('phone = ""') + 1
    [problem] = only(load_knowledge(folder(tmp_path, clinic_toml=text)).problems, "clinic.toml")
    assert (problem.level, problem.line) == (Level.ERROR, line) and "поле `phone` пустое" in problem.message


def test_toml_syntax_error_has_its_line(tmp_path: Path) -> None:
    text = CLINIC.replace('website = "', "website = ", 1)
    line = next(i for i, x in enumerate(text.splitlines(), start=1) if x.startswith("website"))
    [problem] = only(load_knowledge(folder(tmp_path, clinic_toml=text)).problems, "clinic.toml")
    assert problem.level is Level.ERROR and problem.line == line


def test_bad_hours_and_callback_are_warnings_on_their_lines(tmp_path: Path) -> None:
    text = (
        CLINIC.replace('"сб" = "09:00-15:00"', '"суббота" = "09:00-15:00"')
        .replace('"пн-пт" = "08:00-20:00"', '"пн-пт" = "с восьми до восьми"')
        .replace("callback_minutes = 15", 'callback_minutes = "пятнадцать"')
    )
    lines = text.splitlines()
    knowledge = load_knowledge(folder(tmp_path, clinic_toml=text))
    problems = {p.line: p for p in only(knowledge.problems, "clinic.toml")}
    assert all(p.level is Level.WARNING for p in problems.values())
    assert "«суббота» — не день недели" in problems[lines.index('"суббота" = "09:00-15:00"') + 1].message
    assert "08:00-20:00" in problems[lines.index('"пн-пт" = "с восьми до восьми"') + 1].fix
    assert "не число" in problems[lines.index('callback_minutes = "пятнадцать"') + 1].message
    assert knowledge.clinic.callback_minutes == 15 and knowledge.clinic.phone


def test_missing_clinic_file_is_an_error(tmp_path: Path) -> None:
    folder(tmp_path)
    (tmp_path / "clinic.toml").unlink()
    [problem] = only(load_knowledge(tmp_path).problems, "clinic.toml")
    assert problem.level is Level.ERROR


def test_check_knowledge_lists_each_problem_with_path_and_line(tmp_path: Path, settings: Settings) -> None:
    (tmp_path / "k").mkdir()
    directory = folder(tmp_path / "k", faq_md=FAQ + "## Пусто?\n")
    lines = check_knowledge(settings.model_copy(update={"knowledge_dir": directory}))
    assert lines[0].mark is Mark.OK and lines[0].detail.endswith("Ниже 1 предупреждение")
    assert lines[1].mark is Mark.WARN and lines[1].render() == (
        f"! Знания: {directory / 'faq.md'}:5: у вопроса «Пусто?» нет ответа"
        " — как исправить: допишите ответ под заголовком вопроса"
    )

    (directory / "clinic.toml").write_text(
        CLINIC.replace('phone = "+7 (846) 200-30-40"', 'phone = ""'), "utf-8"
    )
    lines = check_knowledge(settings.model_copy(update={"knowledge_dir": directory}))
    assert lines[0].mark is Mark.FAIL and "Ниже 1 ошибка и 1 предупреждение" in lines[0].detail
    [error] = [x for x in lines[1:] if x.mark is Mark.FAIL]
    assert "clinic.toml:" in error.detail and error.fix == 'впишите значение между кавычками: phone = "..."'


def test_check_knowledge_command_exit_status(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from bot.cli import main

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("KNOWLEDGE_DIR", str(ROOT / "knowledge"))
    monkeypatch.setenv("PROMPTS_DIR", str(ROOT / "prompts"))
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", "123456:not-checked-with-knowledge-only")
    assert main(["check", "--knowledge"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("✓ Знания:") and "Telegram" not in out and out.rstrip().endswith("Всё в порядке.")

    (tmp_path / "k").mkdir()
    broken = folder(tmp_path / "k", faq_md=b"## \xcf\xf0\xe8?\n")
    monkeypatch.setenv("KNOWLEDGE_DIR", str(broken))
    assert main(["check", "--knowledge"]) == 1
    out = capsys.readouterr().out
    assert f"✗ Знания: {broken / 'faq.md'}:1: файл не в кодировке UTF-8" in out
    assert "— как исправить: сохраните его заново в кодировке UTF-8" in out
    assert "Ниже 1 ошибка и 1 предупреждение;" in out.splitlines()[0]
    assert out.rstrip().endswith(
        "Найдено: 1 ошибка (✗) и 1 предупреждение (!). Исправьте строки с ✗ и запустите проверку снова: make check-knowledge"
    )


def test_header_and_total_count_the_same_errors_in_russian_plural(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Two errors and a warning: «2 ошибки» above and below, never a count in English."""
    from bot.cli import main

    (tmp_path / "k").mkdir()
    clinic = CLINIC.replace('phone = "+7 (846) 200-30-40"', 'phone = ""').replace(
        'address = "', 'address = "" #', 1
    )
    directory = folder(tmp_path / "k", faq_md=FAQ + "## Пусто?\n", clinic_toml=clinic)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("KNOWLEDGE_DIR", str(directory))
    monkeypatch.setenv("PROMPTS_DIR", str(ROOT / "prompts"))
    assert main(["check", "--knowledge"]) == 1
    out = capsys.readouterr().out
    lines = out.rstrip().splitlines()
    assert "Ниже 2 ошибки и 1 предупреждение" in lines[0]
    assert sum(1 for x in lines if x.startswith("✗")) == 3  # the heading and the two errors
    assert lines[-1].startswith("Найдено: 2 ошибки (✗) и 1 предупреждение (!).")
    assert "error" not in out and "problem" not in out and "fix:" not in out
