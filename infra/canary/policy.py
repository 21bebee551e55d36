"""Canary rollout policy: plain Python, no server, no TensorFlow.

``decide(stable, canary, step, policy)`` looks at the two arms' live signals of the current
step (requests, errors, latencies, labelled feedback) and returns one ``Decision``:

- ``rollback``: the canary is worse than the stable version beyond a margin (error rate,
  p99 latency or quality), or already has so many errors that it cannot end up within the
  margin whatever its remaining requests do;
- ``hold``: not enough evidence yet (too few requests or too little labelled feedback in
  either arm);
- ``ramp``: no worse within every margin: move to the next share in ``steps``;
- ``promote``: no worse, and the next share is 100%: the canary becomes the serving version.

Every decision carries its evidence (both arms' counts, error rates, p50/p99, quality, the
margins, the reasons), which is what the decision log records.

Quality comes from labelled feedback: accuracy (higher is better) for classification;
MAE or MSE (lower is better) for regression; for a bandit policy the mean reward fed back
for its choices (higher is better: the on-policy value of what each arm served).
``max_quality_drop`` is an absolute drop of accuracy or mean reward, and a relative
increase of MAE/MSE (0.02 = 2% worse).

The decisions are carried out by ``tfxkit serve`` only (``infra/serving/canary_controller.py``);
a Vertex AI endpoint's canary is Vertex's own traffic split (README, Online serving).
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any, Dict, List, Optional, Sequence

HOLD, RAMP, PROMOTE, ROLLBACK = "hold", "ramp", "promote", "rollback"
START, FOLLOW = "start", "follow"  # recorded by the controller, not decided here
ACTIONS = (HOLD, RAMP, PROMOTE, ROLLBACK)
HIGHER_IS_BETTER = {"accuracy": True, "mae": False, "mse": False, "reward": True}


@dataclass(frozen=True)
class Policy:
    """The canary settings (``serving.canary`` in the config)."""

    steps: Sequence[float] = (0.1, 0.25, 0.5, 1.0)  # canary's share of traffic per step
    min_requests: int = 200          # canary requests in a step before anything but rollback
    min_feedback: int = 50           # labelled answers per arm in a step before judging quality
    max_error_rate_delta: float = 0.01   # canary error rate may exceed stable's by this
    max_p99_latency_ratio: float = 1.5   # canary p99 may be this many times stable's ...
    p99_slack_ms: float = 2.0            # ... plus this (sub-ms p99s are noise)
    max_quality_drop: float = 0.02       # accuracy points; relative for mae/mse
    quality_metric: str = "accuracy"     # accuracy | mae | mse | reward
    interval_s: float = 30.0             # how often the controller decides

    def __post_init__(self):
        steps = list(self.steps)
        if not steps or any(not 0 < s <= 1 for s in steps) or steps != sorted(set(steps)) \
                or steps[0] >= 1:
            raise ValueError(f"steps must be increasing shares in (0, 1] starting below 1, "
                             f"got {steps}")
        if self.quality_metric not in HIGHER_IS_BETTER:
            raise ValueError(f"quality_metric must be one of {sorted(HIGHER_IS_BETTER)}, "
                             f"got {self.quality_metric!r}")
        for name in ("min_requests", "min_feedback"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0")
        if self.max_p99_latency_ratio < 1:
            raise ValueError("max_p99_latency_ratio must be >= 1")

    @property
    def final_steps(self) -> List[float]:
        """``steps`` ending at 1.0 (reaching 100% is the promotion)."""
        s = [float(x) for x in self.steps]
        return s if s[-1] >= 1.0 else s + [1.0]

    def share(self, step: int) -> float:
        return self.final_steps[step]

    def margins(self) -> Dict[str, Any]:
        return {"min_requests": self.min_requests, "min_feedback": self.min_feedback,
                "max_error_rate_delta": self.max_error_rate_delta,
                "max_p99_latency_ratio": self.max_p99_latency_ratio,
                "p99_slack_ms": self.p99_slack_ms, "max_quality_drop": self.max_quality_drop,
                "quality_metric": self.quality_metric}


def percentile(sorted_values: Sequence[float], q: float) -> Optional[float]:
    """The q-th percentile (nearest rank) of already sorted values; None when empty."""
    if not sorted_values:
        return None
    k = max(0, min(len(sorted_values) - 1, math.ceil(q / 100.0 * len(sorted_values)) - 1))
    return float(sorted_values[k])


@dataclass
class ArmStats:
    """One arm's signals in the current step (a snapshot; see ``Window``)."""

    version: str
    requests: int = 0
    errors: int = 0
    p50_ms: Optional[float] = None
    p99_ms: Optional[float] = None
    feedback: int = 0
    quality: Optional[float] = None  # accuracy, or MAE/MSE, over ``feedback`` labels

    @property
    def error_rate(self) -> float:
        return self.errors / self.requests if self.requests else 0.0

    def evidence(self) -> Dict[str, Any]:
        d = asdict(self)
        d["error_rate"] = round(self.error_rate, 6)
        for k in ("p50_ms", "p99_ms", "quality"):
            if d[k] is not None:
                d[k] = round(d[k], 6)
        return d


