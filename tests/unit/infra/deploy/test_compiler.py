"""Kubeflow V2 / Vertex: compile every template (both targets), read the spec back with
kfp's protobufs, and assert tasks, dependencies, executors, images and parameters; the
configs that cannot compile; the Vertex create request that `tfxkit deploy` would send
(the client call is patched, nothing leaves this machine); no secret in a spec."""
import json
from pathlib import Path
from unittest import mock

import pytest
from google.protobuf import json_format

from tfxkit.infra.deploy import compiler, submit
from tfxkit.pipelines import compat
from tfxkit.pipelines.config import ConfigError, load_config

ROOT = Path(__file__).resolve().parents[4]
TEMPLATES = ["multiclass", "binary", "regression"]
IMAGE = "us-central1-docker.pkg.dev/my-project/tfxkit/case:abc123"

TFX_ENTRYPOINT = ["python", "-m", "tfx.orchestration.kubeflow.v2.container.kubeflow_v2_run_executor"]
EXECUTORS = {
    "ExampleGen": "tfxkit.components.example_gen.executor.Executor",
    "StatisticsGen": "tfx.components.statistics_gen.executor.Executor",
    "SchemaGen": "tfx.components.schema_gen.executor.Executor",
    "ExampleValidator": "tfx.components.example_validator.executor.Executor",
    "ValidationGate": "tfxkit.components.validation_gate.executor.Executor",
    "Transform": "tfx.components.transform.executor.Executor",
    "Trainer": "tfxkit.components.trainer.executor.Executor",
    "Evaluator": "tfx.components.evaluator.executor.Executor",
    "Pusher": "tfx.components.pusher.executor.Executor",
}
RESOLVERS = ["BaselineResolver-model-blessing-resolver", "BaselineResolver-model-resolver"]
# task -> the tasks it must wait for
DEPENDS = {
    "ExampleGen": [],
    "StatisticsGen": ["ExampleGen"],
    "SchemaGen": ["StatisticsGen"],
    "ExampleValidator": ["SchemaGen", "StatisticsGen"],
    "ValidationGate": ["ExampleValidator"],
    "Transform": ["ExampleGen", "SchemaGen", "ValidationGate"],
    "Trainer": ["SchemaGen", "Transform"],
    "Evaluator": ["BaselineResolver-model-resolver", "ExampleGen", "SchemaGen", "Trainer"],
    "Pusher": ["Evaluator", "Trainer"],
}


def vertex_cfg(template="multiclass", *sets, profile="vertex"):
    return load_config(ROOT / "templates" / template / "config.yaml", profile=profile,
                       overrides=[f"deploy.image={IMAGE}", *sets])


@pytest.fixture(scope="module")
def compiled(tmp_path_factory):
    """{(template, target): (cfg, path, dict)}: each compiled once (no pipeline runs)."""
    out = tmp_path_factory.mktemp("compiled")
    result = {}
    for template in TEMPLATES:
        for target in compiler.TARGETS:
            cfg = vertex_cfg(template)
            path = compiler.compile_pipeline(cfg, target, str(out / f"{template}-{target}.json"))
            result[template, target] = (cfg, path, json.loads(Path(path).read_text()))
    return result


def _spec(target, d):
    from kfp.pipeline_spec import pipeline_spec_pb2 as pb

    if target == "vertex":  # a PipelineJob wrapping the PipelineSpec
        job = json_format.ParseDict(d, pb.PipelineJob())
        spec = json_format.ParseDict(d["pipelineSpec"], pb.PipelineSpec())
        return job, spec
    return None, json_format.ParseDict(d, pb.PipelineSpec())


