"""The online server's faults of issue 13, each reproduced against a real server process
on loopback (real sockets, real oversized bodies, a real redis-server that is stopped
with SIGSTOP), so that each test fails on the server before the fixes and passes now.

Server A (module scope): ``create_app`` + ``serve.run`` (as ``tfxkit serve`` runs it)
with a tiny real SavedModel (built by the server process itself: a scalar, a [1]-shaped
and a multi-valued feature), a Redis prediction store on a redis-server of its own, small
limits, and an open-files limit of 512. Server B (one test): a model whose calls read
a file of its folder (as a SavedModel's assets are), to delete the folder under it.

This file is also the servers' entry point: ``python test_http_server.py --port P ...``.
"""
import contextlib
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time

import pytest

HERE = os.path.abspath(__file__)
NOFILE = 512
LIMITS = {"max_body_mb": 16, "max_instances": 100_000, "max_inflight": 64,
          "max_large_inflight": 1, "max_connections": 128, "header_timeout_s": 1.0,
          "body_timeout_s": 1.0, "keep_alive_s": 5.0, "store_threads": 4,
          "store_breaker_s": 3.0, "store_timeout_s": 2.0, "feedback_instances": 10_000}


# -- the server processes ------------------------------------------------------------------

def _make_model(path):
    import tensorflow as tf

    spec = {"x": tf.io.FixedLenFeature([], tf.float32, default_value=0.0),
            "n": tf.io.FixedLenFeature([1], tf.int64, default_value=[0]),
            "s": tf.io.VarLenFeature(tf.string)}

    class M(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="examples")])
        def serve(self, serialized):
            p = tf.io.parse_example(serialized, spec)
            x = p["x"][:, None] + tf.cast(p["n"], tf.float32) + 0.0 * tf.cast(
                tf.sparse.reduce_sum(tf.sparse.map_values(tf.strings.length, p["s"]),
                                     axis=1, keepdims=True), tf.float32)
            probs = tf.nn.softmax(tf.concat([x, -x], axis=1))
            cid = tf.argmax(probs, axis=1)
            return {"probabilities": probs, "class_id": cid[:, None],
                    "class": tf.gather(tf.constant(["a", "b"]), cid)[:, None]}

    m = M()
    tf.saved_model.save(m, path, signatures={"serving_default": m.serve})


def _asset_loader(version, path, max_batch_size, max_wait_ms, metric):
    """A model that reads its folder on every call (a SavedModel's assets, e.g. a
    vocabulary, are read from its folder)."""
    import numpy as np

    from tfxkit.infra.serving.arm import Arm

    def fn(items):
        with open(os.path.join(path, "assets", "classes.txt")) as f:
            first = f.read().split()[0].encode()
        return {"class": np.array([[first]] * len(items)),
                "class_id": np.zeros((len(items), 1), np.int64)}

    return Arm(version, path, fn, {"x": "float"}, ["class", "class_id"], max_batch_size,
               max_wait_ms, metric or "accuracy")


def _serve_main(argv):
    import argparse

    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int)
    ap.add_argument("--model-dir")
    ap.add_argument("--make-model", action="store_true")
    ap.add_argument("--assets", action="store_true", help="the model of _asset_loader")
    ap.add_argument("--redis")
    ap.add_argument("--limits", default="{}")
    args = ap.parse_args(argv)
    if args.make_model and not os.path.isdir(args.model_dir):
        _make_model(args.model_dir)
    from tfxkit.components.prediction_store.store import open_store
    try:
        from tfxkit.infra.serving.app import create_app
        from tfxkit.infra.serving.http_server import run
        from tfxkit.infra.serving.limits import Limits
        from tfxkit.infra.serving.online_service import OnlineService
    except ModuleNotFoundError:  # the server before the fixes: infra/serve.py, infra/online.py
        from tfxkit.infra.online import OnlineService
        from tfxkit.infra.serve import create_app
        Limits = run = None

    limits = json.loads(args.limits)
    kw = {"loader": _asset_loader} if args.assets else {}
    feedback = limits.pop("feedback_instances", None)
    if feedback is not None and Limits is not None:
        kw["feedback_instances"] = feedback
    svc = OnlineService("m", model_dir=args.model_dir, key_field="id", max_batch_size=256,
                        max_wait_ms=1, **kw)
    opener = None
    if args.redis:
        def opener():
            return open_store("redis", args.redis, timeout_s=limits.get("store_timeout_s", 5))
    if Limits is not None:
        lim = Limits(**limits)
        app = create_app(opener, ["m"] if opener else [], "faults", online=svc, limits=lim)
        run(app, port=args.port, limits=lim)
    else:  # the server before the fixes: as its serve() ran it
        import uvicorn

        app = create_app(opener, ["m"] if opener else [], "faults", online=svc)
        uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning",
                    access_log=False, loop="uvloop", http="httptools")


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _nofile(n):
    def limit():
        import resource

        resource.setrlimit(resource.RLIMIT_NOFILE, (n, n))
    return limit


