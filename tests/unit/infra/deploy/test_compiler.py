"""Kubeflow V2 / Vertex (``infra/deploy/compiler.py``): compile every template (both
targets), read the spec back with kfp's protobufs, and assert tasks, dependencies,
executors, images and parameters; the configs that cannot compile; no secret in a spec.
What `tfxkit deploy` would send is tested in test_submit.py, the executors on remote URIs
in tests/unit/components/example_gen/test_executor.py and validation_gate/test_executor.py."""
import json
from pathlib import Path

import pytest
from google.protobuf import json_format

from tfxkit.infra.deploy import compiler
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


def compile_specs(out, pairs):
    """{(template, target): (cfg, path, dict)}: each compiled once (no pipeline runs)."""
    result = {}
    for template, target in pairs:
        cfg = vertex_cfg(template)
        path = compiler.compile_pipeline(cfg, target, str(out / f"{template}-{target}.json"))
        result[template, target] = (cfg, path, json.loads(Path(path).read_text()))
    return result


@pytest.fixture(scope="module")
def compiled(tmp_path_factory):
    """Every template for every target (compile_specs)."""
    return compile_specs(tmp_path_factory.mktemp("compiled"),
                         [(t, target) for t in TEMPLATES for target in compiler.TARGETS])


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
