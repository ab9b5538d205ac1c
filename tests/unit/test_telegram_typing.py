""" "typing…" appears only when an answer takes a while, and stops with the answer."""

from __future__ import annotations

import asyncio

from bot.channels.telegram.channel import _Typing


async def test_a_quick_answer_shows_no_typing() -> None:
    shown: list[float] = []

    async def keep_typing() -> None:
        shown.append(asyncio.get_running_loop().time())

    typing = _Typing(keep_typing, after=0.05)
    await asyncio.sleep(0.01)
    typing.stop()
    await asyncio.sleep(0.08)
    assert shown == []


async def test_a_slow_answer_shows_typing_until_it_is_ready() -> None:
    shown = 0
    stopped = asyncio.Event()

    async def keep_typing() -> None:
        nonlocal shown
        try:
            while True:
                shown += 1
                await asyncio.sleep(0.02)
        finally:
            stopped.set()

    typing = _Typing(keep_typing, after=0.03)
    await asyncio.sleep(0.1)
    assert shown >= 2
    typing.stop()
    await asyncio.wait_for(stopped.wait(), 1)
    seen = shown
    await asyncio.sleep(0.05)
    assert shown == seen
