"""The Airflow DAG factory and operator, in the real Airflow 3.3 (.venv-airflow).

These tests run in the TFX environment and start Airflow's own Python as a subprocess:
the factory is loaded through Airflow's DagBag (what the DAG processor runs), the
operator runs against fake tfxkit executables, and one DAG runs with `airflow dags test`.
"""
import json
import shutil
import textwrap

import pytest

from tests.airflow_env import (AIRFLOW_PY, DAGS_FOLDER, ROOT, airflow, airflow_env,
                               airflow_python, fake_tfxkit, require_airflow)

pytestmark = pytest.mark.usefixtures("_airflow")


@pytest.fixture(scope="module")
def _airflow():
    require_airflow()


def _result(r):
    assert r.returncode == 0, r.stderr[-3000:]
    [line] = [ln for ln in r.stdout.splitlines() if ln.startswith("RESULT:")]
    return json.loads(line[len("RESULT:"):])


DAGBAG = textwrap.dedent("""
    import json, sys
    from airflow.dag_processing.dagbag import DagBag
    bag = DagBag(dag_folder=%r)
    out = {"import_errors": bag.import_errors, "dags": {}}
    for dag_id, dag in bag.dags.items():
        out["dags"][dag_id] = {
            "timetable": type(dag.timetable).__name__,
            "schedule": dag.schedule,
            "catchup": dag.catchup, "max_active_runs": dag.max_active_runs,
            "tags": sorted(dag.tags),
            "tasks": {t.task_id: {"downstream": sorted(t.downstream_task_ids),
                                  "type": type(t).__name__, "argv": t.argv()[1:],
                                  "not_blessed": t.not_blessed}
                      for t in dag.tasks}}
    config = "tfxkit.pipelines.config"  # the loader: pydantic and pyyaml only
    out["heavy"] = sorted(m for m in sys.modules
                          if m.split(".")[0] in ("tensorflow", "tfx", "apache_beam",
                                                 "ml_metadata", "duckdb", "pipelines")
                          or m.startswith("tfxkit.") and m != "tfxkit.pipelines"
                          and m != config and not m.startswith(config + "."))
    out["loader"] = config + ".loader" in sys.modules
    print("RESULT:" + json.dumps(out))
""") % str(DAGS_FOLDER)


# What a config needs beside name, task, label and data to pass load_config.
FEATURES = "features: {dense: [x]}\n"
BINARY = FEATURES + "eval: {metrics: [{name: auc, lower_bound: 0.5}]}\n"


@pytest.fixture
def configs(tmp_path):
    d = tmp_path / "configs"
    d.mkdir()
    shutil.copy(ROOT / "templates" / "multiclass" / "config.yaml", d / "penguins.yaml")
    (d / "penguins.prod.yaml").write_text("root: /srv/x\n")  # a profile side file
    (d / "churn.yaml").write_text(textwrap.dedent("""\
        name: churn
        task: binary
        label: churned
        data: {source: {csv: data/churn.csv}}
        schedule: "0 3 * * 1"
        """) + BINARY)
    (d / "eta").mkdir()  # a use-case folder as `tfxkit new` makes it
    (d / "eta" / "config.yaml").write_text(
        "name: trip-eta\ntask: regression\nlabel: m\ndata: {source: {csv: d.csv}}\n"
        + FEATURES + "eval: {metrics: [{name: mae, upper_bound: 9}]}\n")
    return d


