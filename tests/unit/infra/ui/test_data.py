"""The dashboard's data functions on ML Metadata records written by the test."""
import json
import os

import pytest

from tfxkit.components.registry.registry import Registry
from tfxkit.infra.ui import data
from tfxkit.infra.ui.sources import load_use_cases
from tests.unit.infra.metadata.mlmd_records import Records
from tests.unit.infra.ui.ui_records import open_rw


def test_runs_table_matches_the_records(ui_case):
    path, cfg, written = ui_case
    [uc] = load_use_cases([str(path)])
    rows = data.runs(uc.store(), cfg.name)
    assert [r.run_id for r in rows] == [rid for rid, _ in written]
    for row, (_, w) in zip(rows, written):
        if w.get("failed"):
            assert row.state == "failed" and row.failed == 1 and "Trainer" in row.reason
            assert row.pushed_version is None
        else:
            assert row.state == "succeeded" and row.failed == 0
            assert row.pushed_version == w["pushed"]
        assert row.config_hash == f"hash-lr-{w['lr']}"
    # run 0 ran everything; run 1 reused the data components' outputs (cached)
    assert rows[0].cached == 0 and rows[0].ran == 9 and rows[0].resolved == 1  # the resolver
    assert rows[1].cached == 6 and rows[1].ran == 3 and rows[1].resolved == 1  # apart
    assert rows[0].rows == 270 + 70 and rows[0].rows_by_split == {"train": 270, "eval": 70}
    assert rows[1].rows == rows[0].rows  # the same (cached) examples
    assert [r.blessed for r in rows[:3]] == [True, True, False]


def test_filters(ui_case):
    path, cfg, written = ui_case
    [uc] = load_use_cases([str(path)])
    rows = data.runs(uc.store(), cfg.name)
    failed = data.filter_runs(rows, state="failed")
    assert [r.run_id for r in failed] == [rid for rid, w in written if w.get("failed")]
    pushed = data.filter_runs(rows, pushed=True)
    assert {r.pushed_version for r in pushed} == {w["pushed"] for _, w in written if w["pushed"]}
    assert data.filter_runs(rows, text="hash-lr-0.003") == [r for r in rows
                                                            if r.config_hash == "hash-lr-0.003"]
    with pytest.raises(data.NotFound, match="no run 'nope'"):
        data.find_run(rows, "nope")


def test_compare_diffs_the_recorded_configs(ui_case):
    path, cfg, _ = ui_case
    [uc] = load_use_cases([str(path)])
    store = uc.store()
    rows = data.runs(store, cfg.name)
    cmp = data.compare(store, cfg.name, rows[:2], data.MetricCache())
    assert cmp["config_diff"] == [("model.learning_rate", [0.01, 0.003])]
    assert cmp["config_sources"] == ["the run's recorded config"] * 2
    shared = {(s["component"], s["key"]) for s in cmp["shared"]}
    assert ("ExampleGen", "examples") in shared and ("Trainer", "model") not in shared
    assert dict(cmp["components"])["Trainer"] == ["ran", "ran"]
    assert dict(cmp["components"])["StatisticsGen"] == ["ran", "cached"]


def test_config_diff_without_a_recorded_config():
    rec = Records("old")
    rows = []
    for i, lr in enumerate((0.1, 0.2)):
        run = rec.run(f"r{i}", config_fingerprint=f"h{i}")
        rec.execute(run, "Trainer", {}, {}, custom_config=json.dumps({"model": {"learning_rate": lr,
                                                                                 "epochs": 3}}))
    rows = data.runs(rec.store, "old")
    configs = [data.run_config(rec.store, "old", r) for r in rows]
    assert configs[0][1].startswith("the components' recorded settings")
    assert data.config_diff([c for c, _ in configs]) == [("model.learning_rate", [0.1, 0.2])]


def test_use_case_summary_and_metric_series(ui_case):
    path, cfg, written = ui_case
    [uc] = load_use_cases([str(path)])

    class Cache(data.MetricCache):  # the records have no TFMA output: values by run
        def value(self, row, metric, slice_name="Overall"):
            assert metric == "sparse_categorical_accuracy"  # TFMA's key for the task
            return 0.5 + 0.01 * int(row.run_id[11:13])

    s = data.use_case_summary(uc, Cache())
    assert s["runs"] == len(written) and s["last_run"].run_id == written[-1][0]
    reg = Registry(cfg.registry_path)
    assert s["serving"] == reg.serving().version
    assert s["metric"] == {"name": "accuracy", "key": "sparse_categorical_accuracy", "lower_bound": 0.8,
                           "upper_bound": None}
    evaluated = [rid for rid, w in written if not w.get("failed")]
    assert [r for r, _ in s["series"]] == evaluated
    assert s["latest"] == pytest.approx(0.5 + 0.01 * int(evaluated[-1][11:13]))


def test_metric_cache_reads_nothing_for_a_missing_folder(tmp_path):
    cache = data.MetricCache()
    assert cache.evaluation(str(tmp_path / "gone"), None) is None
    assert cache.evaluation(None, None) is None


def test_lineage_graph_reaches_the_data_file(ui_case):
    path, cfg, written = ui_case
    [uc] = load_use_cases([str(path)])
    version = Registry(cfg.registry_path).serving().version
    g = data.lineage_graph(uc.store(), cfg.name, version)
    files = [n for n in g.nodes if n.kind == "file"]
    assert [n.uri for n in files] == [str(cfg.base_dir / "data" / "penguins.csv")]
    # a path of edges from the file to the PushedModel of that version
    pushed = [n for n in g.nodes if n.properties.get("pushed_version") == version]
    assert len(pushed) == 1
    succ = {}
    for a, b, _ in g.edges:
        succ.setdefault(a, set()).add(b)
    seen, todo = set(), [files[0].id]
    while todo:
        n = todo.pop()
        if n not in seen:
            seen.add(n)
            todo += list(succ.get(n, ()))
    assert pushed[0].id in seen
    svg = data.graph_svg(g)
    assert svg.count("<g data-node=") == len(g.nodes)


