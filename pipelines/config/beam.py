"""``beam:``: where the Beam-based components run (direct, Dataflow, Flink, Spark)."""
from __future__ import annotations

from typing import List, Literal, Optional

from pydantic import Field, model_validator

from .base import _Strict


class DataflowRunner(_Strict):
    """Google Cloud Dataflow (``--runner=DataflowRunner``). Workers need tfx and tfxkit:
    give ``sdk_container_image`` (the image infra builds) or tfxkit's ``setup.py`` is
    staged (``setup_file``, the default when no image is given)."""

    project: str
    region: str
    temp_location: str                      # gs://bucket/tmp
    staging_location: Optional[str] = None  # gs://bucket/staging (default: temp_location)
    machine_type: Optional[str] = None      # e.g. n1-standard-4
    num_workers: Optional[int] = Field(None, ge=1)
    max_workers: Optional[int] = Field(None, ge=1)
    sdk_container_image: Optional[str] = None
    setup_file: Optional[str] = None
    service_account_email: Optional[str] = None
    network: Optional[str] = None
    subnetwork: Optional[str] = None
    experiments: List[str] = []


_ENV_TYPES = Literal["DOCKER", "PROCESS", "EXTERNAL", "LOOPBACK"]


class _PortableRunner(_Strict):
    """Beam's portable runners: a job server at ``job_endpoint`` (``--runner=
    PortableRunner``), SDK workers in ``environment_type`` (DOCKER: ``sdk_container_image``;
    PROCESS: ``environment_config`` is the JSON command; EXTERNAL: a worker pool address;
    LOOPBACK: this process, for testing)."""

    job_endpoint: Optional[str] = None       # host:port of a running job server
    environment_type: Optional[_ENV_TYPES] = None  # Beam's default is DOCKER
    environment_config: Optional[str] = None
    sdk_container_image: Optional[str] = None
    setup_file: Optional[str] = None
    sdk_worker_parallelism: Optional[int] = Field(None, ge=0)

    @model_validator(mode="after")
    def _env(self):
        if self.environment_type == "DOCKER" and self.environment_config:
            raise ValueError("environment_config: for DOCKER give the image as "
                             "sdk_container_image")
        if self.environment_type in ("PROCESS", "EXTERNAL") and not self.environment_config:
            raise ValueError(f"environment_config: {self.environment_type} needs one (PROCESS: "
                             '{"command": "/path/to/boot"}, EXTERNAL: host:port of a worker pool)')
        return self


class FlinkRunner(_PortableRunner):
    """Flink: ``flink_master`` (host:port of the Flink REST API; ``--runner=FlinkRunner``
    starts Beam's Flink job server) or ``job_endpoint`` of a Flink job server."""

    flink_master: Optional[str] = None
    flink_version: Optional[str] = None
    parallelism: Optional[int] = Field(None, ge=1)

    @model_validator(mode="after")
    def _one(self):
        if bool(self.flink_master) == bool(self.job_endpoint):
            raise ValueError("give exactly one of flink_master, job_endpoint")
        return self


class SparkRunner(_PortableRunner):
    """Spark: ``spark_master_url`` (spark://host:7077; ``--runner=SparkRunner`` starts
    Beam's Spark job server) or ``job_endpoint`` of a Spark job server."""

    spark_master_url: Optional[str] = None
    spark_rest_url: Optional[str] = None     # submit an uber jar through the REST API
    spark_version: Optional[str] = None

    @model_validator(mode="after")
    def _one(self):
        if bool(self.spark_master_url) == bool(self.job_endpoint):
            raise ValueError("give exactly one of spark_master_url, job_endpoint")
        return self


# Data size (MB of the source's files) and cores from which ``mode: auto`` runs Beam's
# multi-process direct runner (README "Big data"): on 2 cores it lost at 14 MB (300k ETA
# rows: 187 s vs 143 s in memory, Transform no faster, StatisticsGen and Evaluator slower
# by their workers' start-up), so 2 cores stay in memory whatever the size.
# In process (no Beam pipeline) up to 512 MB of examples: StatisticsGen and Transform
# read them batch by batch, keeping what components/transform/README.md says; at
# 3M ETA rows (101.5 MB) that took Transform from 563 s on Beam to 120-150 s.
AUTO_MIN_MB = 50.0
AUTO_MIN_CORES = 4
IN_PROCESS_MAX_MB = 512.0


class Beam(_Strict):
    """Where Beam-based components (ExampleGen, StatisticsGen, Transform, Evaluator, ...)
    run. ``direct``: in this machine, ``mode`` in_memory (no Beam arguments at all),
    multi_processing or multi_threading with ``workers`` (0: one per core), or ``auto``
    (the default): multi_processing with one worker per core when the source's files
    hold at least ``auto_min_mb`` megabytes and the machine has at least
    ``auto_min_cores`` cores, else in_memory (``pipelines/beam_args.py`` resolves it;
    Beam's multi-process mode starts its workers anew in every Beam component, which only
    pays on large data and spare cores).
    ``in_process_max_mb``: with the direct runner in memory, StatisticsGen and Transform
    compute on examples of at most this many MB (on disk) in their own process, without a
    Beam pipeline (``components/statistics_gen``: TFDV's generators batch by batch;
    ``components/transform``: tf.Transform's own plan and combiners, the same outputs);
    0 always builds the Beam pipeline.
    ``dataflow``, ``flink``, ``spark``: the runner's section below must be given (the
    sections of other runners may stay, e.g. in the base config while a profile picks the
    runner). ``extra_args`` are appended as they are."""

    runner: Literal["direct", "dataflow", "flink", "spark"] = "direct"
    mode: Literal["auto", "in_memory", "multi_processing", "multi_threading"] = "auto"
    workers: int = Field(0, ge=0)
    auto_min_mb: float = Field(AUTO_MIN_MB, gt=0)
    auto_min_cores: int = Field(AUTO_MIN_CORES, ge=2)
    in_process_max_mb: float = Field(IN_PROCESS_MAX_MB, ge=0)
    dataflow: Optional[DataflowRunner] = None
    flink: Optional[FlinkRunner] = None
    spark: Optional[SparkRunner] = None
    extra_args: List[str] = []

    @model_validator(mode="after")
    def _runner(self):
        if self.runner != "direct" and getattr(self, self.runner) is None:
            raise ValueError(f"runner {self.runner}: give its settings in "
                             f"beam.{self.runner} (e.g. {_RUNNER_EXAMPLE[self.runner]})")
        if self.runner == "direct" and self.mode == "in_memory" and self.workers > 1:
            raise ValueError(f"workers: {self.workers} workers need mode multi_processing "
                             "or multi_threading (in_memory runs in one thread)")
        return self


_RUNNER_EXAMPLE = {
    "dataflow": "{project: my-project, region: europe-west1, temp_location: gs://b/tmp}",
    "flink": "{flink_master: flink:8081, environment_type: DOCKER}",
    "spark": "{job_endpoint: spark-job-server:8099, environment_type: DOCKER}",
}
