"""Lineage walk on a synthetic in-memory MLMD laid out as a tfxkit run records it
(contexts, executions, events, custom properties), the renderers, and run properties."""
import json
import subprocess
import xml.etree.ElementTree as ET

import pytest
from ml_metadata.metadata_store import metadata_store
from ml_metadata.proto import metadata_store_pb2 as pb

from tfxkit.infra.metadata.lineage import render as R
from tfxkit.infra.metadata.lineage import walk as L
from tfxkit.infra.metadata.lineage.model import LineageError
from tfxkit.infra.run import properties as run_props

PIPE = "toy"


class _Fake:
    """Writes a tfxkit-shaped run into a fake (in-memory) MLMD."""

    def __init__(self):
        c = pb.ConnectionConfig()
        c.fake_database.SetInParent()
        self.s = metadata_store.MetadataStore(c)
        self._types = {}
        self.pipeline = self.ctx("pipeline", PIPE)

    def _type(self, kind, name):
        key = (kind, name)
        if key not in self._types:
            put = {"a": (self.s.put_artifact_type, pb.ArtifactType),
                   "e": (self.s.put_execution_type, pb.ExecutionType),
                   "c": (self.s.put_context_type, pb.ContextType)}[kind]
            self._types[key] = put[0](put[1](name=name))
        return self._types[key]

    def ctx(self, kind, name, **props):
        c = pb.Context(type_id=self._type("c", kind), name=name)
        for k, v in props.items():
            c.custom_properties[k].string_value = v
        [c.id] = self.s.put_contexts([c])
        return c

    def run(self, run_id, **props):
        r = self.ctx("pipeline_run", run_id, **props)
        self.s.put_parent_contexts([pb.ParentContext(child_id=r.id, parent_id=self.pipeline.id)])
        return r

    def art(self, type_name, uri, **props):
        a = pb.Artifact(type_id=self._type("a", type_name), uri=uri, state=pb.Artifact.LIVE)
        for k, v in props.items():
            if isinstance(v, int):
                a.custom_properties[k].int_value = v
            else:
                a.custom_properties[k].string_value = v
        [aid] = self.s.put_artifacts([a])
        return aid

    def execute(self, run, node, inputs, outputs, state=pb.Execution.COMPLETE, **props):
        e = pb.Execution(type_id=self._type("e", f"tfx.components.{node}"), last_known_state=state)
        for k, v in props.items():
            e.custom_properties[k].string_value = v
        node_ctx = self.s.get_context_by_type_and_name("node", f"{PIPE}.{node}") or \
            self.ctx("node", f"{PIPE}.{node}")
        ctxs = [self.pipeline, run, node_ctx]
        eid, _, _ = self.s.put_execution(e, [], ctxs)
        events = []
        for kind, d in ((pb.Event.INPUT, inputs), (pb.Event.OUTPUT, outputs)):
            for key, aid in d.items():
                ev = pb.Event(artifact_id=aid, execution_id=eid, type=kind)
                ev.path.steps.add().key = key
                ev.path.steps.add().index = 0
                events.append(ev)
        self.s.put_events(events)
        self.s.put_attributions_and_associations(
            [pb.Attribution(context_id=c.id, artifact_id=aid)
             for c in ctxs for aid in outputs.values()], [])
        return eid


def _chain(f, run, tmp_path, epochs=5, version="1000", anomalies=0):
    ex = f.art("Examples", str(tmp_path / "ex"), span=20454, rows_train=80, rows_eval=20,
               rows_rejected=0, input_files=json.dumps(["/data/day-1.csv"]),
               input_fingerprint="span:20454,version:None,sha256:abc")
    f.execute(run, "ExampleGen", {}, {"examples": ex}, input_base="/data")
    stats = f.art("ExampleStatistics", str(tmp_path / "stats"))
    f.execute(run, "StatisticsGen", {"examples": ex}, {"statistics": stats})
    schema = f.art("Schema", str(tmp_path / "schema"))
    f.execute(run, "SchemaGen", {"statistics": stats}, {"schema": schema})
    anom = f.art("ExampleAnomalies", str(tmp_path / "anomalies"))
    f.execute(run, "ExampleValidator", {"statistics": stats, "schema": schema},
              {"anomalies": anom})
    gate = f.art("tfxkit.DataValidation", str(tmp_path / "gate"), passed=1, anomalies=anomalies)
    f.execute(run, "ValidationGate", {"anomalies": anom}, {"result": gate}, on_anomalies="warn")
    tex = f.art("Examples", str(tmp_path / "tex"))
    graph = f.art("TransformGraph", str(tmp_path / "graph"))
    f.execute(run, "Transform", {"examples": ex, "schema": schema},
              {"transformed_examples": tex, "transform_graph": graph},
              preprocessing_fn="tfxkit.pipelines.transform.preprocessing_fn",
              custom_config=json.dumps({"features": {"dense": ["a", "b"], "vocab": {}}}))
    model = f.art("Model", str(tmp_path / f"model{epochs}"))
    f.execute(run, "Trainer", {"examples": tex, "transform_graph": graph, "schema": schema},
              {"model": model}, custom_config=json.dumps(
                  {"task": "regression", "model": {"kind": "dnn", "epochs": epochs,
                                                    "learning_rate": 0.01}}))
    evaluation = f.art("ModelEvaluation", str(tmp_path / "eval"))
    blessing = f.art("ModelBlessing", str(tmp_path / "blessing"), blessed=1)
    f.execute(run, "Evaluator", {"examples": ex, "model": model, "schema": schema},
              {"evaluation": evaluation, "blessing": blessing}, eval_config="{}")
    pushed = f.art("PushedModel", str(tmp_path / "pushed"), pushed=1, pushed_version=version,
                   pushed_destination=str(tmp_path / "models" / version))
    f.execute(run, "Pusher", {"model": model, "model_blessing": blessing},
              {"pushed_model": pushed})
    return {"examples": ex, "graph": graph, "model": model, "pushed": pushed}