def test_model_versions_and_history(ui_case):
    path, cfg, written = ui_case
    reg = Registry(cfg.registry_path)
    info = data.model_versions(reg)
    pushed = [w["pushed"] for _, w in written if w["pushed"]]
    assert [v["version"] for v in info["versions"]] == list(reversed(pushed))
    assert info["serving"] == pushed[-1] and info["versions"][0]["serving"]
    assert all(v["pushed_by"] for v in info["versions"])
    assert [h["action"] for h in info["history"]] == ["push"] * len(pushed)
    assert data.model_versions(Registry(str(path.parent / "none")))["error"].startswith(
        "no model registry")


def test_canary_and_monitoring_empty(ui_case):
    path, cfg, _ = ui_case
    [uc] = load_use_cases([str(path)])
    c = data.canary_state(cfg)
    assert c["current"] is None and c["decisions"] == []
    assert data.monitoring_windows(uc.store(), cfg.name) == []


def test_canary_decisions_newest_first(tmp_path):
    from tfxkit.infra.canary.decision_log import DecisionLog
    from tests.unit.infra.ui.ui_records import make_case

    _, cfg = make_case(tmp_path)
    log = DecisionLog(cfg.registry_path + "/canary.jsonl")
    log.append({"action": "start", "stable": "1", "canary": "2", "share": 0.1,
                "evidence": {"canary": {"requests": 10}}})
    log.append({"action": "ramp", "stable": "1", "canary": "2", "share": 0.5})
    c = data.canary_state(cfg)
    assert [d["action"] for d in c["decisions"]] == ["ramp", "start"]
    assert c["current"]["action"] == "ramp"


def test_store_is_read_only(ui_case):
    path, cfg, _ = ui_case
    [uc] = load_use_cases([str(path)])
    from ml_metadata.proto import metadata_store_pb2 as pb

    with pytest.raises(Exception, match="(?i)read.?only|readonly"):
        uc.store().put_context_type(pb.ContextType(name="ui-must-not-write"))
    from ml_metadata import errors

    with pytest.raises(errors.NotFoundError):
        open_rw(cfg).get_context_type("ui-must-not-write")


def test_runs_reuses_finished_rows_and_reads_new_ones(ui_case, tmp_path):
    import shutil

    path, cfg, written = ui_case
    case = tmp_path / "case"
    shutil.copytree(path.parent, case)
    [uc] = load_use_cases([str(case / "config.yaml")])
    first = data.runs(uc.store(), cfg.name)
    again = data.runs(uc.store(), cfg.name, previous=first)
    assert all(a is b for a, b in zip(first, again))  # nothing read again
    from ml_metadata.proto import metadata_store_pb2 as pb

    s = open_rw(uc.cfg)
    rec = Records.__new__(Records)  # the use case's own pipeline context, a new run
    rec.store, rec.name, rec._type_ids = s, cfg.name, {}
    rec.pipeline = s.get_context_by_type_and_name("pipeline", cfg.name)
    run = rec.run("2026-12-31T00:00:00.000000")
    rec.execute(run, "Trainer", {}, {}, state=pb.Execution.RUNNING,
                type_name="tfx.components.trainer.component.Trainer")
    # and an earlier run's context changed (a property set): read again
    ctx = s.get_contexts_by_id([first[0].context_id])[0]
    ctx.custom_properties["note"].string_value = "changed"
    s.put_contexts([ctx])
    third = data.runs(uc.store(), cfg.name, previous=again)
    assert len(third) == len(first) + 1
    assert third[-1].run_id == "2026-12-31T00:00:00.000000" and third[-1].state == "running"
    assert third[0] is not first[0] and third[0].properties["note"] == "changed"
    assert all(a is b for a, b in zip(first[1:], third[1:len(first)]))
    fourth = data.runs(uc.store(), cfg.name, previous=third)
    assert fourth[-1] is not third[-1]  # a running run is always read again


def test_metric_series_without_waiting_uses_the_registry(tmp_path):
    """While the evaluations are being read, the list shows what the registry recorded
    for pushed runs and says it is incomplete; once read, the evaluations' values."""
    rows = [data.RunRow(f"r{i}", "p", "succeeded", evaluation_uri=str(tmp_path / f"ev{i}"),
                        pushed_version=str(i) if i != 1 else None) for i in range(3)]
    for r in rows:
        os.makedirs(r.evaluation_uri)

    class Cache(data.MetricCache):
        def evaluation(self, uri, eval_config, blessed=None, recorded=None):
            from tfxkit.infra.metadata.report.model import Evaluation, SliceMetric

            with self._lock:
                self._by_uri[uri] = Evaluation(metrics=[SliceMetric("Overall", "acc", 0.5)])
            return self._by_uri[uri]

    cache = Cache()
    registry = {"0": {"acc": 0.9}, "2": {"acc": 0.7}}
    series, complete = data.metric_series(rows, cache, "acc", wait=False,
                                          registry_metrics=registry)
    assert series == [("r0", 0.9), ("r2", 0.7)] and complete is False
    series, complete = data.metric_series(rows, cache, "acc")
    assert series == [("r0", 0.5), ("r1", 0.5), ("r2", 0.5)] and complete is True
    assert data.metric_series(rows, cache, "acc", wait=False) == (series, True)
