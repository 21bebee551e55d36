"""Submitting to Vertex AI Pipelines (``infra/deploy/submit.py``): the create request that
`tfxkit deploy` would send (the client calls are patched, nothing leaves this machine),
the schedule that replaces the old one, run parameters, waiting for a job."""
from unittest import mock

import pytest

from tfxkit.infra.deploy import submit
from tfxkit.pipelines.config import ConfigError
from tests.unit.infra.deploy.test_compiler import (EXECUTORS, IMAGE, RESOLVERS, compile_specs,
                                                   vertex_cfg)


@pytest.fixture(scope="module")
def compiled(tmp_path_factory):
    """The multiclass template compiled for Vertex once (compile_specs): what is sent."""
    return compile_specs(tmp_path_factory.mktemp("compiled"), [("multiclass", "vertex")])


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
