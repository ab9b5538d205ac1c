"""Hot reload: edits to KNOWLEDGE_DIR and PROMPTS_DIR take effect in the running service within seconds.

The folders' files are polled (modification time and size, every ~2 s: no inotify needed, works on any disk
and in containers). A change is reloaded once the files have stopped changing; a broken edit keeps the last
good knowledge or texts and says why, in the log and in the admin chat. Warnings (they do not stop the bot)
are announced once each. The doctors from the sheet «Врачи», when configured, are re-read every few minutes.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from bot import heap
from bot.errors import BotError
from bot.knowledge.models import Knowledge, Problem
from bot.prompts import load_texts, resolve_prompts_dir

if TYPE_CHECKING:
    from bot.bootstrap import App

__all__ = ["KnowledgeWatcher", "snapshot", "watch_knowledge"]

log = logging.getLogger(__name__)

Snapshot = dict[str, tuple[int, int]]
_IGNORED_PREFIXES = (".", "~", "#")
_IGNORED_SUFFIXES = ("~", ".swp", ".swx", ".tmp", ".bak", ".part")


def snapshot(folder: Path | None) -> Snapshot:
    """Path -> (mtime_ns, size) of the folder's files (not editors' temporary files)."""
    if folder is None or not folder.is_dir():
        return {}
    found: Snapshot = {}
    for path in sorted(folder.rglob("*")):
        name = path.name
        if (
            name.startswith(_IGNORED_PREFIXES)
            or name.endswith(_IGNORED_SUFFIXES)
            or "__pycache__" in path.parts
        ):
            continue
        try:
            stat = path.stat()
        except OSError:  # deleted between listing and stat
            continue
        if path.is_file():
            found[str(path)] = (stat.st_mtime_ns, stat.st_size)
    return found


def _prompts_folder(configured: Path) -> Path | None:
    try:
        return resolve_prompts_dir(configured)
    except BotError:
        return None


@dataclass
class KnowledgeWatcher:
    """One poll at a time: compare the folders with the last look, reload what changed, tell people."""

    app: App
    settle: float = 0.3  # seconds the files must stay unchanged before they are read
    sheet_interval: float = 300.0  # re-read the doctors of the sheet this often (0: never)
    monotonic: Callable[[], float] = time.monotonic
    announce: bool = True  # tell the administrators (False: a Telegram worker; the front tells them)
    announced: set[str] = field(default_factory=set)
    reloads: int = 0
    failures: int = 0

    def __post_init__(self) -> None:
        self.knowledge_dir = self.app.settings.knowledge_dir
        self.prompts_dir = _prompts_folder(self.app.settings.prompts_dir)
        self._knowledge_seen = snapshot(self.knowledge_dir)
        self._prompts_seen = snapshot(self.prompts_dir)
        self._sheet_read_at = self.monotonic()

    async def start(self) -> None:
        """Announce the problems of the knowledge the service started with (once each)."""
        await self._announce(self.app.knowledge.last_problems)

    async def poll(self) -> bool:
        """Reload what changed since the last poll; True when something was reloaded."""
        changed = False
        fresh = snapshot(self.knowledge_dir)
        sheet_due = (
            self.sheet_interval > 0
            and self.app.knowledge.doctors_source is not None
            and self.monotonic() - self._sheet_read_at >= self.sheet_interval
        )
        if fresh != self._knowledge_seen or sheet_due:
            settled = await self._settled(self.knowledge_dir, fresh)
            if settled is not None:
                self._knowledge_seen = settled
                self._sheet_read_at = self.monotonic()
                await self.reload_knowledge()
                changed = True
        fresh_prompts = snapshot(self.prompts_dir)
        if fresh_prompts != self._prompts_seen:
            settled_prompts = await self._settled(self.prompts_dir, fresh_prompts)
            if settled_prompts is not None:
                self._prompts_seen = settled_prompts
                await self.reload_prompts()
                changed = True
        return changed

    async def _settled(self, folder: Path | None, seen: Snapshot) -> Snapshot | None:
        """The snapshot once an editor has finished writing; None when it is still changing."""
        if self.settle > 0:
            await asyncio.sleep(self.settle)
        again = snapshot(folder)
        return again if again == seen else None

    async def reload_knowledge(self) -> Knowledge:
        provider = self.app.knowledge
        before = provider()
        # The sheet «Врачи» may be read here: off the event loop.
        current = await asyncio.to_thread(provider.reload)
        errors = [p for p in provider.last_problems if p.level == "error"]
        if errors:
            self.failures += 1
            lines = "\n".join(f"• {p}" for p in errors)
            text = f"Знания не обновлены: в файлах ошибки, бот работает на прежней версии.\n{lines}"
            log.error("знания не обновлены, бот работает с прежней версией: %s", "; ".join(map(str, errors)))
            await self._warn(text)
        elif current is not before:
            self.reloads += 1
            await asyncio.to_thread(self.app.warm_up)
            heap.resettle()  # the previous version's indexes can go now
            log.info(
                "знания обновлены из %s: вопросов %d, врачей %d",
                self.knowledge_dir,
                len(current.faq),
                len(current.doctors),
            )
        if not errors:
            # Warnings of a refused version are not about the running knowledge: told once it loads.
            await self._announce(provider.last_problems)
        return current

    async def reload_prompts(self) -> bool:
        try:
            texts = await asyncio.to_thread(load_texts, self.app.settings.prompts_dir)
        except BotError as exc:
            self.failures += 1
            log.error("тексты бота не обновлены, остаются прежние: %s", exc)
            await self._warn(f"Тексты бота не обновлены: {exc}. Бот говорит прежними текстами.")
            return False
        self.app.texts = texts
        self.app.core.texts = texts
        reload_engine = getattr(self.app.engine, "reload_prompts", None)
        if callable(reload_engine):
            try:
                await _maybe_await(reload_engine())
            except BotError as exc:
                self.failures += 1
                log.error("промпт LLM не обновлён: %s", exc)
                await self._warn(f"Промпт LLM не обновлён: {exc}")
                return False
        self.reloads += 1
        log.info("тексты бота обновлены из %s: текстов %d", self.prompts_dir, len(texts.templates))
        return True

    async def _announce(self, problems: tuple[Problem, ...]) -> None:
        """Warnings in the log and the admin chat, each once (a fixed one may be announced again later)."""
        keys = {str(p) for p in problems}
        self.announced &= keys
        new = [p for p in problems if str(p) not in self.announced]
        if not new:
            return
        self.announced |= {str(p) for p in new}
        for problem in new:
            (log.error if problem.level == "error" else log.warning)("знания: %s", problem)
        lines = "\n".join(f"• {p}" for p in new)
        await self._warn(f"Замечания к файлам знаний (бот работает):\n{lines}")

    async def _warn(self, text: str) -> None:
        if not self.announce:
            log.info("чата администраторов нет, сообщение только здесь: %s", text)
            return
        try:
            await self.app.notifier.warn(text)
        except Exception:  # the notifier's contract is not to raise; a broken one must not stop reloads
            log.exception("не удалось сообщить администраторам: %s", text)


async def _maybe_await(value: object) -> None:
    if isinstance(value, Awaitable):
        await value


async def watch_knowledge(app: App, interval: float = 2.0, *, announce: bool = True) -> None:
    """Forever: poll KNOWLEDGE_DIR and PROMPTS_DIR every `interval` seconds (the run command starts it)."""
    watcher = KnowledgeWatcher(app, announce=announce)
    await watcher.start()
    while True:
        await asyncio.sleep(interval)
        try:
            await watcher.poll()
        except Exception:  # a surprise in one poll must not end hot reload for the rest of the day
            log.exception("проверка файлов знаний не удалась; повтор через %.0f с", interval)