@pytest.mark.parametrize("target", compiler.TARGETS)
@pytest.mark.parametrize("template", TEMPLATES)
def test_compiled_spec(compiled, template, target):
    cfg, path, d = compiled[template, target]
    job, spec = _spec(target, d)
    assert spec.pipeline_info.name == cfg.name
    assert spec.schema_version == "2.1.0" and spec.sdk_version == f"tfx-{compat.tfx_version()}"
    tasks = spec.root.dag.tasks
    assert set(tasks) == set(EXECUTORS) | set(RESOLVERS)
    for name, deps in DEPENDS.items():
        assert sorted(tasks[name].dependent_tasks) == deps, name
        assert tasks[name].caching_options.enable_cache
    # the chain ExampleGen -> ... -> Pusher, through each task's input artifacts
    producer = {name: {k: a.task_output_artifact.producer_task
                       for k, a in tasks[name].inputs.artifacts.items()} for name in tasks}
    assert producer["StatisticsGen"] == {"examples": "ExampleGen"}
    assert producer["SchemaGen"] == {"statistics": "StatisticsGen"}
    assert producer["ValidationGate"] == {"anomalies": "ExampleValidator"}
    assert producer["Trainer"]["examples"] == "Transform"
    assert producer["Evaluator"]["model"] == "Trainer"
    assert producer["Evaluator"]["baseline_model"] == "BaselineResolver-model-resolver"
    assert producer["Pusher"] == {"model": "Trainer", "model_blessing": "Evaluator"}

    executors = spec.deployment_spec["executors"]
    for name, cls in EXECUTORS.items():
        label = spec.components[tasks[name].component_ref.name].executor_label
        c = executors[label]["container"]
        assert c["image"] == IMAGE
        assert list(c["command"]) == TFX_ENTRYPOINT
        assert list(c["args"])[:2] == ["--executor_class_path", cls], name
    for name in RESOLVERS:  # TFX's latest-blessed-model resolver, as two queries
        label = spec.components[tasks[name].component_ref.name].executor_label
        assert "resolver" in executors[label]

    # per-run parameters, defaults from the config, wired into the Trainer
    params = spec.root.input_definitions.parameters
    assert set(params) == {"epochs", "train_steps", "learning_rate"}
    from kfp.pipeline_spec.pipeline_spec_pb2 import ParameterType

    assert params["epochs"].parameter_type == ParameterType.NUMBER_INTEGER
    assert params["train_steps"].parameter_type == ParameterType.NUMBER_INTEGER
    assert params["learning_rate"].parameter_type == ParameterType.NUMBER_DOUBLE
    assert params["epochs"].default_value.number_value == cfg.model.epochs
    assert params["train_steps"].default_value.number_value == (cfg.model.steps or 0)
    assert params["learning_rate"].default_value.number_value == pytest.approx(
        cfg.model.learning_rate)
    for p in ("epochs", "train_steps", "learning_rate"):
        assert tasks["Trainer"].inputs.parameters[p].component_input_parameter == p

    # remote paths only
    eg = tasks["ExampleGen"].inputs.parameters
    assert eg["input_base"].runtime_value.constant.string_value.startswith("gs://my-bucket/")
    push = tasks["Pusher"].inputs.parameters["push_destination"]
    assert "gs://my-bucket/" in push.runtime_value.constant.string_value
    root = f"gs://my-bucket/pipelines/{cfg.name}"
    if target == "vertex":
        assert job.display_name == cfg.name
        assert job.runtime_config.gcs_output_directory == root
        assert job.runtime_config.parameter_values["epochs"].number_value == cfg.model.epochs
    else:
        assert spec.default_pipeline_root == root
    assert str(ROOT) not in Path(path).read_text()  # nothing points at this machine
    assert compiler.pipeline_parameters(d) == {
        "epochs": cfg.model.epochs, "train_steps": cfg.model.steps or 0,
        "learning_rate": pytest.approx(cfg.model.learning_rate)}


def test_user_modules_point_into_the_image(template_copy, tmp_path):
    case = template_copy("multiclass")
    (case / "model.py").write_text("def build_model(task, features, model_cfg, n): ...\n")
    cfg = load_config(case / "config.yaml", profile="vertex",
                      overrides=[f"deploy.image={IMAGE}", "model.module=model.py",
                                 "deploy.workdir=/srv/case"])
    d = compiler.compile_spec(cfg, "kubeflow")
    trainer = d["root"]["dag"]["tasks"]["Trainer"]["inputs"]["parameters"]
    custom = json.loads(trainer["custom_config"]["runtimeValue"]["constant"])
    assert custom["model"]["module"] == "/srv/case/model.py"
    assert str(case) not in json.dumps(d)


