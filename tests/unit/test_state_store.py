import threading
from pathlib import Path

from bot.dialogue.messages import Address
from bot.dialogue.state import ConversationState, Stage
from bot.storage.db import Database
from bot.storage.state_store import StateStore
from sheets.outbox import Outbox
from tests.unit.test_csv_sink import make_lead

NOW = "2026-11-23T06:00:00.000+00:00"


def store_at(path: Path) -> StateStore:
    db = Database(path)
    return StateStore(db, Outbox(db, ["csv"]))


def test_state_survives_reopening(tmp_path: Path) -> None:
    address = Address("telegram", "42", "@olga")
    state = ConversationState(stage=Stage.BOOKING)
    state.booking.name = "Ольга"
    store_at(tmp_path / "s.db").save(address, state, NOW)
    again = store_at(tmp_path / "s.db").load(address)
    assert again.stage == Stage.BOOKING and again.booking.name == "Ольга"


def test_conversations_are_keyed_by_channel_and_user(tmp_path: Path) -> None:
    store = store_at(tmp_path / "s.db")
    store.save(Address("telegram", "1"), ConversationState(stage=Stage.CONFIRM), NOW)
    assert store.load(Address("whatsapp", "1")).stage == Stage.IDLE


def test_lead_and_its_outbox_entry_are_written_together(tmp_path: Path) -> None:
    store = store_at(tmp_path / "s.db")
    store.save(Address("console", "1"), ConversationState(), NOW, [(make_lead("AAAA2222"), False)])
    assert store.lead("AAAA2222") is not None
    assert [item.lead.id for item in store.outbox.due("csv", NOW)] == ["AAAA2222"]


def test_concurrent_writers(tmp_path: Path) -> None:
    errors: list[BaseException] = []

    def work(worker: int) -> None:
        try:
            store = store_at(tmp_path / "s.db")
            for n in range(30):
                store.save(
                    Address("web", f"{worker}-{n}"),
                    ConversationState(),
                    NOW,
                    [(make_lead(f"W{worker}N{n:04d}"), False)],
                )
        except BaseException as exc:  # collected for the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert store_at(tmp_path / "s.db").count() == 120
    assert len(store_at(tmp_path / "s.db").leads()) == 120


def test_seen_message_ids(tmp_path: Path) -> None:
    store = store_at(tmp_path / "s.db")
    assert store.seen("wamid.1", NOW) is False
    assert store.seen("wamid.1", NOW) is True


def test_forgetting_a_lead_redacts_it_everywhere_once(tmp_path: Path) -> None:
    store = store_at(tmp_path / "s.db")
    address = Address("telegram", "42", "@olga")
    lead = make_lead("AAAA2222", status="не подтверждена", contact="@olga")
    store.save(address, ConversationState(), NOW, [(lead, False)])
    store.set_status("AAAA2222", "не дозвонились", "admin", NOW)
    assert [x.id for x in store.conversation_leads(address.key)] == ["AAAA2222"]
    [forgotten] = store.save(address, store.load(address), NOW, forget=["AAAA2222", "NOPE0000"])
    assert (forgotten.name, forgotten.phone, forgotten.contact) == ("", "", "")
    assert forgotten.status == "не дозвонились"  # the administrators' status stays
    assert store.lead("AAAA2222") == (forgotten, address.key)
    items = store.outbox.due("csv", "9999")
    assert [item.op for item in items] == ["append", "status", "upsert"]
    assert [item.lead.status for item in items] == ["не подтверждена", "не дозвонились", "не дозвонились"]
    assert all(item.lead.phone == "" and item.lead.name == "" for item in items)
    assert store.save(address, store.load(address), NOW, forget=["AAAA2222"]) == []  # nothing twice
    assert len(store.outbox.due("csv", "9999")) == 3
