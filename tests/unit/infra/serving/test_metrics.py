"""GET /metrics (infra/serving/metrics.py): scraped and parsed with Prometheus's own text
parser; counts by route template and status after real requests through the app."""
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from tfxkit.components.registry.registry import Registry
from tfxkit.infra.serving.app import create_app
from tfxkit.infra.serving.online_service import OnlineService
from tfxkit.infra.serving.request_log import RequestLog
from tests.unit.infra.serving.test_online_service import fake_loader, push, wait_loaded


def scrape(cl):
    r = cl.get("/metrics")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    samples = {}
    for fam in text_string_to_metric_families(r.text):
        for s in fam.samples:
            samples[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return samples


def value(samples, name, **labels):
    return samples.get((name, tuple(sorted(labels.items()))))


def test_metrics_count_requests_by_route_template_and_status(tmp_path):
    reg = Registry(str(tmp_path / "models"))
    v1 = push(reg, tmp_path, "v1", {"class": "A"})
    log = RequestLog(str(tmp_path / "requests"))
    svc = OnlineService("penguins", registry=reg, loader=fake_loader(), poll_s=3600,
                        max_wait_ms=0, requests=log)
    with TestClient(create_app(online=svc)) as cl:
        wait_loaded(cl, svc)
        for _ in range(3):
            assert cl.post("/predict", json={"instances": [{"island": "Dream"}]}).status_code \
                == 200
        assert cl.post("/predict", json={"rows": []}).status_code == 400
        assert cl.post("/models/penguins/predict",
                       json={"instances": [{}, {}]}).status_code == 200
        assert cl.post("/models/x/predict", json={"instances": [{}]}).status_code == 404
        assert cl.get("/no/such/path").status_code == 404
        log.flush()
        m = scrape(cl)
        req = "tfxkit_http_requests_total"
        assert value(m, req, route="/predict", method="POST", status="200") == 3
        assert value(m, req, route="/predict", method="POST", status="400") == 1
        assert value(m, req, route="/models/{model}/predict", method="POST",
                     status="200") == 1
        assert value(m, req, route="/models/{model}/predict", method="POST",
                     status="404") == 1
        assert value(m, req, route="<unmatched>", method="GET", status="404") == 1
        assert not any("/models/x/predict" in str(k) for k in m)  # never the raw path
        assert value(m, "tfxkit_http_request_duration_seconds_count", route="/predict",
                     method="POST") == 4
        assert value(m, "tfxkit_http_request_duration_seconds_bucket", route="/predict",
                     method="POST", le="+Inf") == 4
        assert value(m, "tfxkit_model_version_info", model="penguins", arm="stable",
                     version=v1) == 1
        assert value(m, "tfxkit_batch_size_count") == 4  # one model call per answered request
        assert value(m, "tfxkit_batch_size_sum") == 5
        assert value(m, "tfxkit_batcher_queue_items", arm="stable") == 0
        assert value(m, "tfxkit_request_log_written_total") == 5
        assert value(m, "tfxkit_request_log_dropped_total") == 0
        assert value(m, "tfxkit_request_log_queue_depth") == 0
        assert value(m, "tfxkit_http_requests_in_flight") == 1  # the scrape itself
        m2 = scrape(cl)  # the first scrape is counted too
        assert value(m2, req, route="/metrics", method="GET", status="200") == 1


def test_two_apps_in_one_process_keep_their_own_metrics():
    a, b = create_app(), create_app()  # no "Duplicated timeseries" from a shared registry
    with TestClient(a) as ca, TestClient(b) as cb:
        ca.get("/health/live")
        ca.get("/health/live")
        cb.get("/health/live")
        assert value(scrape(ca), "tfxkit_http_requests_total", route="/health/live",
                     method="GET", status="200") == 2
        assert value(scrape(cb), "tfxkit_http_requests_total", route="/health/live",
                     method="GET", status="200") == 1