class Proc:
    def __init__(self, cmd, log, nofile=None):
        self.log = log
        self.f = open(log, "w")
        env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "TF_USE_LEGACY_KERAS": "1"}
        env.pop("PYTHONWARNINGS", None)
        self.p = subprocess.Popen(cmd, stdout=self.f, stderr=subprocess.STDOUT, env=env,
                                  preexec_fn=_nofile(nofile) if nofile else None)

    def alive(self):
        return self.p.poll() is None

    def stop(self):
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGCONT)
            self.p.terminate()
            try:
                self.p.wait(15)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()
        self.f.close()

    def tail(self):
        with open(self.log) as f:
            return f.read()[-3000:]


def request(port, method, path, body=None, timeout=30.0, headers=None):
    """(status, parsed JSON or text, seconds)."""
    t = time.perf_counter()
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        data = body if isinstance(body, (bytes, type(None))) else json.dumps(body).encode()
        c.request(method, path, data, {"Content-Type": "application/json", **(headers or {})})
        r = c.getresponse()
        raw = r.read()
    finally:
        c.close()
    try:
        out = json.loads(raw)
    except ValueError:
        out = raw.decode(errors="replace")
    return r.status, out, time.perf_counter() - t


def wait_up(proc, port, timeout=180):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.alive(), proc.tail()
        with contextlib.suppress(OSError):
            st, out, _ = request(port, "GET", "/canary", timeout=5)
            if st == 200 and (out.get("stable") or {}).get("version"):
                return
        time.sleep(0.2)
    raise AssertionError("the server did not load its model:\n" + proc.tail())


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory):
    port = _free_port()
    d = tmp_path_factory.mktemp("redis")
    proc = Proc(["/usr/bin/redis-server", "--port", str(port), "--bind", "127.0.0.1",
                 "--save", "", "--appendonly", "no", "--dir", str(d)], str(d / "redis.log"))
    url = f"redis://127.0.0.1:{port}/0"
    from tfxkit.components.prediction_store.store import open_store

    deadline = time.monotonic() + 30
    while True:
        try:
            s = open_store("redis", url, timeout_s=1)
            s.ping()
            break
        except Exception:  # pylint: disable=broad-except
            assert time.monotonic() < deadline and proc.alive(), proc.tail()
            time.sleep(0.1)
    s.write_run("m", "run-1", "v1", [("u1", {"class": "a", "probabilities": [0.9, 0.1]})])
    s.close()
    yield {"url": url, "proc": proc}
    proc.stop()


@pytest.fixture(scope="module")
def server(tmp_path_factory, redis_server):
    """Server A: a tiny real SavedModel, the Redis store, small limits, 512 open files."""
    d = tmp_path_factory.mktemp("serve-a")
    port = _free_port()
    proc = Proc([sys.executable, HERE, "--port", str(port), "--model-dir", str(d / "model"),
                 "--make-model", "--redis", redis_server["url"], "--limits",
                 json.dumps(LIMITS)], str(d / "serve.log"), nofile=NOFILE)
    try:
        wait_up(proc, port)
        yield {"port": port, "proc": proc, "pid": proc.p.pid, "redis": redis_server}
    finally:
        proc.stop()


def one(x=1.0):
    return {"instances": [{"x": x, "n": 1, "s": ["t"], "id": "k"}]}