def _metrics(uri, eval_config):
    return {"metrics": [{"name": "mean_absolute_error", "value": 3.5, "threshold": "<= 6",
                         "baseline": None, "diff": None, "ok": True}], "reasons": []}


@pytest.fixture
def fake(tmp_path):
    f = _Fake()
    r1 = f.run("run-1", config_fingerprint="hash1", git_commit="c0ffee")
    first = _chain(f, r1, tmp_path / "r1", epochs=5, version="1000")
    r2 = f.run("run-2", config_fingerprint="hash2", git_commit="beef")
    second = _chain(f, r2, tmp_path / "r2", epochs=9, version="2000", anomalies=1)
    return f, first, second


def test_latest_pushed_model_by_default(fake):
    f, _, second = fake
    lin = L.model_lineage(f.s, PIPE, metrics_reader=_metrics)
    assert (lin.model_version, lin.run_id, lin.config_hash, lin.git_commit) == \
        ("2000", "run-2", "hash2", "beef")
    names = [s.component for s in lin.steps]
    assert names == ["ExampleGen", "StatisticsGen", "SchemaGen", "ExampleValidator",
                     "ValidationGate", "Transform", "Trainer", "Evaluator", "Pusher"]
    gen = lin.step("ExampleGen")
    assert gen.facts["rows"] == {"train": 80, "eval": 20} and gen.facts["span"] == 20454
    assert gen.facts["input_files"] == ["/data/day-1.csv"] and gen.facts["rows_total"] == 100
    assert lin.step("Trainer").facts["hyperparameters"]["epochs"] == 9
    assert lin.step("Trainer").outputs["model"] == [second["model"]]
    assert lin.step("ValidationGate").facts["anomalies"] == 1
    ev = lin.step("Evaluator").facts
    assert ev["blessed"] is True and ev["metrics"][0]["value"] == 3.5
    assert lin.step("Pusher").facts["version"] == "2000"


def test_named_version_and_unknown_version(fake):
    f, first, _ = fake
    lin = L.model_lineage(f.s, PIPE, "1000", metrics_reader=_metrics)
    assert lin.config_hash == "hash1" and lin.step("Trainer").facts["hyperparameters"]["epochs"] == 5
    assert lin.step("Transform").outputs["transform_graph"] == [first["graph"]]
    with pytest.raises(LineageError, match="pushed: 1000, 2000"):
        L.model_lineage(f.s, PIPE, "999")
    with pytest.raises(LineageError, match="no model"):
        L.model_lineage(f.s, "other-pipeline")


def test_renderers(fake):
    f, _, _ = fake
    lin = L.model_lineage(f.s, PIPE, metrics_reader=_metrics)
    text = "\n".join(R.render_text(lin))
    assert "version 2000" in text and "config hash hash2" in text and "epochs=9" in text
    assert "rows eval 20, train 80" in text and "mean_absolute_error 3.5000" in text
    d = json.loads(R.to_json(lin))
    assert d["config_hash"] == "hash2" and d["steps"][0]["facts"]["rows"]["train"] == 80
    svg = ET.fromstring(R.render_svg(lin))
    words = " ".join(t.text or "" for t in svg.iter("{http://www.w3.org/2000/svg}text"))
    for name in ("ExampleGen", "Transform", "Trainer", "Evaluator", "Pusher", "hash2"):
        assert name in words
    assert len(list(svg.iter("{http://www.w3.org/2000/svg}path"))) >= 8  # arrows and marker


def test_run_properties_outside_and_inside_git(tmp_path):
    assert run_props.git_commit(str(tmp_path)) == ("unknown", None)
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    (tmp_path / "f").write_text("x")
    env = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@t", "PATH": "/usr/bin:/bin"}
    subprocess.run(["git", "-C", str(tmp_path), "add", "f"], check=True, env=env)
    subprocess.run(["git", "-C", str(tmp_path), "commit", "-qm", "x"], check=True, env=env)
    head = subprocess.run(["git", "-C", str(tmp_path), "rev-parse", "HEAD"], capture_output=True,
                          text=True).stdout.strip()
    assert run_props.git_commit(str(tmp_path)) == (head, False)
    (tmp_path / "f").write_text("y")
    assert run_props.git_commit(str(tmp_path)) == (head, True)


def test_latest_spans_window_ends_at_a_backfilled_span():
    from tfx.types import standard_artifacts

    from tfxkit.components.span_window.strategy import latest_spans

    def ex(i, span):
        e = standard_artifacts.Examples()
        e.id = i
        e.set_int_custom_property("span", span)
        return e

    arts = [ex(1, 10), ex(2, 11), ex(3, 12), ex(4, 13)]
    assert [a.id for a in latest_spans(arts, 2, max_span=11)] == [2, 1]
    assert [a.id for a in latest_spans(arts, 2)] == [4, 3]