def test_one_dag_per_config_with_schedule_and_tasks(configs, tmp_path):
    out = _result(airflow_python(DAGBAG, airflow_env(tmp_path / "home", configs)))
    assert out["import_errors"] == {}
    dags = out["dags"]
    assert sorted(dags) == ["churn", "penguin-species", "trip-eta"]

    penguins = dags["penguin-species"]  # the template: @daily, with an inference section
    assert penguins["timetable"] == "CronTriggerTimetable" and penguins["schedule"] == "@daily"
    assert penguins["catchup"] is False and penguins["max_active_runs"] == 1
    assert penguins["tags"] == ["multiclass", "tfxkit"]
    assert penguins["tasks"] == {
        "train": {"downstream": ["predict"], "type": "TfxkitRunOperator",
                  "argv": ["run", str(configs / "penguins.yaml")], "not_blessed": "skip"},
        "predict": {"downstream": [], "type": "TfxkitRunOperator",
                    "argv": ["predict", str(configs / "penguins.yaml")],
                    "not_blessed": "skip"},
    }
    assert dags["churn"]["schedule"] == "0 3 * * 1"
    assert list(dags["churn"]["tasks"]) == ["train"]  # no inference section, no predict
    # no schedule in the config: triggered by hand (or by an API call) only
    assert dags["trip-eta"]["timetable"] == "NullTimetable"
    assert dags["trip-eta"]["tasks"]["train"]["argv"] == ["run", str(configs / "eta" /
                                                                     "config.yaml")]
    # parsing read the configs with tfxkit's loader and imported nothing else of tfxkit,
    # nor TFX, TensorFlow or DuckDB
    assert out["heavy"] == [] and out["loader"] is True


def test_broken_configs_are_reported_and_the_others_load(configs, tmp_path):
    (configs / "bad-yaml.yaml").write_text("name: bad\n  task: [\n")
    (configs / "no-label.yaml").write_text("name: no-label\ntask: binary\ndata: {}\n")
    (configs / "twin.yaml").write_text(
        "name: churn\ntask: binary\nlabel: y\ndata: {source: {csv: x.csv}}\n" + BINARY)
    (configs / "bad-cron.yaml").write_text(  # rejected by load_config
        "name: bad-cron\ntask: binary\nlabel: y\ndata: {source: {csv: x.csv}}\n"
        "schedule: 'every tuesday'\n" + BINARY)
    (configs / "bad-minute.yaml").write_text(  # five fields: rejected by Airflow's parser
        "name: bad-minute\ntask: binary\nlabel: y\ndata: {source: {csv: x.csv}}\n"
        "schedule: '61 3 * * *'\n" + BINARY)
    (configs / "no-metric.yaml").write_text(  # what only the full validation sees
        "name: no-metric\ntask: binary\nlabel: y\ndata: {source: {csv: x.csv}}\n"
        + FEATURES)
    env = airflow_env(tmp_path / "home", configs)
    out = _result(airflow_python(DAGBAG, env))
    assert sorted(out["dags"]) == ["churn", "penguin-species", "trip-eta"]
    [(file, error)] = out["import_errors"].items()
    assert file == str(DAGS_FOLDER / "tfxkit_dags.py")
    assert error.startswith("BrokenTfxkitConfigs: 6 tfxkit config(s) rejected")
    lines = error.splitlines()
    assert f"- {configs / 'bad-yaml.yaml'}: not valid YAML: mapping values are not allowed " \
           "here (line 2, column 7)" in lines
    # the rest in load_config's own words (what `tfxkit run` says)
    assert f"- {configs / 'no-label.yaml'}: label: required but missing; also " \
           "data.source: required but missing" in lines  # every problem, on its one line
    assert any(ln.startswith(f"- {configs / 'twin.yaml'}: name: 'churn' is already the DAG "
                             f"of {configs / 'churn.yaml'}") for ln in lines)
    assert f"- {configs / 'bad-cron.yaml'}: schedule: 'every tuesday' is neither a cron " \
           "expression (5 fields) nor one of ['@daily', '@hourly', '@monthly', '@once', " \
           "'@weekly', '@yearly']" in lines
    assert any(ln.startswith(f"- {configs / 'bad-minute.yaml'}: schedule: ") for ln in lines)
    assert f"- {configs / 'no-metric.yaml'}: eval.metrics: give at least one metric with a " \
           "lower_bound or upper_bound; without one TFMA never blesses and nothing is " \
           "pushed" in lines


