"""The canary policy on a Vertex AI endpoint: decisions become traffic-split requests.

``vertex_requests`` is pure: it turns one decision (``start``, ``ramp``, ``hold``,
``promote``, ``rollback``) into the calls google-cloud-aiplatform's ``Endpoint`` would
get, as ``(method, kwargs)`` pairs; ``apply`` makes them on a real endpoint. Vertex
wants integer percentages that add up to 100, keyed by DeployedModel id; in
``Endpoint.deploy`` the model being deployed is ``"0"``.

- start: ``deploy(model=<candidate>, traffic_split={"0": p, stable: 100 - p})``
- ramp: ``update(traffic_split={stable: 100 - p, canary: p})``
- promote: ``update(traffic_split={canary: 100})``, then ``undeploy(stable)``
- rollback: ``update(traffic_split={stable: 100})``, then ``undeploy(canary)``
- hold: nothing
"""
from __future__ import annotations

from typing import Any, Dict, List, Optional, Tuple

Request = Tuple[str, Dict[str, Any]]


def percent(share: float) -> int:
    """A share as Vertex's integer percentage: a canary that has any share gets at least
    1%, and one below 100% leaves the stable version at least 1%."""
    if share <= 0:
        return 0
    if share >= 1:
        return 100
    return min(99, max(1, int(round(share * 100))))


def traffic_split(stable_id: str, canary_id: str, share: float) -> Dict[str, int]:
    p = percent(share)
    split = {str(stable_id): 100 - p, str(canary_id): p}
    return {k: v for k, v in split.items() if v > 0}


def vertex_requests(action: str, share: float, stable_id: str,
                    canary_id: Optional[str] = None, canary_model: Optional[str] = None,
                    deploy_kwargs: Optional[Dict[str, Any]] = None) -> List[Request]:
    """The endpoint calls for a decision. ``share``: the canary's share after it
    (``Decision.next_share``); ``stable_id``/``canary_id``: DeployedModel ids on the
    endpoint; ``canary_model``: the Model resource name to deploy (``start``)."""
    if action == "start":
        if not canary_model:
            raise ValueError("start needs the candidate's model resource name")
        kwargs = dict(deploy_kwargs or {})
        kwargs.update(model=canary_model, traffic_split=traffic_split(stable_id, "0", share))
        return [("deploy", kwargs)]
    if action == "hold":
        return []
    if canary_id is None:
        raise ValueError(f"{action} needs the canary's deployed model id")
    if action == "ramp":
        return [("update", {"traffic_split": traffic_split(stable_id, canary_id, share)})]
    if action == "promote":
        return [("update", {"traffic_split": {str(canary_id): 100}}),
                ("undeploy", {"deployed_model_id": str(stable_id)})]
    if action == "rollback":
        return [("update", {"traffic_split": {str(stable_id): 100}}),
                ("undeploy", {"deployed_model_id": str(canary_id)})]
    raise ValueError(f"unknown canary action {action!r}")


def apply(requests: List[Request], endpoint: str, project: Optional[str] = None,
          location: Optional[str] = None, aiplatform=None) -> list:
    """Makes ``requests`` on the Vertex endpoint ``endpoint`` (a resource name or id) with
    google-cloud-aiplatform, as the identity of the environment; returns the results."""
    if aiplatform is None:
        from google.cloud import aiplatform
    if project or location:
        aiplatform.init(project=project, location=location)
    ep = aiplatform.Endpoint(endpoint)
    out = []
    for method, kwargs in requests:
        kwargs = dict(kwargs)
        if method == "deploy":
            kwargs["model"] = aiplatform.Model(kwargs["model"])
        out.append(getattr(ep, method)(**kwargs))
    return out
