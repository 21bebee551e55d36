"""The online service's CPU threads (infra/serving/cpu_pool.py)."""
import asyncio
import threading

from tfxkit.infra.serving import cpu_pool
from tfxkit.infra.serving.cpu_pool import CpuPool


def test_calls_run_in_its_threads_which_start_again_after_shutdown():
    pool = CpuPool(2)

    async def main():
        assert (await pool.call(lambda: threading.current_thread().name)).startswith(
            "tfxkit-cpu")
        pool.shutdown()
        assert await pool.call(lambda a, b: a + b, 1, 2) == 3
        pool.shutdown()

    asyncio.run(main())


def test_release_memory_trims_at_most_once_per_interval(monkeypatch):
    trims = []

    class Libc:
        def malloc_trim(self, pad):
            trims.append(pad)

    monkeypatch.setattr("ctypes.CDLL", lambda name: Libc())
    monkeypatch.setattr(cpu_pool, "_last_trim", [float("-inf")])  # never trimmed
    cpu_pool.release_memory(min_interval_s=3600)
    cpu_pool.release_memory(min_interval_s=3600)
    assert trims == [0]
    cpu_pool.release_memory(min_interval_s=0)
    assert trims == [0, 0]

    pool = CpuPool(1)
    pool.release_memory()  # never started: nothing to run it on, nothing started
    assert pool._pool is None
