"""The canary controller on its own (infra/serving/canary_controller.py): a registry in
memory, arms that are never called; each round's record, the registry's pointer, which
arms are loaded and closed, and the decision log across a restart."""
import asyncio

import pytest

from tfxkit.infra.canary.decision_log import DecisionLog
from tfxkit.infra.canary.policy import Policy
from tfxkit.infra.serving.arm import Arm
from tfxkit.infra.serving.canary_controller import CanaryController


class Registry:
    path = "/reg"

    def __init__(self, versions, serving):
        self.versions, self.serving, self.moves = list(versions), serving, []
        self.fail = None

    def index(self):
        if self.fail is not None:
            raise self.fail
        return {"serving": self.serving, "versions": {v: {} for v in self.versions}}

    def version_path(self, version):
        return f"/reg/{version}"

    def set_serving(self, version, reason, who, action):
        assert who == "tfxkit-canary" and reason
        self.serving = version
        self.moves.append((version, action))


def controller(reg, policy=None, log=None, **kw):
    loaded = []

    async def load(version, path):
        assert path == f"/reg/{version}"
        arm = Arm(version, path, fn=None, spec={}, outputs=["class", "class_id"])
        loaded.append(arm)
        return arm

    c = CanaryController("m", load, reg, policy, log, **kw)
    c.lock = asyncio.Lock()
    c.loaded = loaded
    return c


POLICY = Policy(steps=(0.5,), min_requests=2, min_feedback=1, interval_s=0.01)


def traffic(arm, ok=True, n=4, right=True):
    for _ in range(n):
        arm.window.record(1.0, ok=ok)
    arm.window.add_feedback(("A", 0), "A" if right else "B")


async def until(check, timeout_s=10.0):
    async def poll():
        while not check():
            await asyncio.sleep(0.01)

    await asyncio.wait_for(poll(), timeout_s)


async def close(c):
    for arm in c.loaded:
        await arm.batcher.close()


def test_nothing_is_served_until_the_registry_serves_a_version():
    async def main():
        reg = Registry([], None)
        c = controller(reg)
        assert await c.tick() is None
        assert c.stable is None and c.arms() == []
        assert c.error.startswith("the registry /reg has no serving version yet")
        reg.versions, reg.serving = ["1"], "1"
        assert await c.tick() is None
        assert c.stable.version == "1" and c.error is None and c.decisions == []
        await close(c)

    asyncio.run(main())


def test_without_a_policy_the_pointer_is_followed():
    async def main():
        reg = Registry(["1", "2"], "1")
        c = controller(reg)
        await c.tick()
        first = c.stable
        assert await c.tick() is None  # nothing moved
        reg.serving = "2"
        rec = await c.tick()
        assert rec["action"] == "follow" and rec["stable"] == "2" and rec["previous"] == "1"
        assert rec["model"] == "m" and c.decisions == [rec]
        assert c.stable.version == "2" and c.rollout is None and c.route() is c.stable
        assert first.batcher._closed and reg.moves == []  # it never moves the pointer
        await close(c)

    asyncio.run(main())


def test_a_newer_version_is_a_canary_for_its_share_and_promoted(tmp_path):
    async def main():
        reg = Registry(["1", "2"], "2")  # the push moved the pointer
        log = DecisionLog(str(tmp_path / "decisions.jsonl"))
        log.append({"action": "follow", "stable": "1"})  # what the server ran before
        c = controller(reg, POLICY, log, seed=7)
        start = await c.tick()
        assert start["action"] == "start" and (start["stable"], start["canary"]) == ("1", "2")
        assert start["share"] == 0.5 and start["evidence"]["margins"]["min_requests"] == 2
        assert reg.moves == [("1", "canary")]  # the stable version serves until promotion
        assert [a.version for a in c.arms()] == ["1", "2"]
        routed = [c.route().version for _ in range(1000)]
        assert 400 < routed.count("2") < 600
        assert (await c.tick())["action"] == "hold"  # no traffic yet
        traffic(c.stable)
        traffic(c.rollout.canary)
        status = c.status()
        assert status["canary"]["share"] == 0.5 and status["last_decision"]["action"] == "hold"
        old = c.stable
        rec = await c.tick()
        assert rec["action"] == "promote" and c.stable.version == "2" and c.rollout is None
        assert reg.moves[-1] == ("2", "promote") and old.batcher._closed
        assert [r["action"] for r in log.records()] == ["follow", "start", "hold", "promote"]
        await close(c)

    asyncio.run(main())


def test_a_worse_canary_is_rolled_back_and_never_tried_again(tmp_path):
    async def main():
        reg = Registry(["1", "2"], "1")
        log = DecisionLog(str(tmp_path / "decisions.jsonl"))
        c = controller(reg, POLICY, log)
        await c.tick()
        canary = c.rollout.canary
        traffic(c.stable)
        traffic(canary, ok=False)
        rec = await c.tick()
        assert rec["action"] == "rollback" and "error rate" in rec["reasons"][0]
        assert c.rollout is None and c.stable.version == "1" and canary.batcher._closed
        assert reg.moves == [("1", "rollback")]
        assert await c.tick() is None  # 2 is rejected
        await close(c)
        # a restart reads the log: 2 stays rejected, a newer 3 is a canary of 1
        reg.versions.append("3")
        reg.serving = "3"
        again = controller(reg, POLICY, log)
        rec = await again.tick()
        assert (rec["action"], rec["stable"], rec["canary"]) == ("start", "1", "3")
        await close(again)

    asyncio.run(main())


def test_run_keeps_going_after_a_failed_round():
    async def main():
        reg = Registry(["1"], "1")
        c = controller(reg, poll_s=0.01)
        reg.fail = OSError("registry unreachable")
        task = asyncio.get_running_loop().create_task(c.run())
        await until(lambda: c.error is not None)
        assert c.error == "OSError: registry unreachable" and c.stable is None
        reg.fail = None
        await until(lambda: c.stable is not None and c.error is None)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await close(c)

    asyncio.run(main())


def test_each_decision_goes_to_on_decision_and_a_failing_one_changes_nothing(tmp_path):
    async def main():
        reg = Registry(["1", "2"], "1")
        c = controller(reg, POLICY, DecisionLog(str(tmp_path / "decisions.jsonl")))
        seen = []
        c.on_decision = seen.append
        await c.tick()  # start
        traffic(c.stable)
        traffic(c.rollout.canary, ok=False)
        c.on_decision = lambda rec: seen.append(rec) or 1 / 0  # raises: ignored
        rec = await c.tick()
        assert rec["action"] == "rollback" and reg.moves == [("1", "rollback")]
        assert [r["action"] for r in seen] == ["start", "rollback"]
        assert seen[-1] is rec and (rec["stable"], rec["canary"]) == ("1", "2")
        assert c.rollout is None and c.stable.version == "1"
        await close(c)

    asyncio.run(main())
