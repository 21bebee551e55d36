"""Micro-batching: the instances of requests that arrive together share one model call."""
from __future__ import annotations

import asyncio
import collections
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable, Dict, List, Optional

import numpy as np

from tfxkit.infra.serving.errors import ModelError


# -- micro-batching ---------------------------------------------------------------------

class _Pending:
    __slots__ = ("items", "future", "at")

    def __init__(self, items, future, at):
        self.items, self.future, self.at = items, future, at


class MicroBatcher:
    """Gathers the items of requests that arrive together into one call of ``fn``
    (blocking: ``fn(list_of_items) -> {output: array with one row per item}``, run in a
    thread of its own, one call at a time), then hands each request its rows.

    A batch closes at ``max_batch_size`` items or ``max_wait_ms`` after its oldest
    request arrived, whichever comes first; requests that arrive during a call are the
    next batch. ``calls``, ``items`` and ``batch_sizes`` count what happened."""

    def __init__(self, fn: Callable[[List[Any]], Dict[str, np.ndarray]],
                 max_batch_size: int = 256, max_wait_ms: float = 2.0, name: str = "model"):
        if max_batch_size < 1:
            raise ValueError("max_batch_size must be at least 1")
        self.fn, self.max_batch_size, self.max_wait = fn, max_batch_size, max_wait_ms / 1000.0
        self.name = name
        self.calls = self.items = 0
        self.batch_sizes: collections.deque = collections.deque(maxlen=10_000)
        self._buf: collections.deque = collections.deque()
        self._count = 0
        self._wake: Optional[asyncio.Event] = None
        self._full: Optional[asyncio.Event] = None
        self._task: Optional[asyncio.Task] = None
        self._pool = ThreadPoolExecutor(1, thread_name_prefix=f"tfxkit-batch-{name}")
        self._closed = False
        self._inflight: List[_Pending] = []
        # called with each call's batch size (e.g. a /metrics histogram); must not raise
        self.on_batch: Optional[Callable[[int], None]] = None

    @property
    def queued(self) -> int:
        """Items waiting for a model call (not counting the call running)."""
        return self._count

    def _start(self):
        if self._task is None:
            self._wake, self._full = asyncio.Event(), asyncio.Event()
            self._task = asyncio.get_running_loop().create_task(self._run())

    async def submit(self, items: List[Any]) -> Dict[str, np.ndarray]:
        """The rows of ``fn``'s outputs for ``items`` (in order)."""
        if self._closed:
            raise ModelError(f"model {self.name} is no longer loaded")
        self._start()
        loop = asyncio.get_running_loop()
        fut = loop.create_future()
        self._buf.append(_Pending(list(items), fut, loop.time()))
        self._count += len(items)
        self._wake.set()
        if self._count >= self.max_batch_size:
            self._full.set()
        return await fut

    def _take(self) -> List[_Pending]:
        batch, n = [], 0
        while self._buf:
            nxt = self._buf[0]
            if batch and n + len(nxt.items) > self.max_batch_size:
                break
            self._buf.popleft()
            batch.append(nxt)
            n += len(nxt.items)
            self._count -= len(nxt.items)
        if self._count < self.max_batch_size:
            self._full.clear()
        return batch

    async def _run(self):
        loop = asyncio.get_running_loop()
        while True:
            while not self._buf:
                if self._closed:
                    return  # drained
                self._wake.clear()
                await self._wake.wait()
            wait = self._buf[0].at + self.max_wait - loop.time()
            if wait > 0 and self._count < self.max_batch_size:
                try:
                    await asyncio.wait_for(self._full.wait(), wait)
                except asyncio.TimeoutError:
                    pass
            batch = self._take()
            live = [p for p in batch if not p.future.cancelled()]
            if not live:
                continue
            items = [x for p in live for x in p.items]
            self._inflight = live
            self.calls += 1
            self.items += len(items)
            self.batch_sizes.append(len(items))
            if self.on_batch is not None:
                self.on_batch(len(items))
            try:
                outputs = await loop.run_in_executor(self._pool, self.fn, items)
            except Exception as e:  # pylint: disable=broad-except
                for p in live:
                    if not p.future.done():
                        p.future.set_exception(ModelError(f"model {self.name}: "
                                                          f"{type(e).__name__}: {e}"))
                continue
            start = 0
            for p in live:
                end = start + len(p.items)
                if not p.future.done():
                    p.future.set_result({k: v[start:end] for k, v in outputs.items()})
                start = end

    async def close(self, drain_s: float = 30.0):
        """Stops taking requests; what is queued or running still gets its answer
        (for up to ``drain_s``), then the rest fails."""
        self._closed = True
        if self._task is not None:
            self._wake.set()
            self._full.set()
            try:
                await asyncio.wait_for(asyncio.shield(self._task), drain_s)
            except (asyncio.TimeoutError, asyncio.CancelledError, Exception):  # pylint: disable=broad-except
                self._task.cancel()
        for p in list(self._buf) + list(self._inflight):
            if not p.future.done():
                p.future.set_exception(ModelError(f"model {self.name} was unloaded"))
        self._buf.clear()
        self._pool.shutdown(wait=False)

    def stats(self) -> Dict[str, Any]:
        sizes = list(self.batch_sizes)
        return {"calls": self.calls, "items": self.items,
                "mean_batch": round(self.items / self.calls, 2) if self.calls else None,
                "max_batch": max(sizes) if sizes else None}
