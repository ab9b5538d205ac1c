import csv
import multiprocessing
from pathlib import Path

from sheets.csv_sink import CsvLeadSink
from sheets.schema import LEAD_HEADER, Lead


def make_lead(lead_id: str, **fields: str) -> Lead:
    values = dict(
        id=lead_id,
        created="2026-11-23 10:00",
        name="Ольга",
        phone="+79123456789",
        service="ЛОР",
        window="до 14:00",
        visit="первичное",
        channel="console",
        contact="p1",
        comment="болит ухо",
        status="новая",
    )
    values.update(fields)
    return Lead(**values)


def read_rows(path: Path) -> list[list[str]]:
    with open(path, encoding="utf-8", newline="") as fh:
        return list(csv.reader(fh))


def test_header_and_row_exactly_as_the_contract(tmp_path: Path) -> None:
    sink = CsvLeadSink(tmp_path / "leads.csv")
    sink.append([make_lead("AAAA2222")])
    rows = read_rows(tmp_path / "leads.csv")
    assert tuple(rows[0]) == LEAD_HEADER
    assert rows[1] == [
        "AAAA2222",
        "2026-11-23 10:00",
        "Ольга",
        "+79123456789",
        "ЛОР",
        "до 14:00",
        "первичное",
        "console",
        "p1",
        "болит ухо",
        "новая",
    ]
    assert (tmp_path / "leads.csv").read_bytes().count(b"\r\n") == 2  # RFC 4180 line ends


def test_same_id_is_never_written_twice(tmp_path: Path) -> None:
    sink = CsvLeadSink(tmp_path / "leads.csv")
    sink.append([make_lead("AAAA2222")])
    sink.append([make_lead("AAAA2222"), make_lead("BBBB3333")])
    assert [lead.id for lead in sink.read_all()] == ["AAAA2222", "BBBB3333"]


def test_patient_text_never_becomes_a_formula(tmp_path: Path) -> None:
    sink = CsvLeadSink(tmp_path / "leads.csv")
    hostile = make_lead("CCCC4444", name='=HYPERLINK("x")', comment="+1 -2 @cmd", contact="@(1+1)")
    sink.append([hostile])
    row = read_rows(tmp_path / "leads.csv")[1]
    assert row[2].startswith("'=") and row[9].startswith("'+") and row[8] == "'@(1+1)"
    assert row[3] == "+79123456789"  # the phone stays +7...
    assert sink.read_all()[0] == hostile  # read back as the patient wrote it


def test_commas_quotes_and_newlines_survive(tmp_path: Path) -> None:
    sink = CsvLeadSink(tmp_path / "leads.csv")
    lead = make_lead("DDDD5555", comment='болит "ухо", и\nгорло')
    sink.append([lead])
    assert sink.read_all() == [lead]


def test_status_update_by_id(tmp_path: Path) -> None:
    sink = CsvLeadSink(tmp_path / "leads.csv")
    sink.append([make_lead("AAAA2222"), make_lead("BBBB3333")])
    assert sink.update_status("BBBB3333", "записан")
    assert not sink.update_status("ZZZZ9999", "записан")
    assert [lead.status for lead in sink.read_all()] == ["новая", "записан"]


def _append_many(path: str, start: int) -> None:
    sink = CsvLeadSink(Path(path))
    for n in range(start, start + 25):
        sink.append([make_lead(f"P{n:07d}")])


def test_concurrent_writers_lose_nothing(tmp_path: Path) -> None:
    path = str(tmp_path / "leads.csv")
    workers = [multiprocessing.Process(target=_append_many, args=(path, k * 100)) for k in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(30)
    ids = [lead.id for lead in CsvLeadSink(Path(path)).read_all()]
    assert len(ids) == 100 and len(set(ids)) == 100


def test_telegram_username_contact_stays_as_the_contract_says(tmp_path: Path) -> None:
    sink = CsvLeadSink(tmp_path / "leads.csv")
    sink.append([make_lead("EEEE6666", contact="@anna_k")])
    assert read_rows(tmp_path / "leads.csv")[1][8] == "@anna_k"
