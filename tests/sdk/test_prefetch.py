"""Reading ahead in a background thread: order, errors, early stop and the bound on pages held."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from canalis.sdk.prefetch import Prefetched


def test_items_arrive_in_order_and_the_iterator_ends() -> None:
    assert list(Prefetched(iter(range(50)), depth=3)) == list(range(50))


def test_an_error_reaches_the_caller_after_the_items_before_it() -> None:
    def pages() -> Iterator[int]:
        yield 1
        yield 2
        raise RuntimeError("HubSpot GET /crm/v3/objects/contacts: HTTP 500")

    seen: list[int] = []
    with pytest.raises(RuntimeError, match="HTTP 500"):
        for item in Prefetched(pages()):
            seen.append(item)
    assert seen == [1, 2]


def test_no_more_than_depth_items_are_read_ahead() -> None:
    produced: list[int] = []
    gate = threading.Event()

    def pages() -> Iterator[int]:
        for number in range(100):
            produced.append(number)
            yield number

    reader = Prefetched(pages(), depth=2)
    first = next(reader)
    gate.wait(0.3)  # let the reader run as far as it may
    # one handed out, two waiting in the queue, one produced and blocked on the full queue
    assert first == 0
    assert len(produced) <= 4
    reader.close()


def test_stopping_early_closes_the_source() -> None:
    closed = threading.Event()

    def pages() -> Iterator[int]:
        try:
            yield from range(1000)
        finally:
            closed.set()

    with Prefetched(pages(), depth=1) as reader:
        assert next(reader) == 0
    assert closed.wait(2)
    assert list(reader) == []


def test_depth_must_be_positive() -> None:
    with pytest.raises(ValueError, match="depth"):
        Prefetched(iter([]), depth=0)


def test_ready_hands_out_what_is_waiting_and_keeps_the_end_for_next() -> None:
    reader = Prefetched(iter(range(5)), depth=8)
    first = next(reader)
    waiting: list[int] = []
    for _ in range(100):  # the reader thread fills the queue quickly; collect what is ready
        waiting += reader.ready(8)
        if len(waiting) == 4:
            break
        threading.Event().wait(0.01)
    assert [first, *waiting] == [0, 1, 2, 3, 4]
    assert reader.ready(8) == []
    with pytest.raises(StopIteration):
        next(reader)


def test_an_error_met_by_ready_is_raised_by_the_next_next() -> None:
    def pages() -> Iterator[int]:
        yield 1
        raise RuntimeError("boom")

    reader = Prefetched(pages(), depth=4)
    assert next(reader) == 1
    threading.Event().wait(0.2)
    assert reader.ready(4) == []
    with pytest.raises(RuntimeError, match="boom"):
        next(reader)


def test_a_source_that_fails_to_start_reaches_the_caller() -> None:
    class Broken:
        def __iter__(self) -> Iterator[int]:
            raise RuntimeError("no pages today")

    with pytest.raises(RuntimeError, match="no pages today"), Prefetched(Broken()) as reader:
        next(reader)


def test_ready_can_wait_for_an_item_that_is_on_its_way() -> None:
    release = threading.Event()

    def pages() -> Iterator[int]:
        yield 1
        release.wait(5)
        yield 2

    reader = Prefetched(pages(), depth=4)
    assert next(reader) == 1
    assert reader.ready(4) == []  # not read yet, and no waiting asked for
    threading.Timer(0.05, release.set).start()
    assert reader.ready(4, wait_seconds=5) == [2]
    with pytest.raises(StopIteration):
        next(reader)
