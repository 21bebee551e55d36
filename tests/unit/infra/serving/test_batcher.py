"""The micro-batcher (infra/serving/batcher.py): concurrent requests share model calls."""
import asyncio

import numpy as np
import pytest

from tfxkit.infra.serving.batcher import MicroBatcher
from tfxkit.infra.serving.errors import ModelError


def test_concurrent_requests_share_model_calls():
    seen = []

    def fn(items):
        seen.append(len(items))
        return {"double": np.array([[2 * x] for x in items])}

    async def main():
        b = MicroBatcher(fn, max_batch_size=64, max_wait_ms=20)
        outs = await asyncio.gather(*[b.submit([i, i + 1000]) for i in range(100)])
        await b.close()
        return b, outs

    b, outs = asyncio.run(main())
    for i, o in enumerate(outs):  # each request gets its own rows back, in order
        assert o["double"].tolist() == [[2 * i], [2 * (i + 1000)]]
    assert sum(seen) == 200 and max(seen) <= 64
    assert b.calls == len(seen) and b.calls <= 5  # 200 items at 64 a call: 4 calls
    assert b.stats()["mean_batch"] >= 40


def test_a_lone_request_waits_at_most_max_wait():
    """The batch closes on max_wait, not on a full batch. The lower bound is exact (the
    loop's timer); the upper one only tells "closed on its own" from "waited for more
    requests" (a busy machine can delay the model thread by far more than max_wait)."""
    async def main():
        b = MicroBatcher(lambda items: {"x": np.array(items)}, 256, max_wait_ms=30)
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        out = await asyncio.wait_for(b.submit([1]), 30)
        dt = loop.time() - t0
        await b.close()
        return dt, out, b

    dt, out, b = asyncio.run(main())
    assert 0.03 <= dt < 30 and out["x"].tolist() == [1]
    assert b.calls == 1 and list(b.batch_sizes) == [1]


def test_requests_arriving_during_a_call_form_the_next_batch():
    import threading

    running, gate = threading.Event(), threading.Event()
    seen = []

    def fn(items):
        seen.append(list(items))
        if len(seen) == 1:
            running.set()
            assert gate.wait(60)
        return {"x": np.array(items)}

    async def main():
        b = MicroBatcher(fn, 256, max_wait_ms=0)
        first = asyncio.ensure_future(b.submit(["a"]))
        assert await asyncio.to_thread(running.wait, 60)  # the first call is running
        rest = [asyncio.ensure_future(b.submit([f"r{i}"])) for i in range(20)]
        await asyncio.sleep(0)  # they are queued
        gate.set()
        await asyncio.gather(first, *rest)
        await b.close()

    asyncio.run(main())
    assert seen[0] == ["a"] and len(seen) == 2 and len(seen[1]) == 20


def test_a_failing_batch_fails_its_requests_only():
    def fn(items):
        if "bad" in items:
            raise RuntimeError("boom")
        return {"x": np.array(items)}

    async def main():
        b = MicroBatcher(fn, 256, max_wait_ms=5)
        r = await asyncio.gather(b.submit(["bad"]), b.submit(["ok"]), return_exceptions=True)
        ok = await b.submit(["fine"])
        await b.close()
        with pytest.raises(ModelError, match="no longer loaded"):
            await b.submit(["late"])
        return r, ok

    r, ok = asyncio.run(main())
    assert all(isinstance(x, ModelError) and "boom" in str(x) for x in r)
    assert ok["x"].tolist() == ["fine"]
