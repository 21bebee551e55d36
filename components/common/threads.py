"""Small threading helpers the components share (plain Python, no TFX)."""
from __future__ import annotations

import queue
import threading
from typing import Iterable, Iterator, TypeVar

T = TypeVar("T")


def read_ahead(items: Iterable[T], depth: int, name: str = "tfxkit-read") -> Iterator[T]:
    """``items``, produced by a background thread at most ``depth`` ahead of the consumer,
    so producing (reading files, DuckDB fetches: work that releases the GIL) overlaps what
    the consumer does. An error in the producer is raised in the consumer; when the
    consumer stops early, the producer stops too and the thread is joined."""
    q: "queue.Queue" = queue.Queue(maxsize=depth)
    stop = threading.Event()
    done = object()

    def produce():
        try:
            for item in items:
                while not stop.is_set():
                    try:
                        q.put(item, timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            q.put(done)
        except BaseException as e:  # handed to the consumer, raised there
            q.put(e)

    t = threading.Thread(target=produce, name=name, daemon=True)
    t.start()
    try:
        while True:
            item = q.get()
            if item is done:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        t.join()
