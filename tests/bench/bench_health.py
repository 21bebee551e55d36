"""Benchmark: does the server stay responsive under a big request and a hung store?
(issue 13, faults 2 and 3).

A server process (``create_app`` over a Redis prediction store + online ``/predict`` of a
small SavedModel with the penguin template's raw features, run as ``tfxkit serve`` runs
it) takes a bounded open-loop load on loopback: single-instance ``POST /predict`` at
``--rate``/s and ``GET /predictions/{key}`` at ``--rate``/s (each on at most ``--conns``
keep-alive connections). A prober opens a new connection ``--probe-rate`` times a second
for a liveness check; its latency counts from its scheduled time (no coordinated
omission) and a probe not answered within ``--probe-timeout`` counts as that long. Two
windows per run:

1. ``alone``: the load only, ``--seconds``;
2. ``stress``: the same load, and at 0.5 s a ~50 MB ``POST /predict`` (``--big``
   instances of the template's inference rows) on its own connection, and the Redis
   server stopped with SIGSTOP for ``--stop-s`` seconds (then SIGCONT); the window is
   ``--seconds`` + 4 s; probes scheduled in it are waited for.

Figures per run: the probes' p50/p99 in each window, ``rise_p99_ms`` = stress p99 -
alone p99 (target: under 50 ms), the big request's status and time, the load's answers,
and the server's RSS before the stress, its peak (VmHWM) and 2 s after.

Sides (harness comparison ``health``, alternating, separate processes, ``--runs`` each):

- ``before``: the server at commit bb8fe4c (``--before``, a ``git worktree`` of it; made
  when missing). It has no ``/health/live``; its probe is ``GET /canary`` (answered by
  the event loop from memory: touches neither store nor model; its ``/health`` pings
  the store, so it would measure the store, not the loop).
- ``after``: this tree; its probe is ``GET /health/live`` (``GET /canary`` is probed too,
  reported apart, for the same path as before). Its limits are the defaults except
  ``max_body_mb`` 64 and ``max_instances`` 400000, so that the 50 MB request is served
  (in chunks, off the loop), not refused at once with 413 as the defaults would.

Both: the store's timeout is the default 5 s; uvicorn with uvloop and httptools; the
load generator and prober run in the side process, on the same cores as the server.

    python tests/bench/bench_health.py            # 3 runs each
    python tests/bench/bench_health.py --quick    # development: 1 run each, short windows
Results: bench-results/health.json and .png.
"""
import argparse
import asyncio
import json
import os
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402  (first: its import time is the side's phase clock start)

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
USE_CASE = "bench-health"
KEY = "penguin_id"
BEFORE_COMMIT = "bb8fe4c"
AFTER_LIMITS = {"max_body_mb": 64, "max_instances": 400_000}

SERVER = """
import json, sys
args = json.loads(sys.argv[1])
from tfxkit.components.prediction_store.store import open_store
try:
    from tfxkit.infra.serving.app import create_app
    from tfxkit.infra.serving.http_server import run
    from tfxkit.infra.serving.limits import Limits
    from tfxkit.infra.serving.online_service import OnlineService
except ModuleNotFoundError:  # before (bb8fe4c): infra/serve.py, infra/online.py
    from tfxkit.infra.online import OnlineService
    from tfxkit.infra.serve import create_app
    Limits = run = None
svc = OnlineService(args["name"], model_dir=args["model"], key_field=args["key"])
def opener():
    return open_store("redis", args["redis"])
if Limits is not None:
    lim = Limits(**args["limits"])
    app = create_app(opener, [args["name"]], args["name"], online=svc, limits=lim)
    run(app, port=args["port"], limits=lim)
else:  # before: as its serve() ran it
    import uvicorn
    app = create_app(opener, [args["name"]], args["name"], online=svc)
    uvicorn.run(app, host="127.0.0.1", port=args["port"], log_level="warning",
                access_log=False, loop="uvloop", http="httptools")
"""


# -- setup (main process, untimed) --------------------------------------------------------

def make_model(path):
    """A small SavedModel with the template's raw features (all VarLen, as tfxkit's
    inferred schema has): three classes from a linear map of the measurements."""
    import tensorflow as tf

    floats = ["bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g"]
    spec = {**{k: tf.io.VarLenFeature(tf.float32) for k in floats},
            "island": tf.io.VarLenFeature(tf.string), "sex": tf.io.VarLenFeature(tf.string),
            "year": tf.io.VarLenFeature(tf.int64)}

    class M(tf.Module):
        def __init__(self):
            super().__init__()
            self.w = tf.Variable(tf.random.stateless_normal([len(floats) + 1, 3], [1, 2]))

        @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="examples")])
        def serve(self, serialized):
            p = tf.io.parse_example(serialized, spec)
            n = tf.shape(serialized)[0]
            cols = [tf.sparse.to_dense(tf.sparse.reset_shape(p[k], [n, 1])) for k in floats]
            torg = tf.cast(tf.sparse.to_dense(tf.sparse.reset_shape(p["island"], [n, 1]),
                                              default_value="") == "Torgersen", tf.float32)
            x = tf.concat(cols + [torg], axis=1) / 100.0
            probs = tf.nn.softmax(tf.matmul(x, self.w))
            cid = tf.argmax(probs, axis=1)
            names = tf.constant(["Adelie", "Chinstrap", "Gentoo"])
            return {"probabilities": probs, "class_id": cid[:, None],
                    "class": tf.gather(names, cid)[:, None]}

    m = M()
    tf.saved_model.save(m, path, signatures={"serving_default": m.serve})
    return path