def big_body(n, pad=""):
    inst = ('{"x": %d.5, "n": [3], "s": ["Torgersen", "Biscoe", "Dream%s"], "id": "row-%d"}')
    return ('{"instances": [' + ",".join(inst % (i % 97, pad, i) for i in range(n)) +
            "]}").encode()


class Prober:
    """Single-instance POST /predict, one after another, while something else runs:
    their latencies (s) and statuses."""

    def __init__(self, port, path="/predict"):
        self.port, self.path = port, path
        self.lat, self.status = [], []
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.is_set():
            try:
                st, _, dt = request(self.port, "POST", self.path, one(), timeout=30)
            except OSError:
                st, dt = None, 30.0
            self.status.append(st)
            self.lat.append(dt)
            time.sleep(0.02)

    def __enter__(self):
        self._t.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._t.join(60)


def _read_response(sock, timeout):
    sock.settimeout(timeout)
    buf = b""
    with contextlib.suppress(ConnectionResetError, socket.timeout):
        while b"\r\n\r\n" not in buf:
            got = sock.recv(65536)
            if not got:
                break
            buf += got
        head, _, rest = buf.partition(b"\r\n\r\n")
        n = next((int(l.split(b":")[1]) for l in head.split(b"\r\n")
                  if l.lower().startswith(b"content-length:")), 0)
        while len(rest) < n:
            got = sock.recv(65536)
            if not got:
                break
            rest += got
        return head, rest
    return buf, b""


def _send_in_background(sock, data, chunked=False):
    """Sends ``data`` (in HTTP chunks when ``chunked``) until the server stops reading."""
    def run():
        with contextlib.suppress(OSError):
            step = 1 << 20
            for i in range(0, len(data), step):
                part = data[i:i + step]
                sock.sendall(b"%x\r\n%s\r\n" % (len(part), part) if chunked else part)
            if chunked:
                sock.sendall(b"0\r\n\r\n")
    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t


# -- fault 2: one large request stalls everything ------------------------------------------

def test_oversized_body_is_refused_before_it_is_read(server):
    """A 52 MB body (359k instances) with its Content-Length: 413 at once, naming the
    limit, without reading it; the server answers others meanwhile."""
    body = big_body(359_000, pad="x" * 66)
    assert len(body) > 50 << 20
    t0 = time.perf_counter()
    with socket.create_connection(("127.0.0.1", server["port"])) as s:
        s.sendall(b"POST /predict HTTP/1.1\r\nHost: a\r\nContent-Type: application/json\r\n"
                  b"Content-Length: %d\r\n\r\n" % len(body))
        sender = _send_in_background(s, body)
        head, rest = _read_response(s, timeout=10)
        dt = time.perf_counter() - t0
    sender.join(10)
    assert head.startswith(b"HTTP/1.1 413"), (head, rest[:300])
    assert b"max_body_mb" in rest and dt < 5, (rest, dt)
    st, _, dt = request(server["port"], "POST", "/predict", one(), timeout=10)
    assert st == 200 and dt < 2


def test_oversized_chunked_body_is_cut_off_at_the_limit(server):
    """The same body without a Content-Length (chunked): refused once 16 MB arrived."""
    body = big_body(359_000, pad="x" * 66)
    with socket.create_connection(("127.0.0.1", server["port"])) as s:
        s.sendall(b"POST /predict HTTP/1.1\r\nHost: a\r\nContent-Type: application/json\r\n"
                  b"Transfer-Encoding: chunked\r\n\r\n")
        sender = _send_in_background(s, body, chunked=True)
        head, rest = _read_response(s, timeout=20)
    sender.join(20)
    assert head.startswith(b"HTTP/1.1 413"), (head, rest[:300])
    assert b"max_body_mb" in rest
    assert request(server["port"], "POST", "/predict", one(), timeout=10)[0] == 200