BAD = [  # (overrides, profile, field, words in the reason)
    ([], None, "deploy", "needs a deploy section"),
    (["deploy.image=null"], "vertex", "deploy.image", "container image"),
    (["deploy.pipeline_root=/var/lib/tfxkit"], "vertex", "deploy.pipeline_root",
     "local path"),
    (["deploy.pipeline_root=s3://b/x"], "vertex", "deploy.pipeline_root", "gs://"),
    (["data.source.csv=data/penguins.csv"], "vertex", "data.source.csv", "local path"),
    (["push.registry=models"], "vertex", "push.registry", "local path"),
    (["data.source.csv=gs://b/d/{SPAN}/p.csv"], "vertex", "data.source.csv", "spans"),
    (["data.source.csv=gs://b/d/{SPAN}/p.csv", "data.rolling_window=3"], "vertex",
     "data.rolling_window", "resolver"),
    (["features.module=../../outside.py"], "vertex", "features.module", "outside"),
]


@pytest.mark.parametrize("sets,profile,field,words", BAD)
def test_config_that_cannot_compile_names_the_field(sets, profile, field, words):
    cfg = load_config(ROOT / "templates/multiclass/config.yaml", profile=profile,
                      overrides=sets)
    with pytest.raises(ConfigError) as e:
        compiler.check_target(cfg, "vertex")
    assert e.value.field == field and words in e.value.reason, str(e.value)


def test_kubeflow_takes_any_remote_store_and_vertex_needs_a_project():
    cfg = vertex_cfg("multiclass", "deploy.pipeline_root=s3://b/x",
                     "data.source.csv=s3://b/p.csv", "push.registry=minio://b/models")
    compiler.check_target(cfg, "kubeflow")
    cfg = vertex_cfg("multiclass", "deploy.project=null")
    compiler.check_target(cfg, "vertex")  # compiling needs none
    with pytest.raises(ConfigError, match="deploy.project"):
        compiler.check_target(cfg, "vertex", submitting=True)


def test_deploy_section_is_strict():
    with pytest.raises(ConfigError) as e:
        vertex_cfg("multiclass", "deploy.regoin=x")
    assert e.value.field == "deploy.regoin" and "unknown key" in e.value.reason
    with pytest.raises(ConfigError, match="deploy.schedule"):
        vertex_cfg("multiclass", "deploy.schedule=every day")
    with pytest.raises(ConfigError, match="deploy.service_account"):
        vertex_cfg("multiclass", "deploy.service_account=runner")


def test_no_secret_in_the_compiled_spec(tmp_path, monkeypatch):
    secret = "s3cr3t-Pa55w0rd-7731"
    monkeypatch.setenv("TFXKIT_TEST_PG_PASSWORD", secret)
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(tmp_path / f"{secret}.json"))
    cfg = vertex_cfg("multiclass",
                     "inference.store={postgres: 'postgresql://u@127.0.0.1:5432/db', "
                     "password_env: TFXKIT_TEST_PG_PASSWORD}")
    text = Path(compiler.compile_pipeline(cfg, "vertex", str(tmp_path / "s.json"))).read_text()
    assert secret not in text
    assert "TFXKIT_TEST_PG_PASSWORD" not in text  # not even the variable's name


@pytest.fixture
def no_cloud():
    """Patches the Vertex client calls; captures what they would send."""
    from google.cloud.aiplatform.utils import gcs_utils
    from google.cloud.aiplatform_v1.services.pipeline_service import PipelineServiceClient
    from google.cloud.aiplatform_v1.services.schedule_service import ScheduleServiceClient

    sent = {}

    def create_pipeline_job(self, parent, pipeline_job, pipeline_job_id, timeout=None):
        sent["job"] = dict(parent=parent, pipeline_job=pipeline_job, job_id=pipeline_job_id)
        out = type(pipeline_job)(pipeline_job)
        out.name = f"{parent}/pipelineJobs/{pipeline_job_id}"
        return out

    def create_schedule(self, parent, schedule, timeout=None):
        sent["schedule"] = dict(parent=parent, schedule=schedule)
        out = type(schedule)(schedule)
        out.name = f"{parent}/schedules/123"
        return out

    old = mock.Mock(resource_name="projects/p/locations/l/schedules/old")
    with mock.patch.object(PipelineServiceClient, "create_pipeline_job", create_pipeline_job), \
            mock.patch.object(ScheduleServiceClient, "create_schedule", create_schedule), \
            mock.patch.object(gcs_utils, "create_gcs_bucket_for_pipeline_artifacts_if_it_does_not_exist"), \
            mock.patch("google.cloud.aiplatform.PipelineJobSchedule.list",
                       return_value=[old]) as listed:
        sent["old"], sent["list"] = old, listed
        yield sent


