"""components/registry/history.py: events numbered in order, who and when filled in,
merged from the index and the version records without repeats, oldest first."""
from tfxkit.components.registry.history import add_event, default_by, merge_events


def test_add_event_numbers_and_fills_in():
    index = {"history": [{"at": "2026-01-01T00:00:00+00:00", "n": 4, "action": "push"},
                         {"at": "2026-01-02T00:00:00+00:00", "action": "adopt"}]}
    e = add_event(index, "rollback", "17", by="ops", previous="18", reason="bad")
    assert index["history"][-1] is e
    assert e["n"] == 5 and e["action"] == "rollback" and e["version"] == "17"
    assert e["by"] == "ops" and e["previous"] == "18" and e["reason"] == "bad"
    assert e["at"].endswith("+00:00")  # UTC, to the second
    assert add_event(index, "trim", "3", at="then")["at"] == "then"
    assert add_event({"history": []}, "push", "1")["by"] == default_by()
    assert "@" in default_by()


def test_merge_events_drops_repeats_and_sorts_by_time_then_number():
    a = {"at": "2026-01-01", "n": 2, "action": "push", "version": "2"}
    b = {"at": "2026-01-01", "n": 1, "action": "push", "version": "1"}
    c = {"at": None, "n": "x", "action": "adopt", "version": "3"}
    assert merge_events([a, b, dict(a), c, dict(b)]) == [c, b, a]