class Window:
    """Accumulates one arm's signals for one step: requests (ok or error) with their
    latency, and labelled feedback scored against the arm's prediction. Not thread-safe:
    the server touches it from its event loop only."""

    def __init__(self, version: str, metric: str = "accuracy", max_latencies: int = 100_000):
        self.version, self.metric = version, metric
        self.requests = self.errors = 0
        self.latencies: List[float] = []
        self.max_latencies = max_latencies
        self.feedback = 0
        self.score = 0.0  # correct answers, or the sum of |err| / err^2

    def record(self, latency_ms: float, ok: bool = True) -> None:
        self.requests += 1
        if not ok:
            self.errors += 1
            return
        if len(self.latencies) < self.max_latencies:
            self.latencies.append(latency_ms)
        else:  # keep a uniform sample of the latencies
            import random

            i = random.randrange(self.requests)
            if i < self.max_latencies:
                self.latencies[i] = latency_ms

    def add_feedback(self, predicted, label) -> None:
        self.feedback += 1
        self.score += score_one(self.metric, predicted, label)

    def stats(self) -> ArmStats:
        lat = sorted(self.latencies)
        quality = None
        if self.feedback:
            quality = self.score / self.feedback
        return ArmStats(self.version, self.requests, self.errors, percentile(lat, 50),
                        percentile(lat, 99), self.feedback, quality)


def score_one(metric: str, predicted, label) -> float:
    """One labelled answer's contribution: 1/0 for accuracy; |err| or err^2; the reward
    itself for a bandit's choice (``predicted`` is the choice)."""
    if metric == "accuracy":
        return 1.0 if _same_class(predicted, label) else 0.0
    if metric == "reward":
        return float(label)
    err = float(predicted) - float(label)
    return abs(err) if metric == "mae" else err * err


def _same_class(predicted, label) -> bool:
    """A predicted class (name or id) against a label (name or id)."""
    if isinstance(predicted, (list, tuple)):
        return any(_same_class(p, label) for p in predicted)
    return str(predicted) == str(label)


@dataclass
class Decision:
    action: str
    step: int              # the step the evidence was collected in
    share: float           # the canary's share in that step
    next_step: int         # the step after the decision
    next_share: float      # the canary's share after it (0 after a rollback; 1 = promoted)
    reasons: List[str]
    stable: Dict[str, Any] = field(default_factory=dict)
    canary: Dict[str, Any] = field(default_factory=dict)
    margins: Dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> Dict[str, Any]:
        return asdict(self)


def _quality_worse(stable: float, canary: float, policy: Policy):
    """(worse beyond the margin?, the drop as the margin measures it)."""
    if HIGHER_IS_BETTER[policy.quality_metric]:
        drop = stable - canary
    else:  # relative increase of the error; a perfect stable arm: absolute
        drop = (canary - stable) / stable if stable > 0 else canary - stable
    return drop > policy.max_quality_drop + 1e-12, drop


