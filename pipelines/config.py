"""The use-case config: one YAML file loaded once into typed models (pydantic v2).

Loading resolves profiles and ``--set`` overrides, validates types and names, and
resolves every relative path against the config file's folder. ``check_data``
then looks at the data itself (columns, emptiness) so that a bad config fails
before any component runs, with a message naming the file, the field and the
reason.

This module imports neither TensorFlow nor TFX: the CLI's ``validate`` path and
``--help`` stay fast.
"""
from __future__ import annotations

import copy
import glob
import hashlib
import json
import os
import re
from pathlib import Path
from typing import Any, Dict, List, Literal, Optional, Union

import yaml
from pydantic import (BaseModel, ConfigDict, Field, ValidationError,
                      field_validator, model_validator)

Task = Literal["binary", "multiclass", "regression"]
ScaleKind = Literal["z_score", "min_max", "log", "none"]
ImputeKind = Literal["mean", "median", "most_frequent"]


class ConfigError(ValueError):
    """A config that cannot run: names the file, the field and the reason."""

    def __init__(self, file: str, field: str, reason: str):
        self.file, self.field, self.reason = str(file), field, reason
        where = f"{self.file}: {field}: " if field else f"{self.file}: "
        super().__init__(where + reason)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=False)


class BigQuerySource(_Strict):
    query: str


class Source(_Strict):
    """Exactly one of the source kinds; paths may be files, folders or globs."""

    csv: Optional[str] = None
    parquet: Optional[str] = None
    tfrecord: Optional[str] = None
    bigquery: Optional[BigQuerySource] = None
    # DuckDB SQL over the files, which it names ``source`` (CSV and Parquet only), e.g.
    # "SELECT *, distance_km / 60 AS hours FROM source WHERE city <> 'oslo'".
    query: Optional[str] = None

    @model_validator(mode="after")
    def _exactly_one(self):
        given = [k for k in ("csv", "parquet", "tfrecord", "bigquery") if getattr(self, k)]
        if len(given) != 1:
            raise ValueError("give exactly one of csv, parquet, tfrecord, bigquery "
                             f"(got {', '.join(given) or 'none'})")
        if self.query and (self.tfrecord or self.bigquery):
            raise ValueError("query: SQL runs over csv or parquet files (a bigquery source "
                             "has its own query)")
        return self

    @property
    def kind(self) -> str:
        return next(k for k in ("csv", "parquet", "tfrecord", "bigquery") if getattr(self, k))

    @property
    def path(self) -> str:
        return "" if self.bigquery else getattr(self, self.kind)


SPAN_TOKENS = ("{SPAN}", "{YYYY}", "{MM}", "{DD}", "{VERSION}")


class Split(_Strict):
    """Hash-bucket split: ``train`` and ``eval`` are bucket counts (8/2 = 80%/20%) of
    md5(key) (of the whole row without a key). Or ``predicates``: SQL conditions tried in
    order, e.g. ``{eval: "day >= '2026-01-07'", train: "true"}`` (CSV/Parquet only)."""

    train: int = Field(8, ge=1)
    eval: int = Field(2, ge=1)
    key: Optional[str] = None
    predicates: Optional[Dict[str, str]] = None
    on_null_key: Literal["fail", "reject"] = "fail"

    @model_validator(mode="after")
    def _predicates(self):
        if self.predicates is not None and set(self.predicates) != {"train", "eval"}:
            raise ValueError(f"predicates: give exactly train and eval "
                             f"(got {', '.join(self.predicates) or 'none'})")
        if self.predicates and self.key:
            raise ValueError("key: a predicate split has no key (give one or the other)")
        return self


class Data(_Strict):
    """``source`` paths may hold ``{SPAN}`` or ``{YYYY}``/``{MM}``/``{DD}``: each run ingests
    the newest span (or ``span: N``), and Transform/Trainer use the latest
    ``rolling_window`` spans."""

    source: Source
    split: Split = Split()
    span: Optional[int] = Field(None, ge=0)
    rolling_window: Optional[int] = Field(None, ge=1)

    @model_validator(mode="after")
    def _spans(self):
        has_span = any(t in self.source.path for t in SPAN_TOKENS)
        if (self.span is not None or self.rolling_window) and not has_span:
            raise ValueError("span / rolling_window need {SPAN} or {YYYY}-{MM}-{DD} in the "
                             "source path")
        return self


class Vocab(_Strict):
    top_k: Optional[int] = Field(None, ge=1)
    num_oov_buckets: int = Field(1, ge=1)  # unseen values need an id
    frequency_threshold: Optional[int] = Field(None, ge=1)


class ConstantImpute(_Strict):
    constant: Union[float, int, str]


class Features(_Strict):
    """Config-driven feature engineering (see pipelines/transform.py)."""

    dense: List[str] = []
    scale: Union[ScaleKind, Dict[str, ScaleKind]] = "z_score"
    impute: Dict[str, Union[ImputeKind, ConstantImpute]] = {}
    bucket: Dict[str, int] = {}
    vocab: Dict[str, Vocab] = {}
    categorical_int: Dict[str, int] = {}
    hash: Dict[str, int] = {}
    module: Optional[str] = None  # preprocessing.py with its own preprocessing_fn

    @field_validator("vocab", mode="before")
    @classmethod
    def _vocab_list(cls, v):
        # `vocab: [island, sex]` is shorthand for default vocabularies.
        if isinstance(v, list):
            return {name: {} for name in v}
        return {k: ({} if val is None else val) for k, val in (v or {}).items()}

    @field_validator("bucket", "categorical_int", "hash")
    @classmethod
    def _positive_counts(cls, v):
        for name, n in v.items():
            if n < 1:
                raise ValueError(f"{name}: must be a positive count, got {n}")
        return v

    def scale_for(self, name: str) -> str:
        if isinstance(self.scale, str):
            return self.scale
        return self.scale.get(name, "z_score")

    def raw_columns(self) -> List[str]:
        """Every raw column the transform reads, in a stable order."""
        names: List[str] = []
        for group in (self.dense, self.bucket, self.vocab, self.categorical_int,
                      self.hash, self.impute):
            for n in group:
                if n not in names:
                    names.append(n)
        if isinstance(self.scale, dict):
            names += [n for n in self.scale if n not in names]
        return names


