"""Background jobs run one after another per key (a patient's messages in the order they came), keys in
parallel; what the WhatsApp and MAX channels hand their accepted messages to."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import Awaitable, Callable

__all__ = ["InOrder"]

log = logging.getLogger(__name__)


class InOrder:
    """Jobs chained per key; `label` names the channel in the log line of a job that failed."""

    def __init__(self, label: str) -> None:
        self.label = label
        self._tasks: set[asyncio.Task[None]] = set()
        self._tails: dict[str, asyncio.Task[None]] = {}

    def schedule(self, key: str, job: Callable[[], Awaitable[None]]) -> None:
        """Run `job` once every earlier job of `key` is done."""
        previous = self._tails.get(key)
        task = asyncio.get_running_loop().create_task(self._run_after(previous, job))
        self._tails[key] = task
        self._tasks.add(task)
        task.add_done_callback(functools.partial(self._done, key))

    @staticmethod
    async def _run_after(previous: asyncio.Task[None] | None, job: Callable[[], Awaitable[None]]) -> None:
        if previous is not None and not previous.done():
            await asyncio.wait([previous])
        await job()

    def _done(self, key: str, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if self._tails.get(key) is task:
            del self._tails[key]
        if not task.cancelled() and task.exception() is not None:
            log.error("%s: сбой фоновой задачи", self.label, exc_info=task.exception())

    @property
    def pending(self) -> int:
        return len(self._tasks)

    async def drain(self) -> None:
        """Until every scheduled job is done (tests, shutdown)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def cancel(self) -> None:
        """Cancel the jobs in hand and wait for them to end (a stop that could not wait any longer)."""
        for task in list(self._tasks):
            task.cancel()
        with contextlib.suppress(Exception):
            await asyncio.gather(*list(self._tasks), return_exceptions=True)
