"""Pausing Python's cycle collector around work that makes many objects and no reference cycles."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def collector_paused(*, set_aside: bool = False) -> Iterator[None]:
    """Pause the cycle collector for the block; with `set_aside`, what is alive after it is set aside too.

    Mapping a chunk or storing a group of pages builds some hundred thousand small objects (documents, values,
    rows) without reference cycles, alive until the work is done: the collector, run every few hundred
    allocations, would walk them again and again and find nothing. Whatever cycles the block makes are collected
    once the collector runs again after it. `set_aside` moves every object alive at the end into a generation the
    collector skips (`gc.freeze()`, see `canalis.canonical.chunks.chunks_set_aside`); reference counting still
    frees them as usual.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            if set_aside:
                gc.freeze()
            gc.enable()