def test_profiles_are_merged_as_load_config_merges_them(tmp_path):
    """The DAGs follow load_config with the profile: a deep merge. The old factory took a
    profile's name, schedule and inference shallowly and nothing else: here that would
    leave churn's inference without source and key, and load a DAG for `mixed`, whose
    every run `tfxkit run --profile prod` rejects (csv and parquet, merged deeply)."""
    from tfxkit.pipelines.config import ConfigError, load_config

    d = tmp_path / "configs"
    d.mkdir()
    (d / "churn.yaml").write_text(textwrap.dedent("""\
        name: churn
        task: binary
        label: churned
        data: {source: {csv: data/churn.csv}}
        schedule: "0 3 * * 1"
        inference: {source: {csv: data/new.csv}, key: id}
        profiles:
          prod:
            schedule: "0 5 * * *"
            inference: {store: {postgres: "postgresql://tfxkit@db:5432/predictions"}}
        """) + BINARY)
    (d / "mixed.yaml").write_text(
        "name: mixed\ntask: binary\nlabel: y\ndata: {source: {csv: d.csv}}\n" + BINARY
        + "profiles: {prod: {data: {source: {parquet: d.parquet}}}}\n")
    (d / "eta.yaml").write_text(  # the profile in a side file
        "name: trip-eta\ntask: regression\nlabel: m\ndata: {source: {csv: d.csv}}\n"
        + FEATURES + "eval: {metrics: [{name: mae, upper_bound: 9}]}\n")
    (d / "eta.prod.yaml").write_text("name: trip-eta-prod\nschedule: '@hourly'\n"
                                     "inference: {source: {csv: new.csv}, key: trip}\n")
    churn = load_config(d / "churn.yaml", profile="prod")
    assert churn.inference.key == "id" and churn.inference.store.kind == "postgres"
    eta = load_config(d / "eta.yaml", profile="prod")
    with pytest.raises(ConfigError) as mixed:
        load_config(d / "mixed.yaml", profile="prod")

    env = airflow_env(tmp_path / "home", d, TFXKIT_AIRFLOW_PROFILE="prod")
    out = _result(airflow_python(DAGBAG, env))
    dags = out["dags"]
    assert sorted(dags) == ["churn", "trip-eta-prod"]
    assert dags["churn"]["schedule"] == churn.schedule == "0 5 * * *"
    assert dags["churn"]["tasks"]["train"]["downstream"] == ["predict"]
    assert dags["churn"]["tasks"]["predict"]["argv"] == ["predict", str(d / "churn.yaml"),
                                                         "--profile", "prod"]
    assert dags["trip-eta-prod"]["schedule"] == eta.schedule == "@hourly"
    assert dags["trip-eta-prod"]["tasks"]["train"]["downstream"] == ["predict"]
    [error] = out["import_errors"].values()
    assert f"- {mixed.value}" in error.splitlines()
    assert str(mixed.value) == (f"{d / 'mixed.yaml'}: data.source: give exactly one of csv, "
                                "parquet, tfrecord, bigquery (got csv, parquet)")


OPERATOR = textwrap.dedent("""
    import json, logging, os
    from infra.airflow.operator import TfxkitRunOperator
    from airflow.sdk.exceptions import AirflowFailException
    lines = []
    class Grab(logging.Handler):
        def emit(self, record):
            lines.append(record.getMessage())
    grab = logging.getLogger("grab")
    grab.addHandler(Grab())
    grab.setLevel(logging.INFO)
    class Op(TfxkitRunOperator):  # the task logger, captured
        log = property(lambda self: grab)
    out = {}
    for name, kw in json.loads(os.environ["CASES"]).items():
        op = Op(task_id=name, **kw)
        del lines[:]
        try:
            out[name] = {"ok": op.execute({})}
        except Exception as e:
            out[name] = {"error": type(e).__name__, "message": str(e),
                         "fail_fast": isinstance(e, AirflowFailException)}
        start = [i for i, ln in enumerate(lines) if ln.startswith("Running: ")] or [0]
        out[name]["log"] = lines[start[0]:]
    print("RESULT:" + json.dumps(out))
""")

