"""``deploy:``: where ``tfxkit compile`` / ``tfxkit deploy`` send the pipeline, and cron
presets."""
from __future__ import annotations

from typing import Dict, Optional

from pydantic import field_validator

from .base import _Strict


_CRON_PRESETS = {"@hourly": "0 * * * *", "@daily": "0 0 * * *", "@weekly": "0 0 * * 0",
                 "@monthly": "0 0 1 * *", "@yearly": "0 0 1 1 *"}


class Deploy(_Strict):
    """Where ``tfxkit compile`` / ``tfxkit deploy`` send the pipeline (Kubeflow V2 / Vertex
    AI Pipelines); usually set in a profile (``--profile vertex``). Credentials never go
    here: Vertex uses the submitting identity and ``service_account`` for the run."""

    image: Optional[str] = None            # the image infra/deploy/docker/Dockerfile builds
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
