"""``tfxkit serve`` as a real process (infra/cli/serve.py, issue 19): bound to loopback by
default, the bearer token from ``--token-env`` (401 without it on POST /predict, 200 with
it), the request log turned on from the config, /metrics parsed by Prometheus's parser;
exit 2 when the token's variable is unset."""
import http.client
import json
import os
import subprocess
import sys
import time

from tests.integration.infra.serving.test_http_server import Proc, _free_port
from tests.unit.infra.serving.test_online_service import TEMPLATE_CONFIG

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..", ".."))
CLI = [sys.executable, "-c", "from tfxkit.infra.cli import main; main()"]


def call(port, method, path, body=None, headers=None):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        c.request(method, path, None if body is None else json.dumps(body),
                  {"Content-Type": "application/json", **(headers or {})})
        r = c.getresponse()
        return r.status, dict(r.getheaders()), r.read()
    finally:
        c.close()


def listening_addresses(port):
    """The local addresses of the sockets listening on ``port`` (/proc/net/tcp, tcp6)."""
    out = []
    for name in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(name) as f:
            for line in f.read().splitlines()[1:]:
                local, state = line.split()[1], line.split()[3]
                addr, p = local.split(":")
                if state == "0A" and int(p, 16) == port:
                    out.append(addr)
    return out


def test_serve_binds_loopback_requires_the_token_and_logs_requests(tmp_path):
    model = str(tmp_path / "model")
    subprocess.run([sys.executable, "-c", "from tests.integration.infra.serving."
                    "test_http_server import _make_model; import sys; _make_model(sys.argv[1])",
                    model], cwd=ROOT, check=True,
                   env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    sets = ["--set", f"push.registry={tmp_path}/models", "--set",
            "serving.request_log.enabled=true"]
    env_name = "TFXKIT_IT_SERVE_TOKEN"
    os.environ.pop(env_name, None)
    r = subprocess.run([*CLI, "serve", TEMPLATE_CONFIG, *sets, "--model-dir", model,
                        "--token-env", env_name], capture_output=True, text=True, cwd=ROOT,
                       timeout=120)
    assert r.returncode == 2 and env_name in r.stderr and "not set" in r.stderr, r.stderr
    port = _free_port()
    os.environ[env_name] = "it-token"
    try:
        proc = Proc([*CLI, "serve", TEMPLATE_CONFIG, *sets, "--model-dir", model,
                     "--token-env", env_name, "--port", str(port)], str(tmp_path / "serve.log"))
    finally:
        os.environ.pop(env_name)
    try:
        deadline = time.monotonic() + 180
        while True:
            assert proc.alive(), proc.tail()
            try:
                if call(port, "GET", "/health/ready")[0] == 200:
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline, proc.tail()
            time.sleep(0.2)
        assert listening_addresses(port) == ["0100007F"]  # 127.0.0.1 only
        body = {"instances": [{"x": 1.5, "n": 1, "s": ["t"]}]}
        st, headers, raw = call(port, "POST", "/predict", body)
        assert st == 401 and headers["www-authenticate"].startswith("Bearer"), raw
        st, _, raw = call(port, "POST", "/predict", body,
                          {"Authorization": "Bearer wrong"})
        assert st == 401
        good = {"Authorization": "Bearer it-token"}
        st, _, raw = call(port, "POST", "/predict", body, good)
        assert st == 200, raw
        rid = json.loads(raw)["request_id"]
        st, _, text = call(port, "GET", "/metrics")
        assert st == 200
        from prometheus_client.parser import text_string_to_metric_families

        counts = {(s.labels["route"], s.labels["status"]): s.value
                  for f in text_string_to_metric_families(text.decode())
                  for s in f.samples if s.name == "tfxkit_http_requests_total"}
        assert counts[("/predict", "401")] == 2 and counts[("/predict", "200")] == 1
    finally:
        proc.stop()  # SIGTERM: the request log is written and closed
    from tfxkit.infra.serving.request_log import read_request_log

    lines = list(read_request_log(str(tmp_path / "models" / "requests")))
    assert [(x["request_id"], x["route"], x["arm"]) for x in lines] == \
        [(rid, "/predict", "stable")]
    assert lines[0]["features"] == body["instances"][0]
