"""A use case with N training runs written straight into ML Metadata (SQLite), shaped like
the ones ``tfxkit run`` records (the template's nodes and types, the ExampleGen's row
counts, the Evaluator's blessing, the Pusher's PushedModel, the run's config hash and
config), and a model registry with real version folders: for the dashboard's unit tests,
app tests and the 200-run page-load bench (not a test module itself)."""
import json
import os
import shutil
from pathlib import Path

from ml_metadata.metadata_store import metadata_store
from ml_metadata.proto import metadata_store_pb2 as pb

from tests.conftest import TEMPLATES
from tfxkit.infra.metadata.report.evaluation import evaluation_json
from tests.unit.infra.metadata.mlmd_records import Records

NODES = ["ExampleGen", "StatisticsGen", "SchemaGen", "ExampleValidator", "ValidationGate",
         "Transform", "Trainer", "BaselineResolver", "Evaluator", "Pusher"]
TYPES = {"ExampleGen": "tfxkit.components.example_gen.component.ExampleGen",
         "StatisticsGen": "tfx.components.statistics_gen.component.StatisticsGen",
         "SchemaGen": "tfx.components.schema_gen.component.SchemaGen",
         "ExampleValidator": "tfx.components.example_validator.component.ExampleValidator",
         "ValidationGate": "tfxkit.components.validation_gate.component.ValidationGate",
         "Transform": "tfx.components.transform.component.Transform",
         "Trainer": "tfx.components.trainer.component.Trainer",
         "BaselineResolver": "tfx.dsl.components.common.resolver.Resolver",
         "Evaluator": "tfx.components.evaluator.component.Evaluator",
         "Pusher": "tfxkit.components.registry.component.RegistryPusher"}


def make_case(folder, name="penguin-ui"):
    """A copy of the multiclass template's config (renamed) under ``folder``; returns
    (config path, loaded config)."""
    from tfxkit.pipelines.config import load_config

    case = Path(folder) / name
    case.mkdir(parents=True, exist_ok=True)
    text = (TEMPLATES / "multiclass" / "config.yaml").read_text()
    text = text.replace("name: penguin-species", f"name: {name}")
    (case / "config.yaml").write_text(text)
    shutil.copytree(TEMPLATES / "multiclass" / "data", case / "data", dirs_exist_ok=True)
    cfg = load_config(case / "config.yaml")
    return case / "config.yaml", cfg


def open_rw(cfg):
    os.makedirs(os.path.dirname(cfg.metadata_path), exist_ok=True)
    c = pb.ConnectionConfig()
    c.sqlite.filename_uri = cfg.metadata_path
    c.sqlite.connection_mode = pb.SqliteMetadataSourceConfig.READWRITE_OPENCREATE
    return metadata_store.MetadataStore(c)


def recorded_evaluation(i: int, blessed: bool, uri: str):
    """The evaluation run ``i`` records: accuracy (TFMA's key for the template,
    sparse_categorical_accuracy) on the whole eval split and per island, gated at >= 0.8 as
    the template's config says (met when ``blessed``)."""
    from tfxkit.infra.metadata.report.model import Evaluation, SliceMetric

    acc = (0.9 + (i % 7) / 100) if blessed else 0.55
    metrics = [SliceMetric(sl, "sparse_categorical_accuracy", round(acc - d, 4),
                           threshold=">= 0.8", gated=True, ok=acc - d >= 0.8, example_count=n)
               for sl, d, n in (("Overall", 0.0, 70), ("island:Biscoe", 0.01, 30),
                                ("island:Dream", 0.02, 25))]
    metrics.append(SliceMetric("Overall", "example_count_weighted", 70.0))
    return Evaluation(blessed=blessed, metrics=metrics, evaluation_uri=uri,
                      reasons=["every gated metric met its threshold on every slice"] if blessed
                      else ["sparse_categorical_accuracy = 0.55 on slice Overall: threshold "
                            "not met"])


