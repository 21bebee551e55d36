"""Continuous training: day 1 arrives, then day 2; the second run trains on both (window 2),
and MLMD lineage shows which spans trained which model."""
import shutil

import pytest

from tests.e2e.helpers import store, tfxkit

pytestmark = pytest.mark.e2e


def transform_input_spans(s):
    """{Transform execution id: sorted spans of its input Examples}."""
    from ml_metadata.proto import metadata_store_pb2

    out = {}
    [node] = [c for c in s.get_contexts_by_type("node") if c.name.endswith(".Transform")]
    for e in s.get_executions_by_context(node.id):
        if e.last_known_state != metadata_store_pb2.Execution.COMPLETE:
            continue
        ins = [ev.artifact_id for ev in s.get_events_by_execution_ids([e.id])
               if ev.type == metadata_store_pb2.Event.INPUT and ev.path.steps[0].key == "examples"]
        arts = s.get_artifacts_by_id(ins)
        out[e.id] = sorted(a.custom_properties["span"].int_value for a in arts)
    return out


def test_day_two_trains_on_both_days(template_copy):
    case = template_copy("regression")
    day2 = case / "data" / "eta-2026-01-02.csv"
    held = case / "eta-2026-01-02.csv.later"
    shutil.move(day2, held)
    (case / "data" / "eta-2026-01-03.csv").unlink()
    cfg = case / "config.yaml"
    cfg.write_text(cfg.read_text().replace('"data/eta-*.csv"', '"data/eta-{YYYY}-{MM}-{DD}.csv"')
                   .replace("  split: {train: 8, eval: 2, key: trip_id}",
                            "  split: {train: 8, eval: 2, key: trip_id}\n  rolling_window: 2"))
    r1 = tfxkit("run", cfg, "--set", "model.epochs=5")
    assert r1.returncode == 0, r1.stderr
    shutil.move(held, day2)
    r2 = tfxkit("run", cfg, "--set", "model.epochs=5")
    assert r2.returncode == 0, r2.stderr
    assert "ExampleGen         ran" in r2.stdout and "Transform          ran" in r2.stdout

    s = store(case / ".tfxkit" / "metadata.sqlite")
    day1_span, day2_span = 20454, 20455  # days since 1970-01-01
    spans = [v for _, v in sorted(transform_input_spans(s).items())]
    assert spans == [[day1_span], [day1_span, day2_span]]
    examples = s.get_artifacts_by_type("Examples")
    gen = [a for a in examples if "ExampleGen" in a.uri]
    assert sorted(a.custom_properties["span"].int_value for a in gen) == [day1_span, day2_span]
    assert all(a.custom_properties["rows_train"].int_value > 0 for a in gen)