# The fake tfxkit acts on the config's file name.
FAKE = textwrap.dedent("""\
    case=$(basename "$2" .yaml)
    case $case in
      boom)
        echo "tfxkit $1 pipeline: 333 rows"
        echo "  ExampleGen         ran         1.2 s"
        echo "  Trainer            failed      0.4 s"
        echo "Traceback (most recent call last):" >&2
        echo "Run failed in Trainer: boom" >&2
        echo "  see the log above" >&2
        exit 1;;
      bad-config)
        echo "config error: $2: model.epochs: must be positive" >&2
        echo "$2: lable: unknown key (did you mean label?)" >&2; exit 2;;
      noisy)
        for i in 1 2 3 4 5 6 7 8 9 10 11 12; do echo "line $i"; done; exit 3;;
      weak)
        echo "Model NOT blessed (no baseline yet: absolute thresholds only)"
        echo "  FAIL accuracy  0.4100  [>= 0.9]"
        echo "Not pushed: the model was not blessed by the Evaluator (accuracy 0.41 < 0.9)"
        exit 3;;
      *)
        echo "args: $*"
        echo "PYTHONUNBUFFERED=$PYTHONUNBUFFERED TF_USE_LEGACY_KERAS=$TF_USE_LEGACY_KERAS";;
    esac
    """)


def _run_operators(tmp_path, cases, tfxkit_bin=None):
    fake = tfxkit_bin or fake_tfxkit(tmp_path / "tfxkit", FAKE)
    env = airflow_env(tmp_path / "home", tmp_path, TFXKIT_BIN=fake, CASES=json.dumps(cases),
                      PYTHONPATH=ROOT)  # infra.airflow without the DAG file
    return _result(airflow_python(OPERATOR, env))


def test_operator(tmp_path):
    c = str(tmp_path / "{}.yaml")
    out = _run_operators(tmp_path, {
        "boom": {"config": c.format("boom")},
        "boom_predict": {"config": c.format("boom"), "command": "predict"},
        "boom_vertex": {"config": c.format("boom"), "target": "vertex"},
        "bad_config": {"config": c.format("bad-config")},
        "noisy": {"config": c.format("noisy"), "command": "predict"},
        "ok": {"config": c.format("ok")},
        "ok_predict": {"config": c.format("ok"), "command": "predict"},
        "ok_vertex": {"config": c.format("ok"), "target": "vertex", "profile": "prod"},
        "weak": {"config": c.format("weak")},
        "weak_fail": {"config": c.format("weak"), "not_blessed": "fail"},
    })
    # The pipeline's error fails the task (retries apply) ...
    boom = out["boom"]
    assert boom["error"] == "TfxkitRunFailed" and not boom["fail_fast"]
    assert boom["message"] == (f"tfxkit run {c.format('boom')} failed (exit 1): "
                               "Run failed in Trainer: boom")
    # ... and every line of the command (stdout and stderr) reached the task log, in order
    assert boom["log"] == [f"Running: {tmp_path / 'tfxkit'} run {c.format('boom')}",
                           "tfxkit run pipeline: 333 rows",
                           "  ExampleGen         ran         1.2 s",
                           "  Trainer            failed      0.4 s",
                           "Traceback (most recent call last):", "Run failed in Trainer: boom",
                           "  see the log above"]
    assert out["boom_predict"]["message"] == (f"tfxkit predict {c.format('boom')} failed "
                                              "(exit 1): Run failed in Trainer: boom")
    assert out["boom_vertex"]["message"] == (f"tfxkit deploy --target vertex {c.format('boom')}"
                                             " failed (exit 1): Run failed in Trainer: boom")
    # A rejected config fails at once: retrying cannot help.
    bad = out["bad_config"]
    assert bad["error"] == "TfxkitConfigError" and bad["fail_fast"]
    assert bad["message"].endswith(  # every problem, one line each
        f"(exit 2): config error: {c.format('bad-config')}: model.epochs: must be positive\n"
        f"{c.format('bad-config')}: lable: unknown key (did you mean label?)")
    # No recognisable error line: the last ten lines.
    msg = out["noisy"]["message"]
    assert msg.startswith(f"tfxkit predict {c.format('noisy')} failed (exit 3): line 3\n")
    assert msg.endswith("line 12") and "line 2\n" not in msg

    # A run that completed without a blessed model (exit 3): skipped by default (its
    # downstream tasks too), or failed without retries; the message is the gate's reason.
    why = ("completed, nothing pushed: Not pushed: the model was not blessed by the "
           "Evaluator (accuracy 0.41 < 0.9)")
    assert out["weak"]["error"] == "AirflowSkipException"
    assert out["weak"]["message"] == f"tfxkit run {c.format('weak')}: {why}"
    assert out["weak_fail"]["error"] == "TfxkitNotBlessed" and out["weak_fail"]["fail_fast"]
    assert out["weak_fail"]["message"] == out["weak"]["message"]

    assert out["ok"]["ok"] == {"command": "run", "config": c.format("ok"), "returncode": 0}
    assert f"args: run {c.format('ok')}" in out["ok"]["log"]
    assert "PYTHONUNBUFFERED=1 TF_USE_LEGACY_KERAS=1" in out["ok"]["log"]
    assert f"args: predict {c.format('ok')}" in out["ok_predict"]["log"]
    # Vertex: submitted through the TFX environment's `tfxkit deploy`, waiting for the job
    assert (f"args: deploy {c.format('ok')} --target vertex --wait --profile prod"
            in out["ok_vertex"]["log"])


