from pathlib import Path

from bot.knowledge.loader import load_knowledge
from bot.knowledge.models import Level

ROOT = Path(__file__).resolve().parents[2]


def write(directory: Path, name: str, text: str | bytes) -> None:
    path = directory / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")


def clinic(directory: Path) -> None:
    write(directory, "clinic.toml", (ROOT / "knowledge" / "clinic.toml").read_text(encoding="utf-8"))


def test_the_sample_knowledge_is_clean_and_big_enough() -> None:
    knowledge = load_knowledge(ROOT / "knowledge")
    assert knowledge.problems == ()
    assert len(knowledge.faq) >= 20 and len(knowledge.doctors) >= 15 and len(knowledge.specialties) >= 8
    surnames = {d.surname for d in knowledge.doctors}
    assert "Иванов" in surnames and "Иванова" in surnames
    assert knowledge.clinic.phone and knowledge.clinic.address and knowledge.clinic.privacy_url


def test_faq_headings_topics_and_answers(tmp_path: Path) -> None:
    clinic(tmp_path)
    write(
        tmp_path,
        "faq.md",
        "# Тема\n\n## Есть ли парковка?\nДа, во дворе.\n\nВъезд с улицы.\n## Пустой?\n# Другая\n",
    )
    knowledge = load_knowledge(tmp_path)
    [entry] = knowledge.faq
    assert entry.question == "Есть ли парковка?" and entry.topic == "Тема" and "Въезд" in entry.answer
    [problem] = [p for p in knowledge.warnings if p.file == "faq.md"]
    assert problem.file == "faq.md" and problem.line == 7 and "нет ответа" in problem.message and problem.fix


def test_doctors_problems_have_file_and_line(tmp_path: Path) -> None:
    clinic(tmp_path)
    write(
        tmp_path,
        "doctors.csv",
        "ФИО,Специальность,Услуги,Примечание,Кабинет\nИванов Иван Иванович,Терапевт,,,\n"
        ",ЛОР,,,\nПетрова Анна Ивановна,,,,\nИванов Иван Иванович,Терапевт,,,\n",
    )
    knowledge = load_knowledge(tmp_path)
    assert [d.full_name for d in knowledge.doctors] == ["Иванов Иван Иванович"]
    lines = sorted((p.line, p.message.split(";")[0]) for p in knowledge.warnings if p.file == "doctors.csv")
    assert [line for line, _ in lines] == [1, 3, 4, 5]


def test_broken_encoding_and_missing_phone_are_errors(tmp_path: Path) -> None:
    write(tmp_path, "faq.md", "## Вопрос?\nОтвет".encode("cp1251"))
    write(tmp_path, "clinic.toml", 'name = "Клиника"\naddress = "Самара"\n')
    knowledge = load_knowledge(tmp_path)
    messages = [str(p) for p in knowledge.errors]
    assert any("faq.md" in m and "UTF-8" in m for m in messages)
    assert any("clinic.toml" in m and "phone" in m for m in messages)
    assert all(p.level is Level.ERROR for p in knowledge.errors)
