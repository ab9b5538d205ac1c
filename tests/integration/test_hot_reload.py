"""Hot reload: an FAQ edit is answered by the running service; a broken edit keeps the last good copy."""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.bootstrap import App, build_app
from bot.clock import FakeClock
from bot.config import Settings
from bot.dialogue.messages import Address, Incoming
from bot.knowledge.models import Doctor
from bot.knowledge.watch import KnowledgeWatcher, snapshot, watch_knowledge
from bot.notify import LogNotifier

ROOT = Path(__file__).resolve().parents[2]
QUESTION = "## Можно ли прийти с собакой?\n"
ANSWER = "С собаками, к сожалению, нельзя, кроме собак-поводырей. Питомца можно оставить у входа."


def touch(path: Path, text: str | bytes) -> None:
    """Write and move the modification time forward (coarse file-system clocks must see a change)."""
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 2_000_000_000))


@pytest.fixture
def hot_app(settings: Settings, tmp_path: Path, clock: FakeClock) -> Iterator[App]:
    knowledge, prompts = tmp_path / "knowledge", tmp_path / "prompts"
    shutil.copytree(ROOT / "knowledge", knowledge)
    shutil.copytree(ROOT / "prompts", prompts)
    local = settings.model_copy(update={"knowledge_dir": knowledge, "prompts_dir": prompts})
    application = build_app(local, clock=clock, notifier=LogNotifier())
    yield application
    application.close()


def warnings(app: App) -> list[str]:
    assert isinstance(app.notifier, LogNotifier)
    return app.notifier.sent


async def ask(app: App, text: str, user: str = "p1") -> str:
    replies = await app.service.handle(Address("console", user, user), Incoming(text=text))
    return "\n".join(r.text for r in replies)


async def test_an_faq_edit_is_answered_without_a_restart(hot_app: App) -> None:
    watcher = KnowledgeWatcher(hot_app, settle=0)
    faq = hot_app.settings.knowledge_dir / "faq.md"
    assert ANSWER not in await ask(hot_app, "Можно ли прийти с собакой?")
    assert await watcher.poll() is False  # nothing changed yet

    touch(faq, faq.read_text(encoding="utf-8") + f"\n{QUESTION}{ANSWER}\n")
    assert await watcher.poll() is True
    assert any(e.question == QUESTION[3:].strip() for e in hot_app.knowledge().faq)
    assert ANSWER in await ask(hot_app, "Можно ли прийти с собакой?", user="p2")
    assert watcher.reloads == 1 and watcher.failures == 0 and warnings(hot_app) == []


async def test_a_broken_edit_keeps_the_last_good_knowledge_and_says_why(hot_app: App) -> None:
    watcher = KnowledgeWatcher(hot_app, settle=0)
    faq = hot_app.settings.knowledge_dir / "faq.md"
    good = faq.read_text(encoding="utf-8")
    before = hot_app.knowledge()

    touch(faq, (good + f"\n{QUESTION}{ANSWER}\n").encode("cp1251"))
    await watcher.poll()
    assert hot_app.knowledge() is before  # still the last good copy
    [message] = warnings(hot_app)
    assert "Знания не обновлены" in message and "faq.md:" in message and "UTF-8" in message

    touch(faq, good + f"\n{QUESTION}{ANSWER}\n")  # the operator saves it again, as UTF-8
    await watcher.poll()
    assert hot_app.knowledge() is not before
    assert any(e.answer == ANSWER for e in hot_app.knowledge().faq)
    assert watcher.failures == 1 and watcher.reloads == 1


async def test_clinic_facts_without_a_phone_are_refused(hot_app: App) -> None:
    watcher = KnowledgeWatcher(hot_app, settle=0)
    clinic = hot_app.settings.knowledge_dir / "clinic.toml"
    text = clinic.read_text(encoding="utf-8")
    phone = hot_app.knowledge().clinic.phone
    touch(clinic, "\n".join(line for line in text.splitlines() if not line.startswith("phone")))
    await watcher.poll()
    assert hot_app.knowledge().clinic.phone == phone
    assert "clinic.toml" in warnings(hot_app)[0] and "нет строки `phone`" in warnings(hot_app)[0]