def test_a_big_request_is_scored_in_chunks_while_others_are_answered(server):
    """60k instances (9 MB, within the limits): parsed and encoded off the event loop and
    scored in chunks of max_batch_size, while single-instance requests keep being
    answered; before, the loop was blocked for the whole request and the model took
    all 60k instances in one call."""
    n = 60_000
    body = big_body(n)
    with Prober(server["port"]) as probe:
        time.sleep(0.3)
        st, out, dt = request(server["port"], "POST", "/predict", body, timeout=120)
        time.sleep(0.2)
    assert st == 200, out
    assert len(out["predictions"]) == n and out["predictions"][7]["class"] in ("a", "b")
    assert all(s == 200 for s in probe.status), probe.status
    assert len(probe.lat) >= 3 and max(probe.lat) < 1.0, (max(probe.lat), dt)
    batching = request(server["port"], "GET", "/canary")[1]["stable"]["batching"]
    assert batching["max_batch"] <= 256, batching


def test_too_many_instances_is_413(server):
    body = ('{"instances": [' + ",".join(["{}"] * 120_000) + "]}").encode()
    st, out, dt = request(server["port"], "POST", "/predict", body, timeout=30)
    assert st == 413 and "max_instances" in out["detail"], out


def test_too_many_large_requests_in_flight_is_429(server):
    """max_large_inflight is 1 here: while one large body is still arriving, a second
    large request is refused at once with the reason, not queued."""
    with socket.create_connection(("127.0.0.1", server["port"])) as s:
        s.sendall(b"POST /predict HTTP/1.1\r\nHost: a\r\nContent-Type: application/json\r\n"
                  b"Transfer-Encoding: chunked\r\n\r\n5\r\n{\"ins\r\n")
        time.sleep(0.3)  # it holds the large slot (well within body_timeout_s)
        st, out, dt = request(server["port"], "POST", "/predict", big_body(20_000),
                              timeout=30)
    assert st == 429 and "max_large_inflight" in out["detail"] and dt < 2, (st, out, dt)
    assert request(server["port"], "POST", "/predict", big_body(20_000))[0] == 200


# -- fault 3: a hung store serialises everything -------------------------------------------

def test_a_hung_store_answers_503_quickly_and_predict_is_not_held(server):
    """Redis stopped with SIGSTOP: five concurrent GETs answer 503 together within the
    store's timeout (2 s here), not one after another (2, 4, 6, 8, 10 s); POST /predict,
    which does not use the store, is not held by them; then the breaker answers 503 at
    once; once Redis is back, GETs answer 200 again."""
    port, redis = server["port"], server["redis"]["proc"].p
    assert request(port, "GET", "/predictions/u1")[0] == 200
    results = {}

    def get(i):
        results[i] = request(port, "GET", "/predictions/u1", timeout=30)

    redis.send_signal(signal.SIGSTOP)
    try:
        threads = [threading.Thread(target=get, args=(i,)) for i in range(5)]
        for t in threads:
            t.start()
        time.sleep(0.2)
        st, _, predict_s = request(port, "POST", "/predict", one(), timeout=30)
        for t in threads:
            t.join(60)
        assert st == 200 and predict_s < 1.0, predict_s
        assert [results[i][0] for i in range(5)] == [503] * 5, results
        slowest = max(results[i][2] for i in range(5))
        assert slowest < 3.5, [results[i][2] for i in range(5)]
        assert "prediction store unavailable" in results[0][1]["detail"]
        st, out, dt = request(port, "GET", "/predictions/u1")
        assert st == 503 and dt < 0.5 and "store_breaker_s" in out["detail"], (out, dt)
        st, out, dt = request(port, "GET", "/health/ready")
        assert st == 503 and dt < 0.5 and "prediction store" in out["detail"], out
        st, _, dt = request(port, "GET", "/health/live")
        assert st == 200 and dt < 0.5
    finally:
        redis.send_signal(signal.SIGCONT)
    deadline = time.monotonic() + 20
    while request(port, "GET", "/predictions/u1")[0] != 200:
        assert time.monotonic() < deadline, "the store did not come back"
        time.sleep(0.3)
    assert request(port, "GET", "/health/ready")[0] == 200


# -- fault 4: slow clients -----------------------------------------------------------------

