"""A channel message whose turn was committed is never decided twice: its receipt is stored with the turn,
and a replay after a crash gets the replies that turn gave."""

from __future__ import annotations

from bot.bootstrap import App
from bot.clock import FakeClock
from bot.dialogue.messages import Incoming
from bot.storage.state_store import PRUNE_EVERY, RECEIPTS_KEPT
from tests.unit.test_dialogue import PATIENT, joined, say


async def test_a_replayed_message_gets_the_replies_of_its_turn_and_changes_nothing(app: App) -> None:
    for text in ("Хочу к лору", "да", "Пётр", "+7 912 345-67-00", "до обеда", "повторно"):
        await say(app, text)
    confirm = Incoming(text="да, верно", receipts=("telegram:1:501",))
    first = await app.service.handle(PATIENT, confirm)
    revision = app.store.load(PATIENT).revision
    again = await app.service.handle(PATIENT, confirm)
    assert again == first
    assert app.store.load(PATIENT).revision == revision  # the dialogue did not run on it again
    assert len(app.store.leads()) == 1
    # decided a second time, on the state the first one left, it would answer otherwise
    assert joined(await say(app, "да, верно")) != joined(first)


async def test_merged_messages_are_answered_once_per_turn(app: App) -> None:
    merged = Incoming(text="Здравствуйте\nхочу к лору", receipts=("telegram:1:10", "telegram:1:11"))
    replies = await app.service.handle(PATIENT, merged)
    found = app.service.answered(["telegram:1:11", "telegram:1:12", "telegram:1:10"])
    assert found.receipts == {"telegram:1:10", "telegram:1:11"}
    assert list(found.replies) == replies  # the turn's replies once, not once per message
    assert not app.service.answered(["telegram:1:12"]).receipts


async def test_a_message_relayed_to_the_administrators_is_not_relayed_twice(app: App) -> None:
    await say(app, "Позовите администратора")
    relayed = Incoming(text="Спасибо, жду", receipts=("telegram:1:77",))
    first = await app.service.handle(PATIENT, relayed)  # only when to expect the administrator
    assert [r.text for r in first] == [app.texts.get("handoff_waiting_open", phone="+7 (846) 200-30-40")]
    assert app.service.answered(["telegram:1:77"]).receipts == {"telegram:1:77"}
    history = app.store.load(PATIENT).history
    assert await app.service.handle(PATIENT, relayed) == first
    assert app.store.load(PATIENT).history == history


async def test_old_receipts_are_pruned(app: App, clock: FakeClock) -> None:
    await app.service.handle(PATIENT, Incoming(text="Здравствуйте", receipts=("telegram:1:1",)))
    clock.advance(RECEIPTS_KEPT * 2)
    for n in range(2, PRUNE_EVERY + 3):
        await app.service.handle(PATIENT, Incoming(text="Где вы находитесь?", receipts=(f"telegram:1:{n}",)))
    assert not app.service.answered(["telegram:1:1"]).receipts
    assert app.service.answered([f"telegram:1:{PRUNE_EVERY + 2}"]).receipts
