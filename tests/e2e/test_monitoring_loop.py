"""The monitoring loop end to end, on the real server: ``tfxkit serve`` (request log on)
over the registry of the shared trained penguin model answers traffic whose ``island`` is
always 'Torgersen'; ``tfxkit monitor`` reads the log the server wrote, flags skew on
island and on no other feature (exit 4), a local HTTP receiver (the config's ``alerts:``
webhook) gets the ``skew`` alert, and the run report shows the window. ``/metrics`` of
the same server parses with Prometheus' text parser and counts the requests sent."""
import csv
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import httpx
import pytest
import yaml

from tests.e2e.helpers import tfxkit

pytestmark = pytest.mark.e2e

BIN = Path(sys.executable).parent / "tfxkit"
INT_COLUMNS = {"flipper_length_mm", "body_mass_g", "year"}
FEATURES = ["island", "bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g",
            "sex", "year"]


def _instances(path, island):
    out = []
    with open(path) as f:
        for row in csv.DictReader(f):
            inst = {}
            for k, v in row.items():
                if k == "species" or v in ("", "NA"):
                    continue
                if k in ("island", "sex"):
                    inst[k] = v
                elif k in INT_COLUMNS:
                    inst[k] = int(float(v))
                else:
                    inst[k] = float(v)
            inst["island"] = island
            out.append(inst)
    return out


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Receiver:
    """A webhook receiver on 127.0.0.1: the JSON bodies it was sent, read by the test."""

    def __init__(self):
        bodies = self.bodies = []

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                n = int(self.headers.get("Content-Length", 0))
                bodies.append(json.loads(self.rfile.read(n) or b"{}"))
                self.send_response(200)
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def _wait_until_outside_hour_end(margin_s=120):
    """Windows are hours on the epoch's grid: the traffic must fall in one of them."""
    left = 3600 - time.time() % 3600
    if left < margin_s:
        time.sleep(left + 1)


def test_shifted_traffic_is_logged_flagged_alerted_and_reported(trained_multiclass,
                                                                copy_case, tmp_path):
    from prometheus_client.parser import text_string_to_metric_families

    case = copy_case(trained_multiclass.case)
    config = case / "config.yaml"
    receiver = Receiver()
    cfg = yaml.safe_load(config.read_text())
    cfg.setdefault("serving", {})["request_log"] = {"enabled": True, "sample_rate": 1.0}
    cfg["alerts"] = {"timeout_s": 10, "targets": [{"webhook": receiver.url}]}
    config.write_text(yaml.safe_dump(cfg))

    _wait_until_outside_hour_end()
    port = _free_port()
    log = open(tmp_path / "serve.log", "w")
    proc = subprocess.Popen([str(BIN), "serve", str(config), "--port", str(port)],
                            stdout=log, stderr=subprocess.STDOUT,
                            env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while True:
            assert proc.poll() is None, (tmp_path / "serve.log").read_text()
            try:
                if httpx.get(url + "/health/ready", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, (tmp_path / "serve.log").read_text()
            time.sleep(0.3)

        shifted = _instances(case / "data" / "penguins.csv", island="Torgersen")
        sent = 0
        with httpx.Client(timeout=30) as client:
            for i in range(0, len(shifted), 8):  # requests of 8 instances
                r = client.post(url + "/predict", json={"instances": shifted[i:i + 8]})
                assert r.status_code == 200, r.text
                assert len(r.json()["predictions"]) == len(shifted[i:i + 8])
                sent += 1
            metrics = client.get(url + "/metrics")
        assert metrics.status_code == 200
        families = {f.name: f for f in text_string_to_metric_families(metrics.text)}
        counted = [s for f in families.values() for s in f.samples
                   if s.name.endswith("_total") and s.labels.get("route") == "/predict"
                   and str(s.labels.get("status", s.labels.get("code"))) == "200"]
        assert counted and sum(s.value for s in counted) == sent, metrics.text[:3000]
    finally:
        proc.send_signal(signal.SIGINT)  # the request log is flushed and closed on exit
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
        print((tmp_path / "serve.log").read_text()[-3000:])

    # the log the server wrote: one line per instance, every island shifted
    lines = [json.loads(x) for p in sorted((case / "models" / "requests").glob("*.jsonl"))
             for x in p.read_text().splitlines() if x.strip()]
    assert len(lines) == len(shifted)
    assert {x["features"]["island"] for x in lines} == {"Torgersen"}
    assert all(x["arm"] == "stable" and x["model_version"] for x in lines)

    try:
        mon = tfxkit("monitor", config, "--window-end", str(int(time.time())))
    finally:
        receiver.close()
    assert mon.returncode == 4, mon.stdout + mon.stderr
    flagged = [ln.split()[0] for ln in mon.stdout.splitlines()
               if ln.split() and ln.split()[0] in FEATURES and "SKEW" in ln]
    assert flagged == ["island"], mon.stdout
    skew = [b for b in receiver.bodies if b.get("kind") == "skew"]
    assert len(skew) == 1, receiver.bodies
    assert "island" in skew[0]["title"]
    assert {f["feature"] for f in skew[0]["details"]["flagged"] if f["kind"] == "skew"} \
        == {"island"}
    assert skew[0]["use_case"] == cfg["name"]

    out = tmp_path / "report.html"
    r = tfxkit("report", config, "-o", out)
    assert r.returncode == 0, r.stderr
    page = out.read_text()
    assert "data-section='monitoring'" in page
    assert "data-feature='island' data-flagged='true'" in page
    assert "data-feature='bill_length_mm' data-flagged='false'" in page