from bench_serving import instances  # noqa: E402  (the template's inference rows as JSON)


def big_body(n):
    rows = instances()
    parts = []
    for i in range(n):
        r = dict(rows[i % len(rows)])
        r[KEY] = f"big-{i:07d}"
        parts.append(json.dumps(r))
    return ('{"instances": [' + ",".join(parts) + "]}").encode()


def before_tree(path):
    """A worktree of the code before the fixes and a package shim over it (the editable
    install maps ``tfxkit`` to this tree): PYTHONPATH for the ``before`` side."""
    if not os.path.isdir(os.path.join(path, "infra")):
        subprocess.run(["git", "-C", str(harness.ROOT), "worktree", "add", path,
                        BEFORE_COMMIT], check=True)
    shim = path.rstrip("/") + "-shim"
    pkg = os.path.join(shim, "tfxkit")
    os.makedirs(pkg, exist_ok=True)
    for f in ("__init__.py", "testing.py"):
        src = os.path.join(path, "tfxkit", f)
        if os.path.exists(src) and not os.path.exists(os.path.join(pkg, f)):
            with open(src) as a, open(os.path.join(pkg, f), "w") as b:
                b.write(a.read())
    for d in ("components", "pipelines", "infra", "templates"):
        link = os.path.join(pkg, d)
        if not os.path.islink(link):
            os.symlink(os.path.join(path, d), link)
    ext = harness.ROOT / "components" / "batch_inference"
    for f in os.listdir(ext):  # the built C extension (the worktree has only its source)
        if f.startswith("_fastlog") and f.endswith(".so"):
            dst = os.path.join(path, "components", "batch_inference", f)
            if not os.path.exists(dst):
                with open(ext / f, "rb") as a, open(dst, "wb") as b:
                    b.write(a.read())
    return shim


def start_redis(work):
    from bench_serving import free_port

    port = free_port()
    log = open(os.path.join(work, "redis.log"), "w")
    proc = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1",
                             "--save", "", "--appendonly", "no", "--dir", work],
                            stdout=log, stderr=subprocess.STDOUT)
    url = f"redis://127.0.0.1:{port}/0"
    import redis

    deadline = time.time() + 30
    while True:
        try:
            redis.Redis.from_url(url, socket_timeout=1).ping()
            break
        except redis.exceptions.RedisError:
            if time.time() > deadline or proc.poll() is not None:
                raise SystemExit(f"redis-server did not start; see {work}/redis.log")
            time.sleep(0.1)
    return proc, url


def fill(url, n):
    from tfxkit.components.prediction_store.store import open_store

    s = open_store("redis", url)
    rows = ((f"user-{i}", {"class": "Adelie", "class_id": 0,
                           "probabilities": [0.9, 0.05, 0.05]}) for i in range(n))
    s.write_run(USE_CASE, f"run-{time.time():.0f}", "1", rows, keep_runs=1)
    s.close()


# -- a side: one server, two windows ------------------------------------------------------

def rss_mb(pid):
    """(VmRSS, VmHWM) of a process, MB."""
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(("VmRSS:", "VmHWM:")):
                out[line.split(":")[0]] = int(line.split()[1]) / 1024
    return out.get("VmRSS"), out.get("VmHWM")


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(p / 100 * len(xs)))] if xs else float("nan")


