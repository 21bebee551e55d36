"""Alerts sent over real HTTP (infra/alerts/send.py): a local receiver (http.server on
127.0.0.1, in a thread) records every request; the tests assert in their own thread on
what it received. A receiver that refuses, answers 500 or never answers costs at most the
timeout and does not raise."""
import io
import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tfxkit.infra.alerts import fire
from tfxkit.pipelines.config.alerts import Alerts

SLACK = "https://hooks.slack.com/services/T1JJ3T3L2/A1BRTD4JD/TIiajkdnlazkcOXrIdevi7"


class Receiver:
    """A local HTTP server recording ``(method, path, headers, body)`` of each request and
    answering ``status`` (or nothing for ``hang_s`` seconds)."""

    def __init__(self, status=200, hang_s=0.0):
        self.requests, self.status, self.hang_s = [], status, hang_s
        self.release = threading.Event()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                n = int(self.headers.get("Content-Length", 0))
                outer.requests.append(("POST", self.path, dict(self.headers),
                                       self.rfile.read(n)))
                if outer.hang_s:
                    outer.release.wait(outer.hang_s)
                self.send_response(outer.status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    made = []

    def make(**kw):
        made.append(Receiver(**kw))
        return made[-1]

    yield make
    for r in made:
        r.close()


def _cfg(*targets, timeout_s=2.0):
    return Alerts(targets=list(targets), timeout_s=timeout_s)


def test_a_webhook_gets_apprise_json_with_our_fields(receiver):
    r = receiver()
    out = fire(_cfg({"webhook": f"{r.url}/hooks/tfxkit?token=abc123"}), "not_blessed",
               "model not blessed", "accuracy 0.41 is below 0.99",
               {"metrics": {"accuracy": 0.41}}, use_case="penguin", run_id="run-7",
               model_version="17")
    assert out == [(f"webhook {r.url}", True, None)]
    assert len(r.requests) == 1
    method, path, headers, body = r.requests[0]
    assert method == "POST" and path == "/hooks/tfxkit?token=abc123"
    assert headers["Content-Type"] == "application/json"
    doc = json.loads(body)
    assert doc["version"] == "1.0" and doc["type"] == "warning"
    assert doc["title"] == "[tfxkit penguin] not_blessed: model not blessed"
    assert doc["message"].splitlines()[0] == "accuracy 0.41 is below 0.99"
    assert "run: run-7" in doc["message"] and "model version: 17" in doc["message"]
    assert {k: doc[k] for k in ("kind", "use_case", "run_id", "model_version", "details")} == {
        "kind": "not_blessed", "use_case": "penguin", "run_id": "run-7",
        "model_version": "17", "details": {"metrics": {"accuracy": 0.41}}}


def test_slack_gets_a_slack_payload(receiver, monkeypatch):
    """apprise's Slack plugin posts to hooks.slack.com only: its webhook base is pointed at
    the local receiver, so the real plugin sends its real payload over HTTP to it."""
    from apprise.plugins.slack import NotifySlack

    r = receiver()
    monkeypatch.setattr(NotifySlack, "webhook_url", f"{r.url}/services")
    err = io.StringIO()
    out = fire(_cfg({"slack": {"webhook_url_env": "TFXKIT_TEST_SLACK"}}), "canary_rollback",
               "canary 2 rolled back to 1", "error rate 0.2 > 0.01", use_case="penguin",
               model_version="2", env={"TFXKIT_TEST_SLACK": SLACK}, stderr=err)
    assert out == [("slack $TFXKIT_TEST_SLACK", True, None)], err.getvalue()
    [(method, path, headers, body)] = r.requests
    assert path == "/services/T1JJ3T3L2/A1BRTD4JD/TIiajkdnlazkcOXrIdevi7"
    doc = json.loads(body)
    [att] = doc["attachments"]  # Slack's message attachment (apprise's webhook mode)
    assert att["title"] == "[tfxkit penguin] canary_rollback: canary 2 rolled back to 1"
    assert att["text"].splitlines()[0] == "error rate 0.2 &gt; 0.01"  # Slack's escaping
    assert "model version: 2" in att["text"]
    assert err.getvalue() == ""


@pytest.mark.parametrize("kind", ["skew", "drift"])
def test_monitor_kinds_are_ready(receiver, kind):
    r = receiver()
    out = fire(_cfg({"webhook": r.url, "on": [kind]}), kind, f"{kind} on 2 features",
               "body_mass_g: 0.31 > 0.1", {"features": {"body_mass_g": 0.31}},
               use_case="penguin")
    assert out[0][1] is True
    doc = json.loads(r.requests[0][3])
    assert doc["kind"] == kind and doc["details"] == {"features": {"body_mass_g": 0.31}}


def _closed_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def test_failing_receivers_do_not_raise_and_cost_at_most_the_timeout(receiver):
    ok, broken, hung = receiver(), receiver(status=500), receiver(hang_s=30)
    port = _closed_port()
    err = io.StringIO()
    t0 = time.monotonic()
    out = fire(_cfg({"webhook": f"{ok.url}/a"}, {"webhook": f"{broken.url}/b?token=s3cr3t"},
                    {"webhook": f"{hung.url}/c"}, {"webhook": f"http://127.0.0.1:{port}/d"},
                    timeout_s=2.0),
               "failed_run", "Run failed in Trainer", "boom", stderr=err)
    took = time.monotonic() - t0
    assert took < 5, took  # at most timeout_s + 1 s by design, and some slack
    assert [(label, good) for label, good, _ in out] == [
        (f"webhook {ok.url}", True), (f"webhook {broken.url}", False),
        (f"webhook {hung.url}", False), (f"webhook http://127.0.0.1:{port}", False)]
    assert "500" in out[1][2]
    assert out[2][2]  # a read timeout, or no answer within the time
    assert "onnection" in out[3][2]
    assert len(ok.requests) == len(broken.requests) == len(hung.requests) == 1
    printed = err.getvalue()
    assert printed.count("tfxkit: alert failed_run to webhook") == 3
    assert "s3cr3t" not in printed and "/b" not in printed


def test_why_a_send_failed_survives_quiet_logs(receiver, capsys):
    """``tfxkit`` commands set the root logger to ERROR (quiet_logs): apprise's WARNING
    that says why a send failed (the 500) still reaches the result, and nothing of
    apprise's is printed besides tfxkit's own line; the levels are restored after."""
    import logging

    broken = receiver(status=500)
    root, apprise_log = logging.getLogger(), logging.getLogger("apprise")
    before = root.level
    root.setLevel(logging.ERROR)
    try:
        err = io.StringIO()
        out = fire(_cfg({"webhook": f"{broken.url}/b"}, timeout_s=5.0), "failed_run",
                   "Run failed in Trainer", "boom", stderr=err)
    finally:
        root.setLevel(before)
    assert out[0][1] is False and "500" in out[0][2], out
    assert apprise_log.level == logging.NOTSET and apprise_log.propagate is True
    assert "Failed to send" not in capsys.readouterr().err
