"""The prediction server's contract: 200 with the row, 404 naming the key or model, 503
when the store is unreachable (and again 200 once it is back)."""
from fastapi.testclient import TestClient

from tfxkit.components.prediction_store.store import StoreUnavailable, open_store
from tfxkit.infra.serving.app import create_app


def test_get_404_and_503(tmp_path):
    path = str(tmp_path / "p.sqlite")
    s = open_store("sqlite", path)
    s.write_run("m", "run-1", "v7", [("u1", {"class": "a", "probabilities": [0.9, 0.1]})])
    s.close()
    down = {"now": False}

    class Flaky:
        def __init__(self):
            self.s = open_store("sqlite", path)
            self.description = self.s.description

        def _check(self):
            if down["now"]:
                raise StoreUnavailable("redis redis://127.0.0.1:6379/0: connection refused")

        def get(self, *a):
            self._check()
            return self.s.get(*a)

        def ping(self):
            self._check()

        def runs(self, *a):
            self._check()
            return self.s.runs(*a)

    c = TestClient(create_app(Flaky, ["m", "other"]))
    r = c.get("/predictions/u1")
    assert r.status_code == 200
    assert r.json()["prediction"]["class"] == "a" and r.json()["model_version"] == "v7"
    assert r.json()["run_id"] == "run-1" and r.json()["model"] == "m"
    r = c.get("/predictions/nobody")
    assert r.status_code == 404 and "'nobody'" in r.json()["detail"]
    r = c.get("/models/nope/predictions/u1")
    assert r.status_code == 404 and "unknown model 'nope'" in r.json()["detail"]
    assert c.get("/health").status_code == 200
    down["now"] = True
    for path_ in ("/predictions/u1", "/health", "/models"):
        r = c.get(path_)
        assert r.status_code == 503 and "connection refused" in r.json()["detail"], path_
    down["now"] = False
    assert c.get("/predictions/u1").status_code == 200


def test_health_live_and_ready(tmp_path):
    """/health/live answers without the store; /health/ready names what is not ready."""
    path = str(tmp_path / "p.sqlite")
    down = {"now": False}

    class Store:
        def __init__(self):
            self.s = open_store("sqlite", path)
            self.description = self.s.description

        def ping(self):
            if down["now"]:
                raise StoreUnavailable("redis redis://127.0.0.1:6379/0: connection refused")

    with TestClient(create_app(Store, ["m"])) as c:
        assert c.get("/health/live").json() == {"status": "alive"}
        assert c.get("/health/ready").status_code == 200
        down["now"] = True
        r = c.get("/health/ready")
        assert r.status_code == 503 and "connection refused" in r.json()["detail"]
        assert c.get("/health/live").status_code == 200
        assert c.get("/openapi.json").status_code == 200
        docs = c.get("/docs").text
        assert "/health/ready" in docs and "http" not in docs.replace("openapi.json", "")


def test_health_is_not_ok_while_the_online_model_loads(tmp_path):
    """GET /health with a store and online serving: 503 naming the loading model until it
    is loaded (it answered "ok" before, while /predict could only answer 503)."""
    from types import SimpleNamespace

    class Online:
        name, error, stable, max_instances = "m", "loading the model", None, 10

        async def start(self):
            pass

        async def stop(self):
            pass

        def readiness(self):
            return [self.error] if self.stable is None else []

    online = Online()
    with TestClient(create_app(lambda: open_store("sqlite", str(tmp_path / "p.sqlite")),
                               ["m"], online=online)) as c:
        r = c.get("/health")
        assert r.status_code == 503 and r.json()["status"] == "not ready"
        assert r.json()["detail"] == "loading the model"
        assert c.get("/health/ready").status_code == 503
        online.stable, online.error = SimpleNamespace(version="4"), None
        r = c.get("/health")
        assert r.status_code == 200 and r.json()["online"]["model_version"] == "4"
        assert c.get("/health/live").status_code == 200


def test_body_and_instance_limits_in_the_app():
    """The same limits in the app itself (any ASGI server): Content-Length over the limit
    is refused before reading, so is a chunked body past it; too many instances is 413."""
    from tfxkit.infra.serving.limits import Limits
    from tfxkit.infra.serving.online_service import OnlineService

    svc = OnlineService("m", model_dir="/nonexistent", loader=lambda *a: None)
    app = create_app(online=svc, limits=Limits(max_body_mb=0.01, max_instances=3))
    c = TestClient(app)  # no lifespan: no model (503) unless a limit answers first
    r = c.post("/predict", content=b"x" * 20000)
    assert r.status_code == 413 and "max_body_mb" in r.json()["detail"]

    def chunks():
        for _ in range(20):
            yield b"x" * 1000
    r = c.post("/predict", content=chunks())
    assert r.status_code == 413 and "max_body_mb" in r.json()["detail"]
    r = c.post("/predict", json={"instances": [{}] * 4})
    assert r.status_code == 413 and "max_instances" in r.json()["detail"]
    assert c.post("/predict", json={"instances": [{}]}).status_code == 503