def test_half_sent_requests_do_not_exhaust_the_server(server):
    """600 connections that never finish their headers, more than the server's 512 open
    files: over max_connections (128) they are answered 503 and closed at once, the
    others 408 after header_timeout_s (1 s); a normal request is answered soon after.
    Before, they held a file descriptor each and the server answered nothing."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < 2048:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 4096), hard))
    port = server["port"]
    socks = []
    try:
        for _ in range(600):
            s = socket.socket()
            s.settimeout(5)
            try:
                s.connect(("127.0.0.1", port))
                s.sendall(b"POST /predict HTTP/1.1\r\nHost: a\r\nContent-Le")
            except OSError:
                pass
            socks.append(s)
        time.sleep(0.3)
        t0 = time.monotonic()
        ok = None
        while time.monotonic() - t0 < 6:
            with contextlib.suppress(OSError, http.client.HTTPException):
                st, _, _ = request(port, "POST", "/predict", one(), timeout=1)
                if st == 200:
                    ok = time.monotonic() - t0
                    break
            time.sleep(0.1)
        assert ok is not None and ok < 4, "no answer while half-sent connections were open"
        answers = {}
        for s in socks:
            head, body = _read_response(s, timeout=0.5)
            answers[head[:12]] = answers.get(head[:12], 0) + 1
        assert answers.get(b"HTTP/1.1 503", 0) >= 300, answers  # over the cap: at once
        assert answers.get(b"HTTP/1.1 408", 0) >= 64, answers  # header timeout
    finally:
        for s in socks:
            s.close()


def test_a_stalled_body_times_out(server):
    with socket.create_connection(("127.0.0.1", server["port"])) as s:
        t0 = time.perf_counter()
        s.sendall(b"POST /predict HTTP/1.1\r\nHost: a\r\nContent-Length: 100\r\n\r\n{\"in")
        head, body = _read_response(s, timeout=10)
        dt = time.perf_counter() - t0
    assert head.startswith(b"HTTP/1.1 408") and b"body_timeout_s" in body and dt < 5, \
        (head, body, dt)


# -- fault 5: memory -----------------------------------------------------------------------

def _rss_mb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def test_memory_of_big_requests_is_bounded(server):
    """Requests of 5k instances: the feedback book keeps at most feedback_instances
    (10k here) answers, not the newest 200k requests whatever their size (about 80 bytes
    an instance: 100 requests of 10k instances were 80 MB that never came back), so the
    process's RSS stays flat over 100k more instances."""
    port, pid = server["port"], server["pid"]
    body = big_body(5000)
    for _ in range(3):  # warm: thread pools, arenas, a full book
        assert request(port, "POST", "/predict", body)[0] == 200
    time.sleep(1.2)
    before = _rss_mb(pid)
    for _ in range(20):
        assert request(port, "POST", "/predict", body)[0] == 200
    time.sleep(1.2)  # the trim after a big request runs at most once a second
    after = _rss_mb(pid)
    assert after - before < 4, (before, after)
    book = request(port, "GET", "/canary")[1]["feedback_book"]
    assert book["instances"] <= 10_000, book


# -- fault 10: /feedback with a list or dict request_id -----------------------------------

@pytest.mark.parametrize("item", [{"request_id": ["a", "b"], "label": "a"},
                                  {"request_id": {"x": 1}, "label": "a"},
                                  {"key": ["k"], "label": "a"},
                                  {"request_id": "r", "index": [0], "label": "a"}])
def test_feedback_with_a_non_string_id_is_400(server, item):
    st, out, _ = request(server["port"], "POST", "/feedback", item)
    assert st == 400, (st, out)
    assert "is a string" in out["detail"] or "is an integer" in out["detail"], out


# -- fault 12a: a list for a scalar feature ---------------------------------------------

def test_a_list_for_a_scalar_feature_is_400_naming_it(server):
    port = server["port"]
    st, out, _ = request(port, "POST", "/predict",
                         {"instances": [{"x": 1.0}, {"x": [1.0, 2.0, 3.0]}]})
    assert st == 400, (st, out)
    assert "instances[1]" in out["detail"] and "'x'" in out["detail"] \
        and "scalar" in out["detail"], out
    st, out, _ = request(port, "POST", "/predict", {"instances": [{"n": [1, 2]}]})
    assert st == 400 and "'n'" in out["detail"], out
    # one value, also as a list of one, and a multi-valued feature's list, are fine
    st, out, _ = request(port, "POST", "/predict",
                         {"instances": [{"x": [2.0], "n": 1, "s": ["a", "b", "c"]}]})
    assert st == 200, out


