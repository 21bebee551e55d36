"""The canary's decision log (infra/canary/decision_log.py): whole lines across processes,
torn lines skipped, the current canary."""
import multiprocessing

from tfxkit.infra.canary.decision_log import DecisionLog, current


def _append_many(path, who, n):
    log = DecisionLog(path)
    for i in range(n):
        log.append({"action": "hold", "canary": who, "i": i, "pad": "x" * 5000})


def test_log_appends_are_whole_lines_across_processes(tmp_path):
    path = str(tmp_path / "reg" / "canary.jsonl")
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=_append_many, args=(path, w, 50)) for w in "ab"]
    for p in procs:
        p.start()
    for p in procs:
        p.join()
    recs = DecisionLog(path).records()
    assert len(recs) == 100 and all(len(r["pad"]) == 5000 for r in recs)
    assert [r["i"] for r in recs if r["canary"] == "a"] == list(range(50))


def test_log_skips_a_torn_line_and_goes_on(tmp_path):
    path = str(tmp_path / "canary.jsonl")
    log = DecisionLog(path)
    log.append({"action": "start", "canary": "2", "stable": "1"})
    with open(path, "ab") as f:
        f.write(b'{"action": "ramp", "can')  # a writer died mid-line
    log.append({"action": "rollback", "canary": "2", "stable": "1"})
    recs = log.records()
    assert [r["action"] for r in recs] == ["start", "rollback"]
    assert log.rejected() == {"2"} and log.promoted() == set()
    assert all("at" in r for r in recs)


def test_current_canary():
    recs = [{"action": "start", "canary": "2"}, {"action": "ramp", "canary": "2"}]
    assert current(recs)["action"] == "ramp"
    assert current(recs + [{"action": "promote", "canary": "2"}]) is None
    assert current(recs + [{"action": "rollback", "canary": "2"},
                           {"action": "start", "canary": "3"}])["canary"] == "3"
    assert current([]) is None