class EarlyStopping(_Strict):
    patience: int = Field(3, ge=1)
    monitor: str = "val_loss"


class ModelConfig(_Strict):
    kind: Literal["dnn", "wide_deep", "linear"] = "dnn"
    hidden_units: List[int] = [64, 32]
    optimizer: Literal["adam", "sgd", "rmsprop", "adagrad"] = "adam"
    learning_rate: float = Field(0.001, gt=0)
    batch_size: int = Field(64, ge=1)
    epochs: int = Field(10, ge=1)
    steps: Optional[int] = Field(None, ge=1)  # total steps; overrides full epochs
    dropout: float = Field(0.0, ge=0, lt=1)
    embedding_dim: Optional[int] = Field(None, ge=1)
    early_stopping: Optional[EarlyStopping] = EarlyStopping()
    seed: int = 42
    module: Optional[str] = None  # model.py with build_model(...)
    # Keras 3 or 2 (tf_keras) for the zoo; auto: 3 on TFX 1.21, 2 on TFX 1.16 (compat.py)
    keras: Literal["auto", 2, 3] = "auto"


class SliceThreshold(_Strict):
    """Thresholds that every value of one feature (each slice) must meet, instead of the
    metric's own thresholds on those slices."""

    lower_bound: Optional[float] = None
    upper_bound: Optional[float] = None
    absolute_change: Optional[float] = None
    relative_change: Optional[float] = None

    @model_validator(mode="after")
    def _some(self):
        if all(v is None for v in (self.lower_bound, self.upper_bound, self.absolute_change,
                                   self.relative_change)):
            raise ValueError("give at least one of lower_bound, upper_bound, "
                             "absolute_change, relative_change")
        return self


class MetricThreshold(_Strict):
    """A gated metric. Its thresholds hold on the whole eval split and on every slice of
    ``eval.slices`` (TFMA checks every computed slice); ``slices: {island: {lower_bound:
    0.7}}`` holds every value of ``island`` to its own thresholds instead."""

    name: str
    lower_bound: Optional[float] = None
    upper_bound: Optional[float] = None
    absolute_change: Optional[float] = None
    relative_change: Optional[float] = None
    slices: Dict[str, SliceThreshold] = {}


FAIRNESS_METRICS = ("false_positive_rate", "false_negative_rate", "true_positive_rate",
                    "true_negative_rate", "positive_rate", "negative_rate",
                    "false_discovery_rate", "false_omission_rate", "precision", "recall")


class FairnessGate(_Strict):
    """On every value of each fairness feature: the rate within ``max_gap`` of the whole
    eval split's, and/or within [lower_bound, upper_bound]."""

    max_gap: Optional[float] = Field(None, ge=0)
    lower_bound: Optional[float] = None
    upper_bound: Optional[float] = None

    @model_validator(mode="after")
    def _some(self):
        if self.max_gap is None and self.lower_bound is None and self.upper_bound is None:
            raise ValueError("give at least one of max_gap, lower_bound, upper_bound")
        return self


class Fairness(_Strict):
    """TFMA's Fairness Indicators (binary confusion-matrix rates at decision
    ``thresholds``) on every value of each sensitive feature. Multiclass tasks are
    binarized one class against the rest for each of ``class_ids`` (default: every class
    of ``label_classes``)."""

    features: List[str] = Field(min_length=1)
    thresholds: List[float] = [0.5]
    class_ids: Optional[List[int]] = None
    gate: Dict[str, FairnessGate] = {}

    @field_validator("thresholds")
    @classmethod
    def _thresholds(cls, v):
        if not v or any(not 0 < t < 1 for t in v) or len(set(v)) != len(v):
            raise ValueError(f"decision thresholds must be distinct numbers in (0, 1), got {v}")
        return v

    @field_validator("class_ids")
    @classmethod
    def _class_ids(cls, v):
        if v is not None and (not v or any(c < 0 for c in v) or len(set(v)) != len(v)):
            raise ValueError(f"class ids must be distinct ids >= 0, got {v}")
        return v

    @field_validator("gate")
    @classmethod
    def _gate(cls, v):
        for name in v:
            if name not in FAIRNESS_METRICS:
                raise ValueError(f"{name}: unknown fairness metric; known: "
                                 f"{', '.join(FAIRNESS_METRICS)}")
        return v


class Eval(_Strict):
    metrics: List[MetricThreshold] = []
    slices: List[Union[str, List[str]]] = []
    fairness: Optional[Fairness] = None


class InfraValidation(_Strict):
    """Before any push the candidate is loaded in a separate process and sent ``examples``
    real eval examples through its serving signatures (outputs checked), then timed on
    ``requests`` requests of batch 1: p99 above ``max_latency_ms`` fails. Always on."""

    examples: int = Field(100, ge=1)
    requests: int = Field(100, ge=1)
    max_latency_ms: float = Field(200.0, gt=0)
    timeout_s: float = Field(300.0, gt=0)  # loading and every request, in all


