"""``push:`` (the registry and the infra validation before any push) and ``serving:``
(online predictions and canary rollout)."""
from __future__ import annotations

from typing import List, Literal, Optional

from pydantic import Field, field_validator

from .base import _Strict


class InfraValidation(_Strict):
    """Before any push the candidate is loaded in a separate process and sent ``examples``
    real eval examples through its serving signatures (outputs checked), then timed on
    ``requests`` requests of batch 1: p99 above ``max_latency_ms`` fails. Always on."""

    examples: int = Field(100, ge=1)
    requests: int = Field(100, ge=1)
    max_latency_ms: float = Field(200.0, gt=0)
    timeout_s: float = Field(300.0, gt=0)  # loading and every request, in all


class TFLite(_Strict):
    """``push.tflite``: a TensorFlow Lite copy of the serving model, converted and checked by
    the InfraValidator (``components/tflite``) and stored in the registry version
    (``<version>/tflite/model.tflite``). ``true`` is ``{enabled: true}`` with the defaults.

    - ``transform``: ``include`` converts a signature over the raw features with the
      transform graph inside; ``separate`` converts only the Keras model over the
      transformed features (the transform is then run apart, e.g. the SavedModel's
      ``transform_features`` signature);
    - ``select_tf_ops``: allow TensorFlow ops that TFLite's builtins lack (Flex ops: the
      app needs the Select TF ops runtime); without it such ops fail the validation with
      their names;
    - ``tolerance``: the largest absolute difference allowed between the TFLite
      interpreter's and the SavedModel's outputs on the eval examples."""

    enabled: bool = True
    tolerance: float = Field(1e-4, gt=0, le=1)
    transform: Literal["include", "separate"] = "include"
    select_tf_ops: bool = False


class Push(_Strict):
    registry: str = "models"
    keep_versions: int = Field(5, ge=1)  # the newest N versions stay (and the serving one)
    infra_validation: InfraValidation = InfraValidation()
    tflite: TFLite = TFLite(enabled=False)

    @field_validator("tflite", mode="before")
    @classmethod
    def _tflite(cls, v):
        if isinstance(v, bool):  # tflite: true / false
            return {"enabled": v}
        if v is None:
            return {"enabled": False}
        return v


class Canary(_Strict):
    """Canary rollout of newly pushed versions in ``tfxkit serve`` (infra/canary/policy.py): the
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
    # default by task: accuracy, mae (regression), reward (bandit: mean reward fed back)
    quality_metric: Optional[Literal["accuracy", "mae", "mse", "reward"]] = None
    interval_s: float = Field(30.0, gt=0)
    log: Optional[str] = None                 # default: canary.jsonl beside the registry

    @field_validator("steps")
    @classmethod
    def _steps(cls, v):
        if not v or any(not 0 < s <= 1 for s in v) or v != sorted(set(v)) or v[0] >= 1:
            raise ValueError(f"steps must be increasing shares in (0, 1] starting below 1 "
                             f"(e.g. [0.1, 0.5, 1.0]), got {v}")
        return v


class RequestLog(_Strict):
    """Every online prediction appended to hourly JSON-lines files (infra/serving/
    request_log.py): ``requests-YYYY-MM-DDTHH.jsonl`` in ``path`` (default: ``requests/``
    beside a local registry, else in the pipeline root), one line per instance. A request
    is logged with probability ``sample_rate``; at most ``max_queue`` requests wait for
    the writer thread, more are dropped and counted (the request path never waits)."""

    enabled: bool = False
    sample_rate: float = Field(1.0, ge=0, le=1)
    path: Optional[str] = None
    max_queue: int = Field(10_000, ge=1)


class Serving(_Strict):
    """Online predictions (``tfxkit serve``: POST /predict) from the registry."""

    max_batch_size: int = Field(256, ge=1)    # instances per model call
    max_wait_ms: float = Field(2.0, ge=0)     # how long a batch waits for more requests
    poll_s: float = Field(10.0, gt=0)         # how often the registry is checked
    canary: Optional[Canary] = None
    # serve this registry alias (tfxkit models alias) instead of the serving pointer
    # (followed as it moves; no canary); ``tfxkit serve --alias NAME`` sets it
    alias: Optional[str] = Field(None, pattern=r"^[a-z][a-z0-9_-]{0,62}$")
    # Limits of the HTTP server (infra/serving/limits.py): what one request or client may take.
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
    # a bandit's choices and rewards, for the next round (tfxkit choices export); default:
    # choices/ beside a local registry (infra/serving/choice_log.py)
    choice_log: Optional[str] = None
    # every online prediction, sampled, for monitoring (tfxkit monitor reads it)
    request_log: RequestLog = RequestLog()
    # the NAME of an environment variable holding a bearer token (never the token itself):
    # when set, POST/PUT/DELETE routes (predict, feedback, every write) answer 401 without
    # "Authorization: Bearer <token>"; auth_reads: also the GET routes but health and /metrics
    auth_token_env: Optional[str] = Field(None, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    auth_reads: bool = False