# -- fault 12b: no external assets ----------------------------------------------------------

def test_no_page_references_an_external_url(server):
    import re

    port = server["port"]
    for path in ("/docs", "/openapi.json", "/redoc", "/", "/health", "/health/live",
                 "/health/ready", "/canary", "/models", "/docs/oauth2-redirect"):
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        c.request("GET", path)
        r = c.getresponse()
        text = r.read().decode(errors="replace")
        c.close()
        assert not re.search(r"https?://(?!127\.0\.0\.1|localhost)", text), (path, text[:500])
    st, out, _ = request(port, "GET", "/openapi.json")
    assert st == 200 and "/predict" in out["paths"]
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    c.request("GET", "/docs")
    r = c.getresponse()
    page = r.read().decode()
    assert r.status == 200 and "/predict" in page and "<script" not in page


# -- fault 1 (the server's part): the model's folder deleted while served ----------------

def test_readiness_reports_a_deleted_model_folder(tmp_path):
    model = tmp_path / "model"
    (model / "assets").mkdir(parents=True)
    (model / "assets" / "classes.txt").write_text("Adelie Gentoo\n")
    port = _free_port()
    proc = Proc([sys.executable, HERE, "--port", str(port), "--model-dir", str(model),
                 "--assets", "--limits", "{}"], str(tmp_path / "serve.log"))
    try:
        wait_up(proc, port, timeout=60)
        st, out, _ = request(port, "POST", "/predict", {"instances": [{"x": 1.0}]})
        assert st == 200 and out["predictions"][0]["class"] == "Adelie"
        assert request(port, "GET", "/health/ready")[0] == 200
        shutil.rmtree(model)
        st, out, _ = request(port, "GET", "/health/ready")
        assert st == 503 and str(model) in out["detail"] and "gone" in out["detail"], out
        st, out, _ = request(port, "POST", "/predict", {"instances": [{"x": 1.0}]})
        assert st == 503 and str(model) in out["detail"], out
        assert request(port, "GET", "/health")[0] == 503
        assert request(port, "GET", "/health/live")[0] == 200
    finally:
        proc.stop()


if __name__ == "__main__":
    _serve_main(sys.argv[1:])


def test_body_limit_covers_every_post_route(server):
    """The body limit is the HTTP protocol's (http_server.py), before any routing: a route
    added later (TF Serving's /v1/models/M:predict, KServe's /v2/models/M/infer) gets the
    413 as /predict does; the instances limit is OnlineService's, whatever route calls it."""
    for path in (b"/v1/models/m:predict", b"/v2/models/m/infer", b"/feedback"):
        with socket.create_connection(("127.0.0.1", server["port"])) as s:
            s.sendall(b"POST " + path + b" HTTP/1.1\r\nHost: a\r\nContent-Type: "
                      b"application/json\r\nContent-Length: %d\r\n\r\n" % (17 << 20))
            head, rest = _read_response(s, timeout=10)
        assert head.startswith(b"HTTP/1.1 413"), (path, head, rest[:300])
        assert b"max_body_mb" in rest


def test_metrics_parse_with_the_prometheus_text_parser(server):
    from prometheus_client.parser import text_string_to_metric_families

    def count():
        st, text, _ = request(server["port"], "GET", "/metrics")
        assert st == 200
        fams = {f.name: f for f in text_string_to_metric_families(text)}
        ok = [s.value for s in fams["tfxkit_http_requests"].samples
              if s.name == "tfxkit_http_requests_total" and s.labels["route"] == "/predict"
              and s.labels["status"] == "200"]
        return (ok[0] if ok else 0), fams

    before, _ = count()
    for _ in range(5):
        assert request(server["port"], "POST", "/predict", one())[0] == 200
    after, fams = count()
    assert after - before == 5
    assert {"tfxkit_http_request_duration_seconds", "tfxkit_batch_size",
            "tfxkit_model_version_info", "tfxkit_batcher_queue_items",
            "tfxkit_http_requests_in_flight"} <= set(fams)
    assert [s.labels["arm"] for s in fams["tfxkit_model_version_info"].samples] == ["stable"]
