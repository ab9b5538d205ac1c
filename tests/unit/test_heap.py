"""The collector settings of `run`: long-lived objects frozen once started, young collections less often."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest

from bot import heap


@pytest.fixture
def restore_gc() -> Iterator[None]:
    """A clean collector for the test (an in-process `serve()` in an earlier test settles the heap too)."""
    threshold = gc.get_threshold()
    gc.unfreeze()
    heap._settled = False
    yield
    gc.unfreeze()
    gc.set_threshold(*threshold)
    heap._settled = False


def test_settle_freezes_what_lives_now_and_resettle_only_after_it(restore_gc: None) -> None:
    heap.resettle()  # tests and `chat` never settled: nothing is frozen
    assert gc.get_freeze_count() == 0
    heap.settle()
    frozen = gc.get_freeze_count()
    assert frozen > 1000
    cycle = _Node()
    cycle.other = cycle  # garbage only the collector can free (a replaced knowledge version may hold such)
    gone = weakref.ref(cycle)
    del cycle
    heap.resettle()
    assert gone() is None
    assert gc.get_freeze_count() > frozen // 2  # frozen again (a few objects may have gone meanwhile)


class _Node:
    other: object = None


def test_tune_keeps_the_older_generations_and_raises_the_young_threshold(restore_gc: None) -> None:
    gc.set_threshold(700, 10, 10)
    heap.tune()
    assert gc.get_threshold() == (heap.YOUNG_THRESHOLD, 10, 10)
