"""Reading ahead: run a page iterator in a background thread so the next request is in flight while the caller
stores the current page.

At most `depth` pages wait in memory, so memory stays bounded however long the stream is. An exception raised
by the iterator reaches the caller at the point where the failing page would have arrived; when the caller
stops early (its own error, or `close()`), the reader is told to stop and its iterator is closed.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterable, Iterator
from typing import Generic, TypeVar

T = TypeVar("T")

_DONE = object()
_POLL_SECONDS = 0.2
JOIN_SECONDS = 10.0


class _Failure:
    __slots__ = ("error",)

    def __init__(self, error: BaseException) -> None:
        self.error = error


class Prefetched(Generic[T]):
    """An iterator over `source` whose items are produced by a background thread, `depth` at most ahead."""

    def __init__(self, source: Iterable[T], *, depth: int = 2, name: str = "canalis-prefetch") -> None:
        if depth < 1:
            raise ValueError("depth must be at least 1")
        self._source = source
        self._queue: queue.Queue[object] = queue.Queue(maxsize=depth)
        self._stop = threading.Event()
        self._finished = False
        self._held: object | None = None  # the end or an error met by ready(), handed out by the next next()
        self._thread = threading.Thread(target=self._produce, name=name, daemon=True)
        self._thread.start()

    def _produce(self) -> None:
        iterator: Iterator[T] | None = None
        try:
            iterator = iter(self._source)
            for item in iterator:
                if not self._put(item):
                    return
            self._put(_DONE)
        except BaseException as error:  # handed to the consumer, which re-raises it in its own thread
            self._put(_Failure(error))
        finally:
            close = getattr(iterator, "close", None)
            if close is not None:
                close()

    def _put(self, item: object) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=_POLL_SECONDS)
                return True
            except queue.Full:
                continue
        return False

    def __iter__(self) -> Iterator[T]:
        return self

    def __next__(self) -> T:
        if self._finished:
            raise StopIteration
        if self._held is not None:
            item, self._held = self._held, None
        else:
            item = self._queue.get()
        if item is _DONE:
            self._finish()
            raise StopIteration
        if isinstance(item, _Failure):
            self._finish()
            raise item.error
        return item  # type: ignore[return-value]

    def ready(self, limit: int, *, wait_seconds: float = 0.0) -> list[T]:
        """Up to `limit` items that are already read; the end or an error waits for `next()`.

        With `wait_seconds`, waits up to that long for the first item when none is ready yet.
        """
        items: list[T] = []
        while len(items) < limit and self._held is None and not self._finished:
            try:
                timeout = wait_seconds if wait_seconds > 0 and not items else None
                item = self._queue.get(timeout=timeout) if timeout else self._queue.get_nowait()
            except queue.Empty:
                break
            if item is _DONE or isinstance(item, _Failure):
                self._held = item
                break
            items.append(item)  # type: ignore[arg-type]
        return items

    def close(self) -> None:
        """Stop reading ahead and wait for the reader to let go of its iterator."""
        self._stop.set()
        self._finish()

    def _finish(self) -> None:
        self._finished = True
        self._stop.set()
        # the reader stops after its current call; a call stuck until its timeout is left to end on its own
        self._thread.join(timeout=JOIN_SECONDS)

    def __enter__(self) -> Prefetched[T]:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def prefetched(source: Iterable[T], depth: int) -> Iterator[T]:
    """`source` read ahead by up to `depth` items in a background thread; `depth` 0 reads in the caller's thread."""
    if depth <= 0:
        yield from source
        return
    with Prefetched(source, depth=depth) as items:
        yield from items