def decide(stable: ArmStats, canary: ArmStats, step: int, policy: Policy) -> Decision:
    """The canary policy: rollback, hold, ramp or promote, with reasons and evidence."""
    steps = policy.final_steps
    if not 0 <= step < len(steps) - 1:
        raise ValueError(f"step {step} is out of range for steps {steps} (the last, 100%, "
                         "is the promotion)")
    share = steps[step]
    worse: List[str] = []
    waiting: List[str] = []
    fine: List[str] = []

    # errors: the rates, or (before min_requests) the errors already seen
    delta = canary.error_rate - stable.error_rate
    if canary.requests >= policy.min_requests and canary.requests > 0:
        if delta > policy.max_error_rate_delta + 1e-12:
            worse.append(f"error rate {canary.error_rate:.4f} vs stable "
                         f"{stable.error_rate:.4f} (+{delta:.4f} > "
                         f"{policy.max_error_rate_delta:g})")
        else:
            fine.append(f"error rate {canary.error_rate:.4f} vs {stable.error_rate:.4f}")
    else:
        floor = canary.errors / max(policy.min_requests, 1)  # the rate it ends with at best
        if canary.errors and floor - stable.error_rate > policy.max_error_rate_delta + 1e-12:
            worse.append(f"{canary.errors} errors in {canary.requests} requests already "
                         f"exceed the margin over stable's {stable.error_rate:.4f} at "
                         f"{policy.min_requests} requests")
        else:
            waiting.append(f"{canary.requests}/{policy.min_requests} canary requests")

    # latency
    if canary.requests >= policy.min_requests and canary.p99_ms is not None \
            and stable.p99_ms is not None:
        bound = stable.p99_ms * policy.max_p99_latency_ratio + policy.p99_slack_ms
        if canary.p99_ms > bound:
            worse.append(f"p99 {canary.p99_ms:.2f} ms vs stable {stable.p99_ms:.2f} ms "
                         f"(> {bound:.2f} ms)")
        else:
            fine.append(f"p99 {canary.p99_ms:.2f} ms vs {stable.p99_ms:.2f} ms")
    elif canary.requests >= policy.min_requests:
        if canary.p99_ms is None and canary.requests:
            pass  # every canary request failed: the error rule speaks
        elif stable.p99_ms is None:
            waiting.append("no stable latency to compare with")

    # quality from labelled feedback
    if canary.feedback >= policy.min_feedback and stable.feedback >= policy.min_feedback \
            and canary.quality is not None and stable.quality is not None:
        bad, drop = _quality_worse(stable.quality, canary.quality, policy)
        text = (f"{policy.quality_metric} {canary.quality:.4f} vs stable "
                f"{stable.quality:.4f} (drop {drop:+.4f}, margin {policy.max_quality_drop:g})")
        (worse if bad else fine).append(text)
    else:
        waiting.append(f"feedback {canary.feedback}/{policy.min_feedback} canary, "
                       f"{stable.feedback}/{policy.min_feedback} stable")

    evidence = dict(stable=stable.evidence(), canary=canary.evidence(),
                    margins=policy.margins())
    if worse:
        return Decision(ROLLBACK, step, share, step, 0.0, worse, **evidence)
    if waiting:
        return Decision(HOLD, step, share, step, share, waiting, **evidence)
    nxt = step + 1
    if nxt == len(steps) - 1:
        return Decision(PROMOTE, step, share, len(steps) - 1, 1.0,
                        ["no worse within every margin: " + "; ".join(fine)], **evidence)
    return Decision(RAMP, step, share, nxt, steps[nxt],
                    ["no worse within every margin: " + "; ".join(fine)], **evidence)


def policy_from_config(cfg) -> Optional[Policy]:
    """The canary policy of ``cfg.serving.canary`` (None when not configured)."""
    c = cfg.serving.canary
    if c is None:
        return None
    metric = c.quality_metric or {"regression": "mae", "bandit": "reward"}.get(cfg.task,
                                                                               "accuracy")
    return Policy(steps=tuple(c.steps), min_requests=c.min_requests,
                  min_feedback=c.min_feedback,
                  max_error_rate_delta=c.max_error_rate_delta,
                  max_p99_latency_ratio=c.max_p99_latency_ratio,
                  p99_slack_ms=c.p99_slack_ms, max_quality_drop=c.max_quality_drop,
                  quality_metric=metric, interval_s=c.interval_s)
