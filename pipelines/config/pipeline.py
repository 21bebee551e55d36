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

from .base import _Strict, is_remote
from .beam import Beam
from .data import Data, Validation
from .deploy import Deploy
from .evaluation import Eval, metric_names
from .features import Features
from .inference import Inference, InferenceModel
from .metadata import Metadata
from .model import ModelConfig
from .serving import Push, Serving


Task = Literal["binary", "multiclass", "regression"]


_NAME = re.compile(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?$")


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
