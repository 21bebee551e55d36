"""The whole config: ``PipelineConfig`` holds every section, checks them against each
other, and resolves paths against the config file's folder."""
from __future__ import annotations

import hashlib
import json
import os
import re
from pathlib import Path
from typing import Dict, List, Literal, Optional

from pydantic import Field, field_validator, model_validator

from .alerts import Alerts
from .bandit import OPE_METRICS, Bandit
from .card import Card
from .base import _Strict, is_remote
from .beam import Beam
from .data import Data, Validation
from .deploy import Deploy
from .evaluation import Eval, metric_names
from .features import Features
from .hyperparameters import Hyperparameters
from .inference import Inference, InferenceModel
from .metadata import Metadata
from .model import ModelConfig
from .monitoring import Monitoring
from .serving import Push, Serving


Task = Literal["binary", "multiclass", "regression", "bandit"]


_NAME = re.compile(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?$")


class PipelineConfig(_Strict):
    name: str
    task: Task
    label: str  # the label column; for a bandit the reward column
    label_classes: Optional[List[str]] = None
    data: Data
    features: Features = Features()
    model: ModelConfig = ModelConfig()
    hyperparameters: Optional[Hyperparameters] = None  # HyperparametersGen -> Trainer
    eval: Eval = Eval()
    push: Push = Push()
    beam: Beam = Beam()
    metadata: Metadata = Metadata()
    validation: Validation = Validation()
    schedule: Optional[str] = None
    inference: Optional[Inference] = None
    bandit: Optional[Bandit] = None  # task: bandit (action, propensity, policy)
    serving: Serving = Serving()  # tfxkit serve: POST /predict, canary rollout
    monitoring: Monitoring = Monitoring()  # tfxkit monitor: skew and drift of the traffic
    deploy: Optional[Deploy] = None  # tfxkit compile / deploy (Kubeflow, Vertex)
    alerts: Optional[Alerts] = None  # failed run, not blessed, canary rollback, skew, drift
    card: Optional[Card] = None  # the model card's intended use, limitations, owners
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
                  ("hash", f.hash), ("sequence", f.sequence)]
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
            if name in f.sequence:
                raise ValueError(f"features.impute.{name}: {name!r} is a sequence; an absent "
                                 "list is an empty sequence (all padding), not imputed")
            if name not in used:
                raise ValueError(f"features.impute.{name}: {name!r} is not used by any "
                                 "feature group (dense, bucket, vocab, ...)")
        if not any(m.lower_bound is not None or m.upper_bound is not None
                   for m in self.eval.metrics):
            raise ValueError("eval.metrics: give at least one metric with a lower_bound or "
                             "upper_bound; without one TFMA never blesses and nothing is pushed")
        kinds = [self.model.kind]
        if self.model.tune is not None and "kind" in self.model.tune.space:
            choice = self.model.tune.space["kind"]
            kinds += list(choice) if isinstance(choice, list) else []
        if "rnn" in kinds and not f.sequence:
            raise ValueError("model.kind: rnn reads features.sequence (list features); "
                             "name at least one there")
        if self.label in self.features.raw_columns():
            raise ValueError(f"label {self.label!r} is also listed as a feature")
        if not self.features.raw_columns() and not self.features.module:
            raise ValueError("features: name at least one feature "
                             "(or a preprocessing module)")
        if self.inference and self.inference.key in self.features.raw_columns():
            raise ValueError(f"inference.key: {self.inference.key!r} is a model feature; the "
                             "key is passed through to the store, never fed to the model")
        if self.push.tflite.enabled and self.task == "bandit":
            raise ValueError("push.tflite: only for binary, multiclass and regression tasks "
                             "(a bandit's policy export has no TFLite signature)")
        if self.label_classes is not None and self.task in ("regression", "bandit"):
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
            if self.task == "bandit":
                raise ValueError("eval.fairness: Fairness Indicators need a binary or "
                                 "multiclass task; a bandit gates its policy value "
                                 "(eval.metrics: policy_value_dr, ...)")
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
    def _bandit(self):
        if self.task != "bandit":
            if self.bandit is not None:
                raise ValueError(f"bandit: only for task bandit (this is task {self.task})")
            return self
        b = self.bandit
        if b is None:
            raise ValueError("bandit: task bandit needs a bandit section (action, actions, "
                             "propensity; label names the reward column)")
        roles = [("bandit.action", b.action), ("bandit.propensity", b.propensity),
                 ("label", self.label)]
        for i, (field, name) in enumerate(roles):
            for other, other_name in roles[i + 1:]:
                if name == other_name:
                    raise ValueError(f"{field}: {name!r} is also {other}; the logged action, "
                                     "its propensity and the reward are three columns")
        features = self.features.raw_columns()
        for field, name in roles[:2]:
            if name in features:
                raise ValueError(f"{field}: {name!r} is also listed as a feature; the "
                                 "features are the context the policy sees before it acts")
        if self.inference and self.inference.key in (b.action, b.propensity):
            raise ValueError(f"inference.key: {self.inference.key!r} is a bandit column "
                             "(bandit.action or bandit.propensity); the key names the user")
        for i, m in enumerate(self.eval.metrics):
            if m.name not in OPE_METRICS:
                continue
            if m.upper_bound is not None:
                raise ValueError(f"eval.metrics[{i}].upper_bound: {m.name} is a policy value "
                                 "(higher is better): gate it with lower_bound or a change "
                                 "against the baseline (absolute_change, relative_change)")
            if m.slices:
                raise ValueError(f"eval.metrics[{i}].slices: {m.name} is estimated on the "
                                 "whole eval split only, not per slice")
        return self

    @model_validator(mode="after")
    def _monitored_features(self):
        import difflib

        columns = self.features.raw_columns()
        for name in self.monitoring.features:
            if columns and name not in columns:
                close = difflib.get_close_matches(name, columns, n=1, cutoff=0.0)
                hint = f"; the closest column is {close[0]!r}" if close else ""
                raise ValueError(f"monitoring.features.{name}: {name!r} is not a raw feature "
                                 f"column (features: {', '.join(columns)}){hint}")
        return self

    @model_validator(mode="after")
    def _tune(self):
        if self.model.tune is not None:
            from .tune import check_objective

            if self.task == "bandit":
                raise ValueError("model.tune: tuning is for binary, multiclass and "
                                 "regression tasks (a bandit's policy is gated off-policy)")
            if self.hyperparameters is not None:
                raise ValueError("model.tune: the Trainer takes one hyperparameters input; "
                                 "give hyperparameters: or model.tune:, not both")
            check_objective(self.model.tune, self.task, self.eval.metrics)
        return self

    @model_validator(mode="after")
    def _serving_metric(self):
        c = self.serving.canary
        if c is not None and c.quality_metric is not None:
            ok = {"regression": ("mae", "mse"), "bandit": ("reward",)}.get(self.task,
                                                                            ("accuracy",))
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