async def test_warnings_are_announced_once_and_the_edit_still_applies(hot_app: App) -> None:
    watcher = KnowledgeWatcher(hot_app, settle=0)
    await watcher.start()
    assert warnings(hot_app) == []  # the sample knowledge is clean
    faq = hot_app.settings.knowledge_dir / "faq.md"
    touch(faq, faq.read_text(encoding="utf-8") + "\n## Есть ли парковка?\nЕсть.\n## Вопрос без ответа?\n")
    await watcher.poll()
    [message] = warnings(hot_app)
    assert "Замечания к файлам знаний" in message
    assert "вопрос «Есть ли парковка?» уже есть в faq.md:" in message and "нет ответа" in message
    touch(faq, faq.read_text(encoding="utf-8") + "\n")  # another save with the same problems
    await watcher.poll()
    assert len(warnings(hot_app)) == 1
    assert watcher.reloads == 2


async def test_prompts_edit_and_broken_prompts(hot_app: App) -> None:
    watcher = KnowledgeWatcher(hot_app, settle=0)
    replies = hot_app.settings.prompts_dir / "replies.toml"
    text = replies.read_text(encoding="utf-8")
    start, end = text.index("greeting = ["), text.index("]\n", text.index("greeting = [")) + 2
    touch(replies, text[:start] + 'greeting = "Добрый день! Клиника {clinic} на связи."\n' + text[end:])
    assert await watcher.poll() is True
    assert hot_app.core.texts is hot_app.texts
    assert hot_app.texts.get("greeting", clinic="Здоровье") == "Добрый день! Клиника Здоровье на связи."
    assert "Клиника Клиника «Здоровье Самары» на связи" in await ask(hot_app, "Привет")

    touch(replies, text.replace("greeting = [", "greeting = [[", 1))
    await watcher.poll()
    assert hot_app.texts.get("greeting", clinic="Здоровье") == "Добрый день! Клиника Здоровье на связи."
    assert "Тексты бота не обновлены" in warnings(hot_app)[-1] and "replies.toml" in warnings(hot_app)[-1]


async def test_half_written_files_wait_for_the_editor(hot_app: App) -> None:
    watcher = KnowledgeWatcher(hot_app, settle=0.2)
    faq = hot_app.settings.knowledge_dir / "faq.md"

    async def keep_writing() -> None:
        for i in range(4):
            touch(faq, faq.read_text(encoding="utf-8") + f"\n## Вопрос {i}?\nОтвет {i}.\n")
            await asyncio.sleep(0.05)

    writer = asyncio.create_task(keep_writing())
    assert await watcher.poll() is False or writer.done()
    await writer
    assert await watcher.poll() is True
    assert {f"Вопрос {i}?" for i in range(4)} <= {e.question for e in hot_app.knowledge().faq}


async def test_doctors_from_the_sheet_are_read_again_every_few_minutes(hot_app: App) -> None:
    now = [0.0]
    reads: list[int] = []

    def sheet_doctors() -> list[Doctor]:
        reads.append(1)
        return [Doctor("Орлова Мария Петровна", "Кардиолог", ("давление",))]

    hot_app.knowledge.doctors_source = sheet_doctors
    watcher = KnowledgeWatcher(hot_app, settle=0, sheet_interval=300, monotonic=lambda: now[0])
    assert await watcher.poll() is False and reads == []
    now[0] = 301
    assert await watcher.poll() is True
    assert [d.full_name for d in hot_app.knowledge().doctors] == ["Орлова Мария Петровна"]
    assert await watcher.poll() is False and len(reads) == 1


async def test_the_forever_loop_picks_up_an_edit(hot_app: App) -> None:
    task = asyncio.create_task(watch_knowledge(hot_app, interval=0.05))
    try:
        faq = hot_app.settings.knowledge_dir / "faq.md"
        await asyncio.sleep(0.1)
        touch(faq, faq.read_text(encoding="utf-8") + f"\n{QUESTION}{ANSWER}\n")
        for _ in range(100):
            if any(e.answer == ANSWER for e in hot_app.knowledge().faq):
                break
            await asyncio.sleep(0.05)
        assert any(e.answer == ANSWER for e in hot_app.knowledge().faq)
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task


def test_snapshot_ignores_editor_temporary_files(tmp_path: Path) -> None:
    (tmp_path / "faq.md").write_text("x", encoding="utf-8")
    for name in (".faq.md.swp", "faq.md~", "#faq.md#", "faq.tmp"):
        (tmp_path / name).write_text("y", encoding="utf-8")
    assert list(snapshot(tmp_path)) == [str(tmp_path / "faq.md")]
    assert snapshot(tmp_path / "missing") == {} and snapshot(None) == {}