def test_submit_request(compiled, no_cloud):
    from google.auth.credentials import AnonymousCredentials

    cfg, path, _ = compiled["multiclass", "vertex"]
    values = submit.parse_parameter_values(cfg, path, {"epochs": "5", "learning_rate": "0.003"})
    assert values == {"epochs": 5, "learning_rate": 0.003}
    job = submit.build_pipeline_job(cfg, path, values, job_id="penguin-species-run-1",
                                    credentials=AnonymousCredentials())
    assert submit.submit(cfg, job) is job
    req = no_cloud["job"]
    assert req["parent"] == "projects/my-project/locations/us-central1"
    assert req["job_id"] == "penguin-species-run-1"
    pj = req["pipeline_job"]
    assert pj.display_name == "penguin-species"
    assert pj.service_account == "tfxkit-runner@my-project.iam.gserviceaccount.com"
    assert pj.runtime_config.gcs_output_directory == "gs://my-bucket/pipelines/penguin-species"
    params = {k: v for k, v in pj.runtime_config.parameter_values.items()}
    assert params == {"epochs": 5, "learning_rate": 0.003, "train_steps": 0}
    assert pj.labels["tfxkit-pipeline"] == "penguin-species"
    assert pj.labels["tfxkit-config"] == cfg.fingerprint()
    spec = pj.pipeline_spec
    assert set(spec["root"]["dag"]["tasks"]) == set(EXECUTORS) | set(RESOLVERS)
    images = {e["container"]["image"] for e in spec["deploymentSpec"]["executors"].values()
              if "container" in e}
    assert images == {IMAGE}
    assert "schedule" not in no_cloud


def test_schedule_request_replaces_the_old_schedule(compiled, no_cloud):
    from google.auth.credentials import AnonymousCredentials

    cfg, path, _ = compiled["multiclass", "vertex"]
    job = submit.build_pipeline_job(cfg, path, credentials=AnonymousCredentials())
    sched = submit.submit(cfg, job, schedule=True)
    req = no_cloud["schedule"]
    assert req["parent"] == "projects/my-project/locations/us-central1"
    s = req["schedule"]
    assert s.display_name == "penguin-species-schedule"
    assert s.cron == "0 0 * * *"  # the config's @daily
    assert s.create_pipeline_job_request.pipeline_job.runtime_config.gcs_output_directory \
        == "gs://my-bucket/pipelines/penguin-species"
    assert "job" not in no_cloud
    assert 'display_name="penguin-species-schedule"' in no_cloud["list"].call_args.kwargs["filter"]
    no_cloud["old"].delete.assert_called_once()
    assert sched.resource_name.endswith("/schedules/123")


def test_schedule_needs_one():
    cfg = vertex_cfg("multiclass", "schedule=null")
    with pytest.raises(ConfigError, match="deploy.schedule"):
        submit.schedule_cron(cfg)
    assert submit.schedule_cron(vertex_cfg("multiclass", "deploy.schedule=30 2 * * 1")) \
        == "30 2 * * 1"


def test_unknown_parameter_is_named(compiled):
    cfg, path, _ = compiled["multiclass", "vertex"]
    with pytest.raises(ConfigError, match="--param epochz.*known: epochs"):
        submit.parse_parameter_values(cfg, path, {"epochz": "3"})
    with pytest.raises(ConfigError, match="--param epochs"):
        submit.parse_parameter_values(cfg, path, {"epochs": "many"})


