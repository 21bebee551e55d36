"""The canary policy on Vertex AI (infra/canary/vertex_traffic.py): traffic percentages,
requests per decision, and the aiplatform client's calls."""
from unittest import mock

import pytest

from tfxkit.infra.canary import policy as c
from tests.unit.infra.canary.test_policy import P, arm
from tfxkit.infra.canary import vertex_traffic as cv


def test_vertex_percentages():
    assert [cv.percent(s) for s in (0, 0.001, 0.1, 0.255, 0.5, 0.999, 1.0)] == \
        [0, 1, 10, 26, 50, 99, 100]
    assert cv.traffic_split("111", "222", 0.25) == {"111": 75, "222": 25}
    assert cv.traffic_split("111", "222", 1.0) == {"222": 100}
    for s in (0.01, 0.1, 0.33, 0.5, 0.66, 0.99):
        assert sum(cv.traffic_split("a", "b", s).values()) == 100


def test_vertex_requests_per_decision():
    start = cv.vertex_requests("start", 0.1, "111",
                               canary_model="projects/p/locations/l/models/9",
                               deploy_kwargs={"machine_type": "n1-standard-2"})
    assert start == [("deploy", {"model": "projects/p/locations/l/models/9",
                                 "machine_type": "n1-standard-2",
                                 "traffic_split": {"111": 90, "0": 10}})]
    assert cv.vertex_requests("hold", 0.1, "111", "222") == []
    assert cv.vertex_requests("ramp", 0.25, "111", "222") == \
        [("update", {"traffic_split": {"111": 75, "222": 25}})]
    assert cv.vertex_requests("promote", 1.0, "111", "222") == \
        [("update", {"traffic_split": {"222": 100}}),
         ("undeploy", {"deployed_model_id": "111"})]
    assert cv.vertex_requests("rollback", 0.0, "111", "222") == \
        [("update", {"traffic_split": {"111": 100}}),
         ("undeploy", {"deployed_model_id": "222"})]
    with pytest.raises(ValueError):
        cv.vertex_requests("ramp", 0.5, "111")
    with pytest.raises(ValueError):
        cv.vertex_requests("start", 0.5, "111")
    with pytest.raises(ValueError):
        cv.vertex_requests("explode", 0.5, "111", "222")


def test_vertex_decisions_follow_the_policy():
    """The same Decision drives the endpoint: its next_share is the split."""
    d = c.decide(arm(), arm("2", requests=200), 1, P)
    assert cv.vertex_requests(d.action, d.next_share, "111", "222") == \
        [("update", {"traffic_split": {"111": 50, "222": 50}})]


def test_vertex_apply_calls_the_aiplatform_client(monkeypatch):
    """What google-cloud-aiplatform's Endpoint would be sent (the client is patched at
    its boundary: no cloud is reachable)."""
    from google.cloud import aiplatform

    calls = []

    class FakeEndpoint:
        def __init__(self, name):
            calls.append(("Endpoint", name))

        def deploy(self, **kw):
            calls.append(("deploy", kw))

        def update(self, **kw):
            calls.append(("update", kw))

        def undeploy(self, **kw):
            calls.append(("undeploy", kw))

    monkeypatch.setattr(aiplatform, "Endpoint", FakeEndpoint)
    monkeypatch.setattr(aiplatform, "Model", lambda name: ("Model", name))
    init = mock.Mock()
    monkeypatch.setattr(aiplatform, "init", init)
    cv.apply(cv.vertex_requests("start", 0.1, "111", canary_model="models/9"),
             "projects/p/locations/us-central1/endpoints/5", project="p",
             location="us-central1")
    cv.apply(cv.vertex_requests("promote", 1.0, "111", "222"), "5")
    init.assert_called_once_with(project="p", location="us-central1")
    assert calls == [
        ("Endpoint", "projects/p/locations/us-central1/endpoints/5"),
        ("deploy", {"model": ("Model", "models/9"), "traffic_split": {"111": 90, "0": 10}}),
        ("Endpoint", "5"),
        ("update", {"traffic_split": {"222": 100}}),
        ("undeploy", {"deployed_model_id": "111"})]
