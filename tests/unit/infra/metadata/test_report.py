"""The report package (infra/metadata/report/__init__.py): a finished run's evaluation
recorded on its pipeline_run context (``record_evaluation``), read back by the dashboard
without TFMA."""
import types

from tests.unit.infra.ui.ui_records import make_case, open_rw
from tests.unit.infra.metadata.mlmd_records import Records
from tfxkit.infra.metadata.report import record_evaluation
from tfxkit.infra.metadata.report.evaluation import evaluation_from_json
from tfxkit.infra.metadata.report.model import Evaluation, SliceMetric
from tfxkit.infra.run.properties import EVALUATION_JSON


def _ctx(cfg, run_id):
    return open_rw(cfg).get_context_by_type_and_name("pipeline_run", run_id)


def test_only_a_finished_run_with_an_evaluation_records_it(tmp_path):
    _, cfg = make_case(tmp_path)
    rec = Records(cfg.name, store=open_rw(cfg))
    rec.run("r1")
    ev = Evaluation(blessed=True, metrics=[SliceMetric("Overall", "accuracy", 0.93,
                                                       threshold=">= 0.8", gated=True, ok=True)])
    rep = types.SimpleNamespace(run_id="r1", status="running", evaluation=ev)
    assert record_evaluation(cfg, rep) is False
    assert EVALUATION_JSON not in _ctx(cfg, "r1").custom_properties
    rep.evaluation = Evaluation(error="OSError: no metrics")
    rep.status = "succeeded"
    assert record_evaluation(cfg, rep) is False
    rep.evaluation = ev
    assert record_evaluation(cfg, rep) is True
    text = _ctx(cfg, "r1").custom_properties[EVALUATION_JSON].string_value
    assert evaluation_from_json(text) == ev
    before = _ctx(cfg, "r1").last_update_time_since_epoch
    assert record_evaluation(cfg, rep) is True  # the same again: nothing written
    assert _ctx(cfg, "r1").last_update_time_since_epoch == before
    assert record_evaluation(cfg, types.SimpleNamespace(run_id="gone", status="failed",
                                                        evaluation=ev)) is False
