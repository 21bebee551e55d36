"""The online service's CPU threads: parsing, encoding and answering big requests off the
event loop, and giving their freed heap back to the system afterwards."""
from __future__ import annotations

import asyncio
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Optional

_trim_lock = threading.Lock()
_last_trim = [0.0]


def release_memory(min_interval_s: float = 1.0) -> None:
    """Gives freed heap back to the system after a big request (glibc keeps it
    otherwise: RSS that never comes down). At most once per ``min_interval_s``."""
    with _trim_lock:
        now = time.monotonic()
        if now - _last_trim[0] < min_interval_s:
            return
        _last_trim[0] = now
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc
        pass


class CpuPool:
    """``threads`` worker threads, started on first use (again after ``shutdown``)."""

    def __init__(self, threads: int):
        self.threads = threads
        self._pool: Optional[ThreadPoolExecutor] = None

    def _executor(self) -> ThreadPoolExecutor:
        if self._pool is None or self._pool._shutdown:
            self._pool = ThreadPoolExecutor(self.threads, thread_name_prefix="tfxkit-cpu")
        return self._pool

    async def call(self, fn, *args):
        """``fn(*args)`` in a worker thread."""
        return await asyncio.get_running_loop().run_in_executor(self._executor(), fn, *args)

    def release_memory(self) -> None:
        """``release_memory`` in a worker thread, unless the pool is down."""
        if self._pool is not None and not self._pool._shutdown:
            self._pool.submit(release_memory)

    def shutdown(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False)
