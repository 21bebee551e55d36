"""The store gate (infra/serving/store_gate.py): a store's calls bounded by its timeout, a
breaker that answers at once while the store hangs."""
from tfxkit.components.prediction_store.store import StoreUnavailable


def test_store_gate_answers_a_hung_store_at_once_after_its_timeout():
    """Issue 13, fault 3, in-process: calls to a store that hangs wait at most its timeout,
    all together (not one after another); then the breaker answers at once; a probe
    after breaker_s closes it again. A store that fails fast does not open it."""
    import asyncio
    import threading
    import time

    from tfxkit.components.prediction_store.store import StoreError
    from tfxkit.infra.serving.store_gate import StoreGate, StoreUnavailableNow

    hang, fail = threading.Event(), {"now": False}
    release = threading.Event()

    class Store:
        description = "fake"

        def get(self, model, key):
            if fail["now"]:
                raise StoreUnavailable("fake: connection refused")
            if hang.is_set():
                release.wait(10)
            return {"key": key}

    async def main():
        gate = StoreGate(Store, threads=2, timeout_s=0.3, breaker_s=0.6)
        assert await gate.call("get", "m", "a") == {"key": "a"}
        fail["now"] = True
        for _ in range(3):  # fast failures: tried every time, no breaker
            try:
                await gate.call("get", "m", "a")
            except StoreError as e:
                assert "connection refused" in str(e)
        assert gate.trips == 0
        fail["now"] = False
        hang.set()
        t0 = time.monotonic()
        out = await asyncio.gather(*[gate.call("get", "m", str(i)) for i in range(6)],
                                   return_exceptions=True)
        took = time.monotonic() - t0
        assert all(isinstance(x, StoreUnavailableNow) for x in out), out
        assert took < 1.5, took  # one timeout (0.3 s + 0.25), not six in a row
        t0 = time.monotonic()
        try:
            await gate.call("get", "m", "x")
            raise AssertionError("the breaker let a call through")
        except StoreUnavailableNow as e:
            assert "store_breaker_s" in str(e) and time.monotonic() - t0 < 0.05
        hang.clear()
        release.set()
        await asyncio.sleep(0.7)
        assert await gate.call("get", "m", "b") == {"key": "b"}  # the probe closes it
        assert await gate.call("get", "m", "c") == {"key": "c"}
        gate.close()
        return gate

    assert asyncio.run(main()).trips == 1
