"""The use-case config: one YAML file loaded once into typed models (pydantic v2).

Loading resolves profiles and ``--set`` overrides, validates types and names, and
resolves every relative path against the config file's folder. ``check_data``
then looks at the data itself (columns, emptiness) so that a bad config fails
before any component runs, with a message naming the file, the field and the
reason.

Where things are (one module per group of YAML sections):

  base.py        ConfigError, the strict base model, span tokens, ``is_remote``
  data.py        ``data:`` (source, split, spans) and ``validation:``
  features.py    ``features:``
  model.py       ``model:``
  evaluation.py  ``eval:`` (metric and slice thresholds, fairness) and ``metric_names``
  serving.py     ``push:`` (registry, infra validation) and ``serving:`` (canary)
  beam.py        ``beam:`` (direct, Dataflow, Flink, Spark)
  metadata.py    ``metadata:`` (SQLite or MySQL)
  deploy.py      ``deploy:`` and ``cron_of``
  inference.py   ``inference:`` (batch inference and its prediction store)
  bandit.py      ``bandit:`` (task bandit: action, propensity, policy, OPE bootstrap)
  alerts.py      ``alerts:`` (webhook, Slack, apprise targets; the kinds each receives)
  card.py        ``card:`` (the model card's overview, intended use, limitations, owners)
  pipeline.py    ``PipelineConfig``: every section, the cross-checks, paths
  loader.py      ``load_config``: YAML, profiles (deep merge), ``--set``, error messages
  checks.py      ``check_data`` and the file helpers: the data itself (DuckDB, TFRecord)
  value_checks.py  values in the data: text in a numeric column, a bandit's logged columns

Importing this package needs only pydantic and PyYAML: neither DuckDB, TensorFlow nor
TFX (checks.py imports them inside the functions that read data), so the CLI's
``validate`` path, ``--help`` and the Airflow DAG factory stay light.
"""
from .alerts import AlertTarget, Alerts
from .bandit import BANDIT_METRICS, OPE_METRICS, Bandit, Bootstrap, Exploration
from .base import SPAN_TOKENS, ConfigError, is_remote
from .beam import Beam, DataflowRunner, FlinkRunner, SparkRunner
from .checks import check_data, closest, column_refs, files_of, reader_columns, source_files
from .data import BigQuerySource, Data, Source, Split, Validation
from .deploy import Deploy, cron_of
from .evaluation import (FAIRNESS_METRICS, Eval, Fairness, FairnessGate, MetricThreshold,
                         SliceThreshold, metric_names)
from .features import ConstantImpute, Features, ImputeKind, ScaleKind, Vocab
from .inference import Inference, InferenceModel, Store
from .loader import load_config
from .metadata import Metadata, MySQL
from .model import EarlyStopping, ModelConfig
from .pipeline import PipelineConfig, Task
from .value_checks import numeric_columns
from .serving import Canary, InfraValidation, Push, Serving, TFLite

__all__ = [
    "Task", "ScaleKind", "ImputeKind", "ConfigError", "BigQuerySource", "Source",
    "SPAN_TOKENS", "Split", "Data", "Vocab", "ConstantImpute", "Features", "EarlyStopping",
    "ModelConfig", "SliceThreshold", "MetricThreshold", "FAIRNESS_METRICS", "FairnessGate",
    "Fairness", "Eval", "InfraValidation", "TFLite", "Push", "DataflowRunner", "FlinkRunner",
    "SparkRunner", "Beam", "MySQL", "Metadata", "Validation", "is_remote", "Deploy",
    "cron_of", "Alerts", "AlertTarget", "Store", "InferenceModel", "Inference", "Canary",
    "Serving",
    "PipelineConfig", "metric_names", "load_config", "source_files", "reader_columns",
    "files_of", "check_data", "Bandit", "Bootstrap", "Exploration", "OPE_METRICS",
    "BANDIT_METRICS", "numeric_columns", "closest", "column_refs",
]