def test_trainer_overrides():
    from tfxkit.components.trainer.overrides import apply

    base = {"task": "multiclass", "model": {"epochs": 30, "steps": None,
                                            "learning_rate": 0.01}}
    assert apply(base, epochs=0, train_steps=0, learning_rate=0.0) == base
    out = apply(base, epochs=5, train_steps=200, learning_rate=0.003)
    assert out["model"] == {"epochs": 5, "steps": 200, "learning_rate": 0.003}
    assert base["model"]["epochs"] == 30  # a copy
    with pytest.raises(ValueError, match="epochs"):
        apply(base, epochs=-1)


def test_arrow_example_gen_runs_on_remote_uris():
    """On Kubeflow / Vertex the data and the artifact are gs:// URIs: the executor stages
    them through a local folder (here TensorFlow's ram:// file system stands in for GCS)."""
    from google.protobuf.message import Message
    from tfx.dsl.io import fileio
    from tfx.types import standard_artifacts
    from tfx.utils import proto_utils

    from tfxkit.components.example_gen.component import ArrowExampleGen
    from tfxkit.components.example_gen.executor import Executor

    base = "ram://tfxkit-deploy-test/data"
    fileio.makedirs(base)
    fileio.copy(str(ROOT / "templates/multiclass/data/penguins.csv"), f"{base}/penguins.csv",
                overwrite=True)
    comp = ArrowExampleGen(input_base=base, pattern="*.csv")
    props = {k: proto_utils.proto_to_json(v) if isinstance(v, Message) else v
             for k, v in comp.exec_properties.items() if v is not None}
    examples = standard_artifacts.Examples()
    examples.uri = "ram://tfxkit-deploy-test/ExampleGen/examples/1"
    Executor().Do({}, {"examples": [examples]}, props)
    rows = examples.get_int_custom_property("rows_train") + \
        examples.get_int_custom_property("rows_eval")
    assert rows == 344
    for split in ("train", "eval"):
        written = fileio.glob(f"{examples.uri}/Split-{split}/*")
        assert len(written) == 1 and written[0].endswith(".gz")


def test_validation_gate_writes_remote_uris():
    from tfx.dsl.io import fileio
    from tfx.types import standard_artifacts

    from tfxkit.components.validation_gate.component import DataValidation
    from tfxkit.components.validation_gate.executor import Executor

    art = standard_artifacts.ExampleAnomalies()
    art.uri = "ram://tfxkit-deploy-test/anomalies"
    art.split_names = json.dumps(["train"])
    fileio.makedirs(f"{art.uri}/Split-train")
    with fileio.open(f"{art.uri}/Split-train/SchemaDiff.pb", "wb") as f:
        f.write(b"")
    out = DataValidation()
    out.uri = "ram://tfxkit-deploy-test/gate"
    fileio.makedirs(out.uri)
    Executor().Do({"anomalies": [art]}, {"result": [out]}, {"on_anomalies": "fail"})
    with fileio.open(f"{out.uri}/anomalies.json") as f:
        assert json.load(f) == []


def test_wait_echoes_states_and_fails_with_the_jobs_error():
    """deploy --wait (what the Airflow operator runs for Vertex): each state change is
    printed; a failed job raises with its own error message."""
    from google.cloud.aiplatform_v1.types import pipeline_state

    S = pipeline_state.PipelineState

    class Job:
        resource_name = "projects/p/locations/r/pipelineJobs/j1"

        def __init__(self, states, error=""):
            self._states = iter(states)
            self._gca_resource = mock.Mock()
            self._gca_resource.error.message = error

        @property
        def state(self):
            return next(self._states)

    lines = []
    submit.wait(Job([S.PIPELINE_STATE_PENDING, S.PIPELINE_STATE_RUNNING,
                     S.PIPELINE_STATE_RUNNING, S.PIPELINE_STATE_SUCCEEDED]),
                echo=lines.append, sleep=lambda s: None)
    assert [ln.split(": ")[1] for ln in lines] == [
        "PIPELINE_STATE_PENDING", "PIPELINE_STATE_RUNNING", "PIPELINE_STATE_SUCCEEDED"]
    with pytest.raises(submit.JobFailed, match="Run failed in Vertex pipeline job .*j1: "
                                               "Trainer: OOM"):
        submit.wait(Job([S.PIPELINE_STATE_RUNNING, S.PIPELINE_STATE_FAILED],
                        error="Trainer: OOM"), echo=lines.append, sleep=lambda s: None)
