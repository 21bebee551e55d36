"""The prediction server's contract: 200 with the row, 404 naming the key or model, 503
when the store is unreachable (and again 200 once it is back)."""
from fastapi.testclient import TestClient

from tfxkit.components.prediction_store.store import StoreUnavailable, open_store
from tfxkit.infra.serve import create_app


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