def test_missing_tfxkit_executable_is_a_clear_error(tmp_path):
    out = _run_operators(tmp_path, {"run": {"config": "/tmp/c/config.yaml"}},
                         tfxkit_bin=tmp_path / "nope" / "tfxkit")
    assert out["run"]["fail_fast"]
    assert f"tfxkit executable not found at {tmp_path / 'nope' / 'tfxkit'}" in \
        out["run"]["message"]
    assert "TFXKIT_BIN" in out["run"]["message"]


def test_dags_test_fails_the_run_with_the_pipelines_error(configs, tmp_path):
    """The real thing with a fake pipeline, beside a broken config: Airflow reports the
    broken one; `airflow dags test` runs train, which fails with the pipeline's error, and
    predict does not run."""
    (configs / "bad-yaml.yaml").write_text("name: bad\n  task: [\n")
    calls = tmp_path / "calls.txt"
    fake = fake_tfxkit(tmp_path / "tfxkit", f'echo "$*" >> {calls}\n'
                       'echo "  Transform ran 1.0 s"; echo "Run failed in Trainer: boom" >&2\n'
                       "exit 1\n")
    env = airflow_env(tmp_path / "home", configs, TFXKIT_BIN=fake)
    assert airflow("db", "migrate", env=env, timeout=300).returncode == 0
    # what Airflow's own CLI shows (the "Broken DAG" banner of the UI)
    r = airflow("dags", "list-import-errors", "--local", "-o", "json", env=env, timeout=300)
    assert r.returncode == 1  # Airflow's way of saying "there are import errors"
    [row] = json.loads(r.stdout[r.stdout.index("["):])
    assert row["filepath"] == str(DAGS_FOLDER / "tfxkit_dags.py")
    assert f"{configs / 'bad-yaml.yaml'}: not valid YAML" in row["error"]
    r = airflow("dags", "test", "penguin-species", env=env, timeout=300)
    assert r.returncode != 0
    log = r.stdout + r.stderr
    assert "DagRun failed" in log
    assert "Transform ran 1.0 s" in log  # streamed into the task log
    assert (f"TfxkitRunFailed: tfxkit run {configs / 'penguins.yaml'} failed (exit 1): "
            "Run failed in Trainer: boom") in log
    assert calls.read_text().splitlines() == [f"run {configs / 'penguins.yaml'}"]


def test_airflow_environment_has_no_tfx():
    import subprocess

    r = subprocess.run([str(AIRFLOW_PY), "-c", "import importlib.util as u, sys; "
                        "sys.exit(any(u.find_spec(m) for m in ('tfx', 'tensorflow')))"])
    assert r.returncode == 0, "TFX or TensorFlow is installed in .venv-airflow"