async def _read(reader):
    head = await reader.readuntil(b"\r\n\r\n")
    n = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            n = int(line.split(b":")[1])
    body = await reader.readexactly(n)
    return int(head.split(b" ", 2)[1]), body


async def probe_once(port, path, at, timeout, out):
    clock = time.perf_counter
    try:
        async def go():
            r, w = await asyncio.open_connection("127.0.0.1", port)
            try:
                w.write(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
                st, _ = await _read(r)
            finally:
                w.close()
            return st
        st = await asyncio.wait_for(go(), timeout - (clock() - at))
        out.append((clock() - at, st))
    except (asyncio.TimeoutError, OSError, asyncio.IncompleteReadError, ValueError):
        out.append((max(timeout, clock() - at), None))


async def load_worker(port, queue, stats, make):
    try:
        r, w = await asyncio.open_connection("127.0.0.1", port)
    except OSError:
        stats["conn_errors"] = stats.get("conn_errors", 0) + 1
        return
    try:
        while True:
            item = await queue.get()
            if item is None:
                return
            w.write(make(item))
            try:
                st, _ = await _read(r)
            except (asyncio.IncompleteReadError, OSError):
                stats["dropped"] = stats.get("dropped", 0) + 1
                return
            stats[st] = stats.get(st, 0) + 1
    finally:
        w.close()


async def window(port, seconds, args, paths, stress=None):
    """Offers the load and the probes for ``seconds``; ``stress()`` (a coroutine) starts
    at 0.5 s. Returns {path: [(latency, status)]}, load stats by kind, stress's result."""
    rows = instances()
    bodies = [json.dumps({"instances": [r]}).encode() for r in rows]

    def post(i):
        b = bodies[i % len(bodies)]
        return (b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                b"Content-Length: %d\r\n\r\n%s" % (len(b), b))

    def get(i):
        return f"GET /predictions/user-{(i * 7919) % args.keys} HTTP/1.1\r\nHost: x\r\n\r\n"\
            .encode()

    stats = {"predict": {}, "get": {}}
    queues = {k: asyncio.Queue() for k in stats}
    workers = [asyncio.create_task(load_worker(port, queues[k], stats[k], mk))
               for k, mk in (("predict", post), ("get", get)) for _ in range(args.conns)]
    probes = {p: [] for p in paths}
    tasks = []
    clock = time.perf_counter
    t0 = clock() + 0.05
    stress_task = None
    n_load, n_probe = int(args.rate * seconds), int(args.probe_rate * seconds)
    events = sorted([(t0 + i / args.rate, "load", i) for i in range(n_load)] +
                    [(t0 + i / args.probe_rate, "probe", i) for i in range(n_probe)])
    for at, kind, i in events:
        if stress is not None and stress_task is None and at >= t0 + 0.5:
            stress_task = asyncio.create_task(stress())
        delay = at - clock()
        if delay > 0:
            await asyncio.sleep(delay)
        if kind == "load":
            for q in queues.values():
                if q.qsize() < 4 * args.conns:  # bounded: a stuck server is not flooded
                    q.put_nowait(i)
        else:
            for p in paths:
                tasks.append(asyncio.create_task(
                    probe_once(port, p, at, args.probe_timeout, probes[p])))
    await asyncio.gather(*tasks)
    for q in queues.values():
        while not q.empty():
            q.get_nowait()
        for _ in range(args.conns):
            q.put_nowait(None)
    await asyncio.wait(workers, timeout=args.probe_timeout)
    for t in workers:
        t.cancel()
    result = await stress_task if stress_task is not None else None
    return probes, stats, result


async def big_request(port, body, timeout):
    t = time.perf_counter()
    try:
        r, w = await asyncio.open_connection("127.0.0.1", port)
        w.write(b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                b"Content-Length: %d\r\n\r\n" % len(body))
        w.write(body)
        st, out = await asyncio.wait_for(_read(r), timeout)
        w.close()
        return st, time.perf_counter() - t, out[:200].decode(errors="replace")
    except (asyncio.TimeoutError, OSError, asyncio.IncompleteReadError) as e:
        return None, time.perf_counter() - t, f"{type(e).__name__}: {e}"


def side_main(args):
    ph = harness.Phases()
    from bench_serving import Server

    port_args = {"name": USE_CASE, "model": args.model, "key": KEY, "redis": args.redis,
                 "limits": AFTER_LIMITS if args.side == "after" else {}}
    log = os.path.join(args.scratch, f"{args.side}-{os.getpid()}.log")

    class S(Server):
        def start(self, timeout=120):
            self._f = open(self.log, "w")
            a = dict(port_args, port=self.port)
            self.proc = subprocess.Popen([harness.python(), "-c", SERVER, json.dumps(a)],
                                         stdout=self._f, stderr=subprocess.STDOUT,
                                         cwd=args.scratch)
            return self._wait(lambda s: s is not None, timeout, "answer", "/canary")

    srv = S([], log)
    srv.start()
    ph.mark("server_start")
    redis_pid = args.redis_pid
    try:
        srv.ready(predict={"instances": [instances()[0]]})
        ph.mark("model_load")
        paths = ["/health/live", "/canary"] if args.side == "after" else ["/canary"]
        with open(args.big_body, "rb") as f:
            body = f.read()
        ph.mark("setup")
        import uvloop

        uvloop.install()
        asyncio.run(window(srv.port, 1.0, args, paths))  # warm-up
        ph.mark("warmup")
        alone, alone_load, _ = asyncio.run(window(srv.port, args.seconds, args, paths))
        rss_before, hwm_before = rss_mb(srv.proc.pid)

        async def stress():
            os.kill(redis_pid, signal.SIGSTOP)
            big = asyncio.create_task(big_request(srv.port, body, 600))
            try:
                await asyncio.sleep(args.stop_s)
            finally:
                os.kill(redis_pid, signal.SIGCONT)
            return await big

        try:
            stressed, stress_load, big = asyncio.run(
                window(srv.port, args.seconds + 4, args, paths, stress))
        finally:
            os.kill(redis_pid, signal.SIGCONT)
        ph.mark("work")
        time.sleep(2)
        rss_after, hwm_after = rss_mb(srv.proc.pid)
    finally:
        srv.stop()
    out = {"probe_path": paths[0], "big_status": big[0], "big_s": big[1],
           "rss_before_mb": rss_before, "rss_peak_mb": hwm_after, "rss_after_mb": rss_after,
           "rss_peak_before_stress_mb": hwm_before,
           "big_answer": big[2], "load_alone": alone_load, "load_stress": stress_load}
    for p in paths:
        tag = "" if p == paths[0] else "canary_"
        a = [x[0] * 1000 for x in alone[p]]
        s = [x[0] * 1000 for x in stressed[p]]
        out.update({f"{tag}alone_p50_ms": pct(a, 50), f"{tag}alone_p99_ms": pct(a, 99),
                    f"{tag}stress_p50_ms": pct(s, 50), f"{tag}stress_p99_ms": pct(s, 99),
                    f"{tag}stress_max_ms": max(s) if s else None,
                    f"{tag}rise_p99_ms": pct(s, 99) - pct(a, 99),
                    f"{tag}probes_failed": sum(1 for x in alone[p] + stressed[p]
                                               if x[1] != 200)})
    ph.emit(**{k: (v if not isinstance(v, dict) else {str(a): b for a, b in v.items()})
               for k, v in out.items()})


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--seconds", type=float, default=8.0, help="the alone window")
    ap.add_argument("--rate", type=float, default=50.0,
                    help="offered /predict and GET requests/s (each)")
    ap.add_argument("--conns", type=int, default=8, help="connections per load kind")
    ap.add_argument("--probe-rate", type=float, default=20.0)
    ap.add_argument("--probe-timeout", type=float, default=90.0)
    ap.add_argument("--stop-s", type=float, default=8.0, help="Redis SIGSTOPped this long")
    ap.add_argument("--big", type=int, default=300_000,
                    help="instances of the big request (about 170 bytes each)")
    ap.add_argument("--keys", type=int, default=10_000)
    ap.add_argument("--before", default="/tmp/before",
                    help=f"a worktree of {BEFORE_COMMIT} (made when missing)")
    ap.add_argument("--work", help="folder for the model and the big body (kept, reused)")
    ap.add_argument("--quick", action="store_true", help="development: 1 run, 4 s windows")
    ap.add_argument("--side", help=argparse.SUPPRESS)
    for hidden in ("--model", "--redis", "--scratch", "--big-body"):
        ap.add_argument(hidden, help=argparse.SUPPRESS)
    ap.add_argument("--redis-pid", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.side:
        return side_main(args)
    if args.quick:
        given = set(a.split("=")[0] for a in sys.argv)
        for opt, val in (("--runs", 1), ("--seconds", 4.0), ("--stop-s", 7.0)):
            if opt not in given:
                setattr(args, opt[2:].replace("-", "_"), val)
    params = {k: getattr(args, k) for k in ("runs", "seconds", "rate", "conns", "probe_rate",
                                            "probe_timeout", "stop_s", "big", "keys",
                                            "quick")}
    params["after_limits"] = AFTER_LIMITS
    load = harness.header("health", params)
    work = os.path.abspath(args.work) if args.work else \
        tempfile.mkdtemp(prefix="tfxkit-bench-health-")
    scratch = os.path.join(work, "logs")
    os.makedirs(scratch, exist_ok=True)
    model = os.path.join(work, "model")
    if not os.path.isdir(model):
        print("setup: a small SavedModel of the template's features ...", flush=True)
        make_model(model)
    big_path = os.path.join(work, f"big-{args.big}.json")
    if not os.path.exists(big_path):
        with open(big_path, "wb") as f:
            f.write(big_body(args.big))
    size_mb = os.path.getsize(big_path) / (1 << 20)
    params["big_body_mb"] = round(size_mb, 1)
    shim = before_tree(args.before)
    redis_proc, url = start_redis(work)
    try:
        fill(url, args.keys)
        common = ["--model", model, "--redis", url, "--redis-pid", str(redis_proc.pid),
                  "--scratch", scratch, "--big-body", big_path, "--seconds",
                  str(args.seconds), "--rate", str(args.rate), "--conns", str(args.conns),
                  "--probe-rate", str(args.probe_rate), "--probe-timeout",
                  str(args.probe_timeout), "--stop-s", str(args.stop_s), "--keys",
                  str(args.keys)]
        me = [harness.python(), os.path.abspath(__file__)]
        env_after = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
        print(f"big request: {args.big} instances, {size_mb:.1f} MB; Redis {url}", flush=True)
        c = harness.compare(
            "health",
            harness.Side("before", me + ["--side", "before"] + common,
                         env={"PYTHONPATH": shim}, cwd=work),
            harness.Side("after", me + ["--side", "after"] + common, cwd=work,
                         env={"PYTHONPATH": env_after.get("PYTHONPATH", "")}),
            runs=args.runs, timeout=1800,
            metrics=("alone_p50_ms", "alone_p99_ms", "stress_p50_ms", "stress_p99_ms",
                     "rise_p99_ms", "big_s"),
            work_includes="both windows (alone and stress) and the wait for every probe "
                          "and the big request",
            note=f"probe: before GET /canary, after GET /health/live (both: from the event "
                 f"loop, neither store nor model); load {args.rate:g}/s POST /predict + "
                 f"{args.rate:g}/s GET /predictions/KEY (open loop, <= {args.conns} "
                 f"connections each); stress: a {size_mb:.0f} MB POST /predict "
                 f"({args.big} instances) + Redis SIGSTOPped {args.stop_s:g} s")
    finally:
        redis_proc.send_signal(signal.SIGCONT)
        redis_proc.terminate()
        redis_proc.wait(10)
    print()
    print(harness.report(c))
    after = c.of("after")
    rises = [r.extra["rise_p99_ms"] for r in after]
    canary = [r.extra.get("canary_rise_p99_ms") for r in after]
    print(f"  after, GET /canary (the before side's probe path): p99 rise "
          f"{harness._fmt(harness.spread(canary), ' ms', 1)}")
    for r in c.runs:
        print(f"  {r.side} #{r.index}: big request -> {r.extra['big_status']} in "
              f"{r.extra['big_s']:.1f} s; server RSS {r.extra['rss_before_mb']:.0f} MB -> "
              f"peak {r.extra['rss_peak_mb']:.0f} MB, {r.extra['rss_after_mb']:.0f} MB 2 s "
              f"after; probes not answered 200: "
              f"{r.extra['probes_failed']}; load (stress) predict "
              f"{r.extra['load_stress']['predict']}, get {r.extra['load_stress']['get']}")
    met = bool(rises) and max(rises) < 50
    print(f"target (after: p99 of the probe rises by < 50 ms under the stress): "
          f"{'met' if met else 'MISSED'} (rises {', '.join(f'{x:.1f}' for x in rises)} ms)")
    path = harness.save("health", [c], params,
                        extra={"target_met": met, "target": "after's probe p99 rises by "
                               "less than 50 ms from alone to stress"}, started_load=load)
    print(f"results: {path} and {path.with_suffix('.png')}")


if __name__ == "__main__":
    main()
