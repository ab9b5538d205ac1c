"""Holds the current knowledge; reload keeps the last good copy when an edit is broken."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from bot.knowledge.loader import load_knowledge
from bot.knowledge.models import Doctor, Knowledge

log = logging.getLogger(__name__)


class KnowledgeProvider:
    def __init__(
        self, directory: Path, doctors_source: Callable[[], list[Doctor] | None] | None = None
    ) -> None:
        self.directory = directory
        self.doctors_source = doctors_source
        self._current = load_knowledge(directory, self._doctors())
        self.last_problems = self._current.problems

    def _doctors(self) -> list[Doctor] | None:
        if self.doctors_source is None:
            return None
        try:
            return self.doctors_source()
        except Exception:  # a sheet outage keeps the local list
            log.exception("не читается лист «Врачи»; бот работает с последним удачным списком")
            return list(self._current.doctors) if hasattr(self, "_current") else None

    def __call__(self) -> Knowledge:
        return self._current

    def reload(self) -> Knowledge:
        """Load again; when the new files have errors, keep serving the last good knowledge."""
        fresh = load_knowledge(self.directory, self._doctors())
        self.last_problems = fresh.problems
        if fresh.errors:
            for problem in fresh.errors:
                log.error("знания не обновлены: %s", problem)
            return self._current
        self._current = fresh
        return fresh