def write_runs(cfg, n, learning_rates=(0.01, 0.003), fail_every=0, push_every=5,
               store=None):
    """``n`` training runs of ``cfg.name``: data components run every other run (cached
    in between), the Trainer fails every ``fail_every``-th run, every ``push_every``-th
    blessed run publishes a version into the registry (a stand-in model folder) and records
    its PushedModel. Returns [(run id, {"pushed": version or None, "lr": learning rate})]."""
    from tfxkit.components.registry.registry import Registry

    store = store or open_rw(cfg)
    reg = Registry(cfg.registry_path, name=cfg.name)
    rec = Records(cfg.name, store=store)
    out = []
    pushed = 0
    last = {}
    for i in range(n):
        lr = learning_rates[i % len(learning_rates)]
        conf = cfg.model_dump(mode="json", by_alias=True)
        conf["model"]["learning_rate"] = lr
        run_id = f"2026-11-{1 + i // 24:02d}T{i % 24:02d}:00:00.000000"
        fails = fail_every and (i + 1) % fail_every == 0
        blessed = (i % 3) != 2
        # what ``tfxkit run`` records of a finished run's evaluation (report.record_evaluation)
        recorded = {} if fails else {"evaluation_json": evaluation_json(
            recorded_evaluation(i, blessed, f"/tmp/ui-records/Evaluator/{i}/ev"))}
        run = rec.run(run_id, config_fingerprint=f"hash-lr-{lr}", git_commit="abc123",
                      config_json=json.dumps(conf, sort_keys=True), **recorded)
        fresh = i % 2 == 0 or not last
        X = pb.Execution

        def step(node, inputs, outputs_types, state=None, **props):
            outs = {}
            if fresh or node not in last:
                for key, (t, p) in outputs_types.items():
                    outs[key] = rec.artifact(t, uri=f"/tmp/ui-records/{node}/{i}/{key}", **p)
                st = state if state is not None else X.COMPLETE
            else:
                outs = last[node]
                st = state if state is not None else X.CACHED
            rec.execute(run, node, inputs, outs, state=st, type_name=TYPES[node], **props)
            last[node] = outs
            return outs

        ex = step("ExampleGen", {}, {"examples": ("Examples", {
            "rows_train": 270 + i, "rows_eval": 70, "rows_rejected": 0, "span": 0,
            "input_files": ["penguins.csv"]})}, input_base=str(cfg.base_dir / "data"))
        st = step("StatisticsGen", {"examples": ex["examples"]},
                  {"statistics": ("ExampleStatistics", {})})
        sc = step("SchemaGen", {"statistics": st["statistics"]}, {"schema": ("Schema", {})})
        an = step("ExampleValidator", {"statistics": st["statistics"], "schema": sc["schema"]},
                  {"anomalies": ("ExampleAnomalies", {})})
        step("ValidationGate", {"anomalies": an["anomalies"]},
             {"result": ("ValidationResult", {"passed": 1, "anomalies": 0})})
        tf = step("Transform", {"examples": ex["examples"], "schema": sc["schema"]},
                  {"transform_graph": ("TransformGraph", {}),
                   "transformed_examples": ("Examples", {})})
        if fails:
            rec.execute(run, "Trainer", {"examples": tf["transformed_examples"]}, {},
                        state=X.FAILED, type_name=TYPES["Trainer"])
            out.append((run_id, {"pushed": None, "lr": lr, "failed": True}))
            continue
        fresh_train = True
        tr = {"model": rec.artifact("Model", uri=f"/tmp/ui-records/Trainer/{i}/model"),
              "model_run": rec.artifact("ModelRun", uri=f"/tmp/ui-records/Trainer/{i}/run")}
        rec.execute(run, "Trainer", {"examples": tf["transformed_examples"],
                                     "transform_graph": tf["transform_graph"],
                                     "schema": sc["schema"]}, tr,
                    state=X.COMPLETE if fresh_train else X.CACHED, type_name=TYPES["Trainer"],
                    custom_config=json.dumps({"model": {"learning_rate": lr}}))
        rec.execute(run, "BaselineResolver", {}, {}, type_name=TYPES["BaselineResolver"])
        ev = {"evaluation": rec.artifact("ModelEvaluation", uri=f"/tmp/ui-records/Evaluator/{i}/ev"),
              "blessing": rec.artifact("ModelBlessing", uri=f"/tmp/ui-records/Evaluator/{i}/bl",
                                       blessed=int(blessed))}
        rec.execute(run, "Evaluator", {"model": tr["model"], "examples": ex["examples"]}, ev,
                    type_name=TYPES["Evaluator"])
        version = None
        if blessed and push_every and (i + 1) % push_every == 0:
            pushed += 1
            model = Path(cfg.registry_path).parent / ".model-src" / str(i)
            (model / "variables").mkdir(parents=True, exist_ok=True)
            (model / "saved_model.pb").write_bytes(b"model %d" % i)
            version = reg.publish(str(model), meta={
                "metrics": {"accuracy": 0.9 + (i % 7) / 100}, "config_hash": f"hash-lr-{lr}",
                "pipeline_run": run_id, "model_uri": f"/tmp/ui-records/Trainer/{i}/model"})[0]
        pm = rec.artifact("PushedModel", uri=f"/tmp/ui-records/Pusher/{i}",
                          pushed=int(version is not None), pushed_version=version or "",
                          pushed_destination=f"{cfg.registry_path}/{version}" if version else "")
        rec.execute(run, "Pusher", {"model": tr["model"], "model_blessing": ev["blessing"]},
                    {"pushed_model": pm}, type_name=TYPES["Pusher"])
        out.append((run_id, {"pushed": version, "lr": lr}))
    return out