class Push(_Strict):
    registry: str = "models"
    keep_versions: int = Field(5, ge=1)  # the newest N versions stay (and the serving one)
    infra_validation: InfraValidation = InfraValidation()


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


class Beam(_Strict):
    """Where Beam-based components (ExampleGen, StatisticsGen, Transform, Evaluator, ...)
    run. ``direct``: in this machine, ``mode`` in_memory (the default: no Beam arguments at
    all), multi_processing or multi_threading with ``workers`` (0: one per core).
    ``dataflow``, ``flink``, ``spark``: the runner's section below must be given (the
    sections of other runners may stay, e.g. in the base config while a profile picks the
    runner). ``extra_args`` are appended as they are."""

    runner: Literal["direct", "dataflow", "flink", "spark"] = "direct"
    mode: Literal["in_memory", "multi_processing", "multi_threading"] = "in_memory"
    workers: int = Field(0, ge=0)
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


class MySQL(_Strict):
    """MLMD in MySQL/MariaDB. The password never goes in the YAML: ``password_env`` names
    the environment variable that holds it."""

    host: str = "127.0.0.1"
    port: int = Field(3306, ge=1, le=65535)
    database: str = Field(pattern=r"^[A-Za-z0-9_]{1,64}$")
    user: str = "root"
    password_env: Optional[str] = Field(None, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    socket: Optional[str] = None            # a Unix socket instead of host:port
    create_database: bool = True            # CREATE DATABASE IF NOT EXISTS on first use
    connect_timeout_s: float = Field(5.0, gt=0)

    @model_validator(mode="before")
    @classmethod
    def _no_password(cls, data):
        if isinstance(data, dict) and "password" in data:
            raise ValueError("password: a password never goes in the config; put it in an "
                             "environment variable and name it in password_env")
        return data

    @property
    def address(self) -> str:
        """user@host:port/database, never the password."""
        where = self.socket or f"{self.host}:{self.port}"
        return f"mysql://{self.user}@{where}/{self.database}"


class Metadata(_Strict):
    """Where ML Metadata lives: exactly one of ``sqlite`` (a file, the default
    ``.tfxkit/metadata.sqlite``) or ``mysql`` (a server). A profile that switches to MySQL
    over a base config that names a sqlite file sets ``sqlite: null``."""

    sqlite: Optional[str] = None
    mysql: Optional[MySQL] = None

    @model_validator(mode="after")
    def _one(self):
        if self.sqlite and self.mysql:
            raise ValueError("give exactly one of sqlite, mysql (got both; a profile that "
                             "switches to mysql sets sqlite: null)")
        if not self.mysql and not self.sqlite:
            self.sqlite = ".tfxkit/metadata.sqlite"
        return self

    @property
    def kind(self) -> str:
        return "mysql" if self.mysql else "sqlite"


class Validation(_Strict):
    on_anomalies: Literal["fail", "warn"] = "fail"
    schema_file: Optional[str] = Field(None, alias="schema")

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


_URI = re.compile(r"^[a-z][a-z0-9+.-]*://")
_CRON_PRESETS = {"@hourly": "0 * * * *", "@daily": "0 0 * * *", "@weekly": "0 0 * * 0",
                 "@monthly": "0 0 1 * *", "@yearly": "0 0 1 1 *"}


def is_remote(path: Optional[str]) -> bool:
    """Whether a path is a URI (gs://, s3://, ...) rather than a local path."""
    return bool(path) and bool(_URI.match(path))


class Deploy(_Strict):
    """Where ``tfxkit compile`` / ``tfxkit deploy`` send the pipeline (Kubeflow V2 / Vertex
    AI Pipelines); usually set in a profile (``--profile vertex``). Credentials never go
    here: Vertex uses the submitting identity and ``service_account`` for the run."""

    image: Optional[str] = None            # the image infra/docker/Dockerfile builds
    project: Optional[str] = None          # Google Cloud project (vertex)
    region: str = "us-central1"
    pipeline_root: Optional[str] = None    # gs://bucket/path: every artifact goes here
    service_account: Optional[str] = None  # the identity the run's steps use
    network: Optional[str] = None          # projects/N/global/networks/NAME (optional)
    schedule: Optional[str] = None         # cron; defaults to the top-level schedule
    workdir: str = "/pipeline"             # where the image holds the use-case folder
    labels: Dict[str, str] = {}
    enable_cache: bool = True

    @field_validator("schedule")
    @classmethod
    def _cron(cls, v):
        if v is None or v in _CRON_PRESETS or len(v.split()) == 5:
            return v
        raise ValueError(f"{v!r} is neither a cron expression (5 fields) "
                         f"nor one of {sorted(_CRON_PRESETS)}")

    @field_validator("service_account")
    @classmethod
    def _sa(cls, v):
        if v is not None and "@" not in v:
            raise ValueError(f"{v!r} is not a service account e-mail (NAME@PROJECT."
                             "iam.gserviceaccount.com)")
        return v

    @field_validator("workdir")
    @classmethod
    def _workdir(cls, v):
        if not v.startswith("/"):
            raise ValueError(f"{v!r} must be an absolute path inside the image")
        return v


def cron_of(schedule: str) -> str:
    """A cron expression for a schedule (``@daily`` -> ``0 0 * * *``)."""
    return _CRON_PRESETS.get(schedule, schedule)


_NAME = re.compile(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?$")


class Store(_Strict):
    """Where batch predictions go: exactly one of ``sqlite`` (a file path, the embedded
    default), ``postgres`` (a DSN such as ``postgresql://user@127.0.0.1:5432/db``) or
    ``redis`` (``redis://127.0.0.1:6379/0``). A password never goes in the YAML: name the
    environment variable that holds it in ``password_env``."""

    sqlite: Optional[str] = None
    postgres: Optional[str] = None
    redis: Optional[str] = None
    password_env: Optional[str] = None
    keep_runs: int = Field(2, ge=1)  # the current run and the ones kept for rollback
    timeout_s: float = Field(5.0, gt=0)

    @model_validator(mode="after")
    def _one(self):
        given = [k for k in ("sqlite", "postgres", "redis") if getattr(self, k)]
        if len(given) != 1:
            raise ValueError("give exactly one of sqlite, postgres, redis "
                             f"(got {', '.join(given) or 'none'})")
        url = self.postgres or self.redis
        if url and re.match(r"^[a-z+]+://[^/@]*:[^/@]+@", url):
            raise ValueError("the URL holds a password; put it in an environment variable "
                             "and name it in password_env")
        return self

    @property
    def kind(self) -> str:
        return next(k for k in ("sqlite", "postgres", "redis") if getattr(self, k))


class InferenceModel(_Strict):
    """One model of a batch-inference job: this use case's (``config`` omitted) or another
    use case's latest pushed model. ``inputs`` chains models: ``{feature: "model.output"}``
    feeds another model's output to this one as a feature."""

    name: str = Field(pattern=r"^[A-Za-z][A-Za-z0-9_-]*$")
    config: Optional[str] = None
    inputs: Dict[str, str] = {}

    @field_validator("inputs")
    @classmethod
    def _refs(cls, v):
        for feat, ref in v.items():
            if ref.count(".") != 1 or not all(ref.split(".")):
                raise ValueError(f"{feat}: {ref!r} should name a model and one of its "
                                 "outputs, e.g. eta.prediction")
        return v


class Inference(_Strict):
    """Batch inference: score ``source`` with the latest pushed, blessed model(s) and
    store the predictions by ``key`` (a column that is passed through, never fed to a
    model). Duplicate keys fail the run (``on_duplicate_key: fail``) or the last row in
    input order wins (``keep_last``)."""

    source: Source
    key: str
    store: Store = Store(sqlite=".tfxkit/predictions.sqlite")
    batch_size: int = Field(4096, ge=1)  # examples per model call; larger is faster
    on_duplicate_key: Literal["fail", "keep_last"] = "fail"
    models: List[InferenceModel] = []

    @model_validator(mode="after")
    def _models(self):
        if self.source.bigquery:
            raise ValueError("source: batch inference reads csv, parquet or tfrecord files")
        names = [m.name for m in self.models]
        if len(set(names)) != len(names):
            raise ValueError(f"models: names must be distinct, got {names}")
        known: set = set()
        for m in self.models:  # a chain refers to a model declared before it
            for feat, ref in m.inputs.items():
                up = ref.split(".")[0]
                if up not in known:
                    raise ValueError(f"models.{m.name}.inputs.{feat}: {up!r} is not a model "
                                     "declared before this one")
            known.add(m.name)
        return self


class Canary(_Strict):
    """Canary rollout of newly pushed versions in ``tfxkit serve`` (infra/canary.py): the
    new version takes ``steps[i]`` of the requests; every ``interval_s`` its errors, p99
    latency and quality from labelled feedback (``POST /feedback``) are compared with the
    stable version's; no worse within the margins -> next step (100% = promoted: the
    registry serves it), worse -> rolled back (the registry's pointer returns)."""

    steps: List[float] = [0.1, 0.25, 0.5, 1.0]
    min_requests: int = Field(200, ge=1)      # canary requests per step before judging
    min_feedback: int = Field(50, ge=0)       # labelled answers per arm per step
    max_error_rate_delta: float = Field(0.01, ge=0)
    max_p99_latency_ratio: float = Field(1.5, ge=1)
    p99_slack_ms: float = Field(2.0, ge=0)    # added to the latency bound (noise floor)
    max_quality_drop: float = Field(0.02, ge=0)   # accuracy points; relative for mae/mse
    quality_metric: Optional[Literal["accuracy", "mae", "mse"]] = None  # default by task
    interval_s: float = Field(30.0, gt=0)
    log: Optional[str] = None                 # default: canary.jsonl beside the registry

    @field_validator("steps")
    @classmethod
    def _steps(cls, v):
        if not v or any(not 0 < s <= 1 for s in v) or v != sorted(set(v)) or v[0] >= 1:
            raise ValueError(f"steps must be increasing shares in (0, 1] starting below 1 "
                             f"(e.g. [0.1, 0.5, 1.0]), got {v}")
        return v


class Serving(_Strict):
    """Online predictions (``tfxkit serve``: POST /predict) from the registry."""

    max_batch_size: int = Field(256, ge=1)    # instances per model call
    max_wait_ms: float = Field(2.0, ge=0)     # how long a batch waits for more requests
    poll_s: float = Field(10.0, gt=0)         # how often the registry is checked
    canary: Optional[Canary] = None
    # Limits of the HTTP server (infra/serve.py): what one request or client may take.
    max_body_mb: float = Field(32.0, gt=0, le=4096)   # request body; 413 above (also chunked)
    max_instances: int = Field(100_000, ge=1)         # instances per /predict; 413 above
    max_inflight: int = Field(64, ge=1)               # /predict + /feedback at once; 429 above
    max_large_inflight: int = Field(2, ge=1)          # of them with a body over 1 MB; 429 above
    max_connections: int = Field(1000, ge=1)          # open connections; more are closed at once
    header_timeout_s: float = Field(10.0, gt=0)       # a request's line and headers; 408 after
    body_timeout_s: float = Field(30.0, gt=0)         # silence while a body is being sent
    keep_alive_s: float = Field(5.0, gt=0)            # an idle keep-alive connection is closed
    store_threads: int = Field(8, ge=1, le=256)       # threads for prediction-store calls
    store_breaker_s: float = Field(2.0, ge=0)         # after a store call timed out: 503 at once
    feedback_instances: int = Field(200_000, ge=1)    # answers remembered for POST /feedback


class PipelineConfig(_Strict):
    name: str
    task: Task
    label: str
    label_classes: Optional[List[str]] = None
    data: Data
    features: Features = Features()
    model: ModelConfig = ModelConfig()
    eval: Eval = Eval()
    push: Push = Push()
    beam: Beam = Beam()
    metadata: Metadata = Metadata()
    validation: Validation = Validation()
    schedule: Optional[str] = None
    inference: Optional[Inference] = None
    serving: Serving = Serving()  # tfxkit serve: POST /predict, canary rollout
    deploy: Optional[Deploy] = None  # tfxkit compile / deploy (Kubeflow, Vertex)
    root: str = ".tfxkit"  # pipeline outputs live here (relative to the config)

    # Filled by the loader, not by the YAML.
    config_path: Optional[str] = Field(None, exclude=True)
    profile: Optional[str] = Field(None, exclude=True)

    @field_validator("name")
    @classmethod
    def _name(cls, v):
        if not _NAME.match(v):
            raise ValueError(f"{v!r} must match [a-z0-9-] (lower case, digits, dashes)")
        return v

    @field_validator("schedule")
    @classmethod
    def _schedule(cls, v):
        if v is None:
            return v
        presets = {"@once", "@hourly", "@daily", "@weekly", "@monthly", "@yearly"}
        if v in presets or len(v.split()) == 5:
            return v
        raise ValueError(f"{v!r} is neither a cron expression (5 fields) "
                         f"nor one of {sorted(presets)}")

    @field_validator("label_classes")
    @classmethod
    def _unique_classes(cls, v):
        if v is not None and len(set(v)) != len(v):
            raise ValueError(f"classes must be distinct, got {v}")
        return v

    @model_validator(mode="after")
    def _cross_checks(self):
        f = self.features
        owners: Dict[str, str] = {}
        groups = [("dense", f.dense), ("vocab", f.vocab), ("categorical_int", f.categorical_int),
                  ("hash", f.hash)]
        if isinstance(f.scale, dict):
            groups.append(("scale", [n for n in f.scale if n not in f.dense]))
        for group, names in groups:
            for name in names:
                if name in owners:
                    raise ValueError(f"features: {name!r} is in both {owners[name]} and "
                                     f"{group}; each becomes {name}_xf, so give it one")
                owners[name] = group
        used = set(owners) | set(f.bucket)
        for name in f.impute:
            if name not in used:
                raise ValueError(f"features.impute.{name}: {name!r} is not used by any "
                                 "feature group (dense, bucket, vocab, ...)")
        if not any(m.lower_bound is not None or m.upper_bound is not None
                   for m in self.eval.metrics):
            raise ValueError("eval.metrics: give at least one metric with a lower_bound or "
                             "upper_bound; without one TFMA never blesses and nothing is pushed")
        if self.label in self.features.raw_columns():
            raise ValueError(f"label {self.label!r} is also listed as a feature")
        if not self.features.raw_columns() and not self.features.module:
            raise ValueError("features: name at least one feature "
                             "(or a preprocessing module)")
        if self.inference and self.inference.key in self.features.raw_columns():
            raise ValueError(f"inference.key: {self.inference.key!r} is a model feature; the "
                             "key is passed through to the store, never fed to the model")
        if self.label_classes is not None and self.task == "regression":
            raise ValueError("label_classes: only for binary and multiclass tasks")
        if self.task == "binary" and self.label_classes is not None \
                and len(self.label_classes) != 2:
            raise ValueError("label_classes: a binary task has exactly 2 classes")
        for m in self.eval.metrics:
            if m.name not in metric_names(self.task):
                raise ValueError(
                    f"eval.metrics: unknown metric {m.name!r} for task {self.task}; "
                    f"known: {', '.join(metric_names(self.task))}")
        fair = self.eval.fairness
        if fair is not None:
            if self.task == "regression":
                raise ValueError("eval.fairness: Fairness Indicators need a binary or "
                                 "multiclass task; for regression gate slices with "
                                 "eval.metrics[].slices")
            if self.task == "binary" and fair.class_ids is not None:
                raise ValueError("eval.fairness.class_ids: only for multiclass tasks")
            if self.task == "multiclass":
                n = len(self.label_classes) if self.label_classes else None
                if fair.class_ids is None and n is None:
                    raise ValueError(
                        "eval.fairness.class_ids: a multiclass task is binarized one class "
                        "against the rest: name the class ids (e.g. [0, 1, 2]; ids follow "
                        "label_classes, else the label vocabulary, most frequent first) or "
                        "give label_classes")
                if fair.class_ids is not None and n is not None \
                        and any(c >= n for c in fair.class_ids):
                    raise ValueError(f"eval.fairness.class_ids: {fair.class_ids} has ids "
                                     f"beyond the {n} label_classes (0..{n - 1})")
        return self

    @model_validator(mode="after")
    def _serving_metric(self):
        c = self.serving.canary
        if c is not None and c.quality_metric is not None:
            ok = ("mae", "mse") if self.task == "regression" else ("accuracy",)
            if c.quality_metric not in ok:
                raise ValueError(f"serving.canary.quality_metric: {c.quality_metric!r} does "
                                 f"not fit task {self.task}; use {' or '.join(ok)}")
        return self

    # -- paths ---------------------------------------------------------------
    @property
    def base_dir(self) -> Path:
        return Path(self.config_path).parent if self.config_path else Path.cwd()

    def resolve(self, p: str) -> str:
        if is_remote(p):  # gs://bucket/x stays as it is
            return p
        path = Path(os.path.expanduser(p))
        return str(path if path.is_absolute() else (self.base_dir / path).resolve())

    @property
    def pipeline_root(self) -> str:
        return os.path.join(self.resolve(self.root), self.name)

    @property
    def metadata_path(self) -> str:
        """The SQLite file of MLMD; with MySQL its address (mysql://user@host:port/db)."""
        if self.metadata.mysql:
            return self.metadata.mysql.address
        return self.resolve(self.metadata.sqlite)

    @property
    def inference_models(self) -> List[InferenceModel]:
        """The models a batch-inference run scores with: this use case's by default."""
        if self.inference and self.inference.models:
            return self.inference.models
        return [InferenceModel(name=self.name)]

    @property
    def inference_name(self) -> str:
        return f"{self.name}-inference"

    @property
    def registry_path(self) -> str:
        return self.resolve(self.push.registry)

    def fingerprint(self) -> str:
        """A hash of the effective config, recorded with every run."""
        blob = json.dumps(self.model_dump(mode="json", by_alias=True), sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()[:16]


# Metric names a config may gate on, per task (see pipelines/metrics.py).
_METRICS = {
    "binary": ["accuracy", "auc", "precision", "recall", "auc_pr", "binary_crossentropy"],
    "multiclass": ["accuracy", "sparse_categorical_crossentropy"],
    "regression": ["mse", "rmse", "mae", "mape"],
}


def metric_names(task: str) -> List[str]:
    return _METRICS[task]


# --------------------------------------------------------------------------- loading

def _deep_merge(base: dict, over: dict) -> dict:
    out = copy.deepcopy(base)
    for k, v in over.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = _deep_merge(out[k], v)
        else:
            out[k] = copy.deepcopy(v)
    return out


def _yaml_value(value: str):
    """A --set value as YAML (numbers, lists, true/false), else the plain string."""
    if value == "":
        return ""
    try:
        parsed = yaml.safe_load(value)
    except yaml.YAMLError:
        return value
    # 'a: b' would silently become a mapping; a scalar was meant unless it looks like YAML
    if isinstance(parsed, dict) and not value.lstrip().startswith("{"):
        return value
    return parsed


def _apply_set(raw: dict, assignment: str, file: str) -> None:
    if "=" not in assignment:
        raise ConfigError(file, assignment, "--set expects key=value (e.g. model.epochs=5)")
    key, value = assignment.split("=", 1)
    parts = key.strip().split(".")
    if not all(parts):
        raise ConfigError(file, key, "--set key has an empty part")
    node = raw
    for p in parts[:-1]:
        nxt = node.get(p)
        if nxt is None:
            nxt = node[p] = {}
        if not isinstance(nxt, dict):
            raise ConfigError(file, key, f"{p!r} is not a section, cannot set inside it")
        node = nxt
    node[parts[-1]] = _yaml_value(value)


def _loc(loc) -> str:
    out = ""
    for part in loc:
        if isinstance(part, str) and ("[" in part or part in ("str", "int", "float")) \
                and out:
            continue  # pydantic's union-member labels, e.g. literal['mean', ...]
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


def load_config(path: Union[str, Path], profile: Optional[str] = None,
                overrides: Optional[List[str]] = None) -> PipelineConfig:
    """Reads, merges (profile, then --set) and validates a config file."""
    path = Path(path)
    file = str(path)
    if not path.is_file():
        raise ConfigError(file, "", "no such config file")
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as e:
        raise ConfigError(file, "", f"not valid YAML: {e}") from None
    if not isinstance(raw, dict):
        raise ConfigError(file, "", "the top level must be a mapping")
    profiles = raw.pop("profiles", {}) or {}
    if not isinstance(profiles, dict):
        raise ConfigError(file, "profiles", "must be a mapping of profile name to overrides")
    side = path.with_name(f"{path.stem}.{profile}.yaml") if profile else None
    if profile:
        if profile in profiles:
            over, where = profiles[profile] or {}, f"profiles.{profile}"
        elif side is not None and side.is_file():
            try:
                over, where = yaml.safe_load(side.read_text()) or {}, str(side)
            except yaml.YAMLError as e:
                raise ConfigError(str(side), "", f"not valid YAML: {e}") from None
        else:
            known = sorted(profiles) or ["(none)"]
            raise ConfigError(file, "profiles", f"unknown profile {profile!r}; "
                              f"known: {', '.join(known)} (or a file {side.name})")
        if not isinstance(over, dict):
            raise ConfigError(file, where, "a profile must be a mapping of overrides")
        raw = _deep_merge(raw, over)
    for assignment in overrides or []:
        _apply_set(raw, assignment, file)
    try:
        cfg = PipelineConfig.model_validate(raw)
    except ValidationError as e:
        err = e.errors()[0]
        field = _loc(err["loc"])
        msg = err["msg"]
        if err["type"] == "extra_forbidden":
            msg = "unknown key"
        elif err["type"] == "missing":
            msg = "required but missing"
        elif err["type"] == "literal_error":
            msg = f"{msg} (got {err.get('input')!r})"
        more = f" (and {len(e.errors()) - 1} more problems)" if len(e.errors()) > 1 else ""
        raise ConfigError(file, field, msg.replace("Value error, ", "") + more) from None
    cfg.config_path = str(path.resolve())
    cfg.profile = profile
    return cfg


# --------------------------------------------------------------------------- data checks

def source_files(cfg: PipelineConfig) -> List[str]:
    """The files the training source names (see ``files_of``)."""
    return files_of(cfg, cfg.data.source.path)


def reader_columns(kind: str, files: List[str], query: Optional[str] = None):
    """({column: type}, row count) of csv/parquet files (after ``query``) or TFRecords."""
    info = (_columns_tfrecord(files) if kind == "tfrecord"
            else _columns_tabular(kind, files, query))
    return info["columns"], info["rows"]


def files_of(cfg: PipelineConfig, path: str) -> List[str]:
    """The files a source path names: a file, every file in a folder, or a glob (span
    placeholders match any span)."""
    p = cfg.resolve(path)
    for token in SPAN_TOKENS:
        p = p.replace(token, "*")
    if os.path.isdir(p):
        return sorted(os.path.join(p, f) for f in os.listdir(p)
                      if not f.startswith(".") and os.path.isfile(os.path.join(p, f)))
    if any(ch in p for ch in "*?["):
        return sorted(f for f in glob.glob(p) if os.path.isfile(f))
    return [p] if os.path.isfile(p) else []


def _columns_tabular(kind: str, files: List[str], query: Optional[str]) -> Dict[str, Any]:
    import duckdb

    from tfxkit.components.example_gen.ingest import reader_sql

    con = duckdb.connect()
    con.execute(f"CREATE TEMP VIEW source AS SELECT * FROM {reader_sql(kind, files)}")
    con.execute(f"CREATE TEMP VIEW data AS {query or 'SELECT * FROM source'}")
    rel = con.sql("SELECT * FROM data")
    cols = dict(zip(rel.columns, [str(t) for t in rel.types]))
    n_rows = con.sql("SELECT count(*) FROM data").fetchone()[0]
    return {"columns": cols, "rows": n_rows, "con": con, "reader": "data"}


def _columns_tfrecord(files: List[str]) -> Dict[str, Any]:
    import tensorflow as tf  # only for TFRecord sources

    cols: Dict[str, str] = {}
    rows = 0
    comp = "GZIP" if files[0].endswith(".gz") else None
    for raw in tf.data.TFRecordDataset(files, compression_type=comp).take(1000):
        rows += 1
        ex = tf.train.Example.FromString(raw.numpy())
        for name, feat in ex.features.feature.items():
            kind = feat.WhichOneof("kind")
            cols.setdefault(name, {"float_list": "FLOAT", "int64_list": "BIGINT",
                                   "bytes_list": "VARCHAR"}.get(kind, "VARCHAR"))
    return {"columns": cols, "rows": rows}


_INTEGER = re.compile(r"^(TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT|UTINYINT|USMALLINT|"
                      r"UINTEGER|UBIGINT)$")
_NUMERIC = re.compile(r"^(TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT|UTINYINT|USMALLINT|"
                      r"UINTEGER|UBIGINT|FLOAT|DOUBLE|REAL|DECIMAL.*)$")


def check_data(cfg: PipelineConfig) -> Dict[str, Any]:
    """Checks the config against the data before anything runs.

    Returns a small summary (files, rows, columns). Raises ConfigError naming the
    field and the reason: a path that matches nothing, empty data, a label or
    feature that is not a column, a numeric transform on a text column, labels
    that are missing.
    """
    file = cfg.config_path or "<config>"
    src_field = f"data.source.{cfg.data.source.kind}"
    if cfg.data.source.kind == "bigquery":
        return {"files": [], "rows": None, "columns": {},
                "note": "BigQuery is not reachable from here: data checks skipped"}
    if is_remote(cfg.data.source.path):
        return {"files": [], "rows": None, "columns": {},
                "note": f"{cfg.data.source.path} is remote: data checks skipped"}
    files = source_files(cfg)
    if not files:
        raise ConfigError(file, src_field,
                          f"path {cfg.data.source.path!r} matches no file "
                          f"(resolved to {cfg.resolve(cfg.data.source.path)})")
    kind = cfg.data.source.kind
    try:
        info = (_columns_tfrecord(files) if kind == "tfrecord"
                else _columns_tabular(kind, files, cfg.data.source.query))
    except Exception as e:  # duckdb / tf parse errors
        what = "data.source.query" if cfg.data.source.query else src_field
        msg = str(e).strip().splitlines()[0]
        raise ConfigError(file, what, f"cannot read {files[0]}"
                          f"{' with the query' if cfg.data.source.query else ''}: {msg}") from None
    cols, rows = info["columns"], info["rows"]
    if rows == 0:
        raise ConfigError(file, src_field, f"the data is empty (no rows in {len(files)} "
                          f"file(s), e.g. {files[0]})")

    def need(field: str, name: str):
        if name not in cols:
            raise ConfigError(file, field, f"column {name!r} is not in the data "
                              f"(columns: {', '.join(cols)})")

    need("label", cfg.label)
    f = cfg.features
    for group in ("dense", "bucket", "vocab", "categorical_int", "hash", "impute"):
        for name in getattr(f, group):
            need(f"features.{group}.{name}" if group != "dense" else "features.dense", name)
    if isinstance(f.scale, dict):
        for name in f.scale:
            need(f"features.scale.{name}", name)
    numeric_groups = {"dense": f.dense, "bucket": list(f.bucket),
                      "scale": list(f.scale) if isinstance(f.scale, dict) else []}
    for group, names in numeric_groups.items():
        for name in names:
            if not _NUMERIC.match(cols[name]):
                raise ConfigError(file, f"features.{group}", f"column {name!r} is "
                                  f"{cols[name]}, a numeric column is needed "
                                  "(use vocab or hash for text)")
    for name in f.categorical_int:
        if not _INTEGER.match(cols[name]):
            raise ConfigError(file, f"features.categorical_int.{name}", f"column {name!r} is "
                              f"{cols[name]}, an integer column is needed (use vocab for text)")
    for imp_name, how in f.impute.items():
        numeric = bool(_NUMERIC.match(cols[imp_name]))
        if how in ("mean", "median") and not numeric:
            raise ConfigError(file, f"features.impute.{imp_name}",
                              f"{how} needs a numeric column, {imp_name!r} is {cols[imp_name]}")
        if isinstance(how, ConstantImpute) and numeric and isinstance(how.constant, str):
            raise ConfigError(file, f"features.impute.{imp_name}", f"constant {how.constant!r} "
                              f"is text, {imp_name!r} is {cols[imp_name]}")
    if cfg.data.split.key:
        need("data.split.key", cfg.data.split.key)
        key = cfg.data.split.key
        if "con" in info and cfg.data.split.on_null_key == "fail":
            nulls = info["con"].sql(f'SELECT count(*) FROM data WHERE "{key}" IS NULL'
                                    ).fetchone()[0]
            if nulls:
                raise ConfigError(file, "data.split.key", f"{nulls} row(s) have no {key!r} "
                                  "value; fill them or set data.split.on_null_key: reject")
    if cfg.data.split.predicates:
        if kind == "tfrecord":
            raise ConfigError(file, "data.split.predicates", "predicates need a csv or "
                              "parquet source")
        for name, pred in cfg.data.split.predicates.items():
            try:
                info["con"].execute(f"SELECT count(*) FROM data WHERE ({pred})").fetchone()
            except Exception as e:
                raise ConfigError(file, f"data.split.predicates.{name}",
                                  f"not a valid condition: {str(e).splitlines()[0]}") from None
    for i, s in enumerate(cfg.eval.slices):
        for name in ([s] if isinstance(s, str) else s):
            need(f"eval.slices[{i}]", name)
    for i, m in enumerate(cfg.eval.metrics):
        for name in m.slices:
            need(f"eval.metrics[{i}].slices.{name}", name)
    if cfg.eval.fairness is not None:
        for i, name in enumerate(cfg.eval.fairness.features):
            need(f"eval.fairness.features[{i}]", name)
    if cfg.task == "regression" and not _NUMERIC.match(cols[cfg.label]):
        raise ConfigError(file, "label", f"a regression label must be numeric, "
                          f"{cfg.label!r} is {cols[cfg.label]}")
    if "con" in info:
        con, reader = info["con"], info["reader"]
        missing = con.sql(f'SELECT count(*) FROM {reader} WHERE "{cfg.label}" IS NULL'
                          ).fetchone()[0]
        if missing:
            raise ConfigError(file, "label", f"{missing} of {rows} rows have no "
                              f"{cfg.label!r} value; drop or fill them first")
        label_type = cols[cfg.label]
        if cfg.task != "regression" and label_type in ("FLOAT", "DOUBLE", "REAL") \
                or label_type.startswith("DECIMAL") and cfg.task != "regression":
            raise ConfigError(file, "label", f"a {cfg.task} label must be text or integer, "
                              f"{cfg.label!r} is {label_type}")
        seen = {str(r[0]) for r in con.sql(
            f'SELECT DISTINCT "{cfg.label}" FROM {reader} LIMIT 1001').fetchall()}
        if cfg.label_classes is not None:
            extra = seen - set(cfg.label_classes)
            if extra:
                raise ConfigError(file, "label_classes", f"the data has label values "
                                  f"not listed: {sorted(extra)[:5]}")
        elif cfg.task == "binary":
            if len(seen) != 2:
                raise ConfigError(file, "label", f"a binary label needs exactly 2 values, "
                                  f"{cfg.label!r} has {len(seen)}: {sorted(seen)[:5]}")
            if _INTEGER.match(label_type) and seen != {"0", "1"}:
                raise ConfigError(file, "label", f"integer binary labels must be 0 and 1, got "
                                  f"{sorted(seen)}; or name the order in label_classes")
            if not _INTEGER.match(label_type):
                raise ConfigError(file, "label_classes", f"text binary labels {sorted(seen)} "
                                  "need label_classes: [negative, positive]")
        elif cfg.task == "multiclass" and len(seen) < 2:
            raise ConfigError(file, "label", f"multiclass needs at least 2 label values, "
                              f"{cfg.label!r} has {len(seen)}")
    for mod_field, mod in (("features.module", f.module), ("model.module", cfg.model.module)):
        if mod and not os.path.isfile(cfg.resolve(mod)):
            raise ConfigError(file, mod_field, f"no such file {cfg.resolve(mod)}")
    if cfg.validation.schema_file and not os.path.isfile(cfg.resolve(cfg.validation.schema_file)):
        raise ConfigError(file, "validation.schema",
                          f"no such file {cfg.resolve(cfg.validation.schema_file)}")
    return {"files": files, "rows": rows, "columns": cols}
