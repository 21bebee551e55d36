"""Prediction-store calls off the event loop, bounded, with a circuit breaker."""
import asyncio
import collections
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, Optional


class StoreUnavailableNow(Exception):
    """A store call refused or abandoned by the gate (a 503 with this message)."""


class _Timeout(Exception):
    pass


class _Tripped(Exception):
    pass


class StoreGate:
    """Prediction-store calls off the event loop: ``threads`` threads, each with its own
    store connection (``open_store()``), at most ``max(256, 16 * threads)`` calls
    waiting for one (more: 503 at once).
    A call waits at most the store's timeout (``timeout_s``, plus a little: the store's
    own error comes first when it has one). A call that timed out, or failed only after
    half of it, opens the breaker: for ``breaker_s`` every call is answered at once (and
    the ones waiting too), then one probe call goes through; the others are answered at
    once until it comes back. A quick failure (connection refused) does not open it: it
    costs nothing to try again."""

    def __init__(self, open_store: Callable, threads: int = 8, timeout_s: float = 5.0,
                 breaker_s: float = 2.0):
        self.open_store, self.threads = open_store, threads
        self.timeout_s, self.breaker_s = timeout_s, breaker_s
        self.max_queue = max(256, 16 * threads)
        self._pool = ThreadPoolExecutor(threads, thread_name_prefix="tfxkit-store")
        self._local = threading.local()
        self._free = threads
        self._queue: collections.deque = collections.deque()  # futures waiting for a thread
        self._waiters: set = set()  # futures of callers, failed at once when it trips
        self.open_until = 0.0
        self.last_error: Optional[str] = None
        self._probing = False
        self.trips = 0

    # in a pool thread
    def _run(self, method: str, args):
        from tfxkit.components.prediction_store.store import StoreError

        t0 = time.monotonic()
        try:
            s = getattr(self._local, "store", None)
            if s is None:
                s = self._local.store = self.open_store()
            if callable(method):
                return method(s, *args)
            return getattr(s, method)(*args)
        except StoreError as e:
            self._local.store = None
            e.elapsed = time.monotonic() - t0
            raise

    def _check(self, now: float):
        if now < self.open_until:
            raise StoreUnavailableNow(
                f"prediction store unavailable: {self.last_error} (calls are answered at "
                f"once for {self.open_until - now:.1f} s more: serving.store_breaker_s)")
        if self._probing:
            raise StoreUnavailableNow(f"prediction store unavailable: {self.last_error} "
                                      "(a probe call is on its way)")

    def _trip(self, loop, error: str):
        if loop.time() >= self.open_until:  # not already open (calls time out together)
            self.trips += 1
            self.last_error = error
            self.open_until = loop.time() + self.breaker_s
        for w in list(self._waiters) + list(self._queue):
            if not w.done():
                w.set_exception(_Tripped())
        self._queue.clear()

    def _release(self, _fut=None):
        while self._queue:
            w = self._queue.popleft()
            if not w.done():
                w.set_result(None)  # the thread passes to it
                return
        self._free += 1

    async def call(self, method, *args):
        """``store.method(*args)`` (or ``method(store, *args)``) in a pool thread; raises
        StoreUnavailableNow or the store's StoreError."""
        from tfxkit.components.prediction_store.store import StoreError

        loop = asyncio.get_running_loop()
        now = loop.time()
        was_open = self.open_until > 0
        self._check(now)
        probe = was_open and now >= self.open_until
        deadline = now + self.timeout_s + 0.25
        if probe:
            self._probing = True
        try:
            if self._free > 0:
                self._free -= 1
            else:
                if len(self._queue) >= self.max_queue:
                    raise StoreUnavailableNow(
                        f"prediction store busy: {len(self._queue)} calls waiting for its "
                        f"{self.threads} threads (serving.store_threads)")
                slot = loop.create_future()
                self._queue.append(slot)
                await self._wait(loop, slot, deadline, queued=True)
            fut = loop.run_in_executor(self._pool, self._run, method, args)
            fut.add_done_callback(self._release)
            done = loop.create_future()
            fut.add_done_callback(lambda _f: done.done() or done.set_result(None))
            await self._wait(loop, done, deadline, queued=False)
            try:
                out = fut.result()
            except StoreError as e:
                if getattr(e, "elapsed", 0.0) >= self.timeout_s / 2:
                    self._trip(loop, str(e))
                raise
            return out
        finally:
            if probe:
                self._probing = False
                if self.open_until <= loop.time():  # it did not trip again
                    self.open_until = 0.0

    async def _wait(self, loop, fut, deadline: float, queued: bool):
        timer = loop.call_later(max(0.0, deadline - loop.time()),
                                lambda: fut.done() or fut.set_exception(_Timeout()))
        self._waiters.add(fut)
        try:
            await fut
        except _Timeout:
            what = "no free thread" if queued else "no answer"
            self._trip(loop, f"{what} in {self.timeout_s:g} s (the store's timeout)")
            raise StoreUnavailableNow(f"prediction store unavailable: {self.last_error}") \
                from None
        except _Tripped:
            raise StoreUnavailableNow(f"prediction store unavailable: {self.last_error}") \
                from None
        finally:
            timer.cancel()
            self._waiters.discard(fut)

    def close(self):
        self._pool.shutdown(wait=False)
