"""The printed run summary (infra/run/summary.py): why a model was or was not pushed."""


def test_summary_lines_name_the_reasons():
    from tfxkit.infra.run.summary import Summary, format_summary

    s = Summary(blessed=True, has_baseline=True, infra_blessed=False,
                infra_reason="p99 latency 3 ms over 100 requests of batch 1 exceeds "
                             "max_latency_ms 1",
                pushed=False, push_reason="infra validation failed: p99 latency 3 ms")
    lines = format_summary(s)
    assert "Infra validation FAILED: p99 latency 3 ms over 100 requests" in lines[-2]
    assert lines[-1] == "Not pushed: infra validation failed: p99 latency 3 ms"


def test_summary_says_why_a_push_restored_the_serving_folder():
    from tfxkit.infra.run.summary import Summary, format_summary

    plain = Summary(pushed=True, pushed_version="7", pushed_path="/r/7",
                    push_reason="pushed as version 7")
    assert format_summary(plain)[-1] == "Pushed version 7 to /r/7"
    why = ("restored the serving version 7: its folder /r/7 was missing; put back from "
           "the model being pushed")
    s = Summary(pushed=True, pushed_version="7", pushed_path="/r/7", push_reason=why)
    assert format_summary(s)[-2:] == ["Pushed version 7 to /r/7", f"  why: {why}"]
