"""`run` gets uvloop where it is installed, and the standard loop otherwise."""

from __future__ import annotations

import asyncio
import importlib.util

import pytest

from bot import event_loop


async def _which_loop() -> str:
    await asyncio.sleep(0)
    return type(asyncio.get_running_loop()).__module__


def test_runs_on_uvloop_when_installed() -> None:
    module = event_loop.run(_which_loop())
    if importlib.util.find_spec("uvloop") is None:
        assert event_loop.loop_name() == "asyncio" and module.startswith("asyncio")
    else:
        assert event_loop.loop_name() == "uvloop" and module.startswith("uvloop")


def test_falls_back_to_asyncio_without_uvloop(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(event_loop, "_factory", lambda: None)
    assert event_loop.loop_name() == "asyncio"
    assert event_loop.run(_which_loop()).startswith("asyncio")
