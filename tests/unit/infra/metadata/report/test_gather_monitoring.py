"""``gather`` reads the windows ``tfxkit monitor`` recorded for the run's model (a
``tfxkit.Monitor`` execution that read the Model, its result JSON), newest record of each
window; other models' windows are not this run's."""
import json

from tests.unit.infra.metadata.mlmd_records import PIPELINE, Records
from tests.unit.infra.metadata.report.test_gather import _run
from tfxkit.infra.metadata.report.gather import gather
from tfxkit.infra.monitoring.record import record_window


def _window(end, flagged):
    return {"start": end - 3600, "end": end, "rows": 120, "model_version": "7",
            "flagged": flagged, "crossed": bool(flagged),
            "features": [{"feature": "island", "kind": "skew", "measure": "L_INFTY",
                          "value": 0.8 if flagged else 0.01, "threshold": 0.1,
                          "flagged": bool(flagged), "note": ""}],
            "predictions": []}


def _record(rec, tmp_path, model_id, end, flagged):
    w = _window(end, flagged)
    path = tmp_path / f"w{end}-{len(flagged)}.json"
    path.write_text(json.dumps(w))
    return record_window(rec.store, PIPELINE, model_id, w, str(path))


def test_the_run_models_monitored_windows(tmp_path):
    rec = Records()
    run = _run(rec, tmp_path)
    baseline = rec.artifact("Model", "/baseline")   # the Evaluator's: not this run's model
    rec.execute(run, "Evaluator", {"baseline_model": baseline}, {})
    _record(rec, tmp_path, baseline, 14400.0, [{"feature": "x", "kind": "skew"}])
    rep = gather(rec.store, PIPELINE)
    assert rep.monitoring == [] and rep.monitored_models == [str(tmp_path / "model")]
    [model] = [a.id for a in rec.store.get_artifacts_by_uri(str(tmp_path / "model"))]
    other = rec.artifact("Model", "/other")
    _record(rec, tmp_path, model, 7200.0, [])
    flag = [{"feature": "island", "kind": "skew", "value": 0.8, "threshold": 0.1}]
    newest = _record(rec, tmp_path, model, 7200.0, flag)     # the same window again
    _record(rec, tmp_path, model, 3600.0, [])
    _record(rec, tmp_path, other, 10800.0, flag)
    (tmp_path / "gone.json").write_text("{}")
    w = _window(10800.0, [])
    gone = record_window(rec.store, PIPELINE, model, w, str(tmp_path / "missing.json"))
    rep = gather(rec.store, PIPELINE)
    assert [w.end for w in rep.monitoring] == [3600.0, 7200.0, 10800.0]
    first, second, third = rep.monitoring
    assert second.execution_id == newest and second.crossed and second.flagged == flag
    assert second.features[0]["value"] == 0.8 and second.rows == 120
    assert not first.crossed and first.error is None
    assert third.execution_id == gone and "unreadable" in third.error
