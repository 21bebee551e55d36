"""Benchmark: what the request log (infra/serving/request_log.py) adds to POST /predict's
latency at 200 requests/s (issue 19, point 2: at most 1 ms on p99).

Sides: ``off`` and ``on`` are the same server code (``create_app`` + ``http_server.run``,
as ``tfxkit serve --model-dir`` runs it: uvloop, httptools, the micro-batcher, /metrics
middleware), the same tiny SavedModel (tests/integration/infra/serving/test_http_server.py's
``_make_model``: three raw features parsed from a tf.Example, a softmax), the same requests;
``on`` logs every request (``sample_rate`` 1.0) into a fresh folder, ``off`` has no request
log. Each run starts its own server process (this file with ``--serve``), waits until
POST /predict answers, sends ``--warmup`` seconds of the same load (untimed), then offers
``--rate`` requests/s for ``--seconds`` (open loop: requests leave on schedule whatever
the answers, and latency counts from the scheduled time to the answer's last byte, so
queueing shows; client and server share this machine's cores over loopback), then stops
the server (SIGTERM: the log is written and fsynced) and, for ``on``, counts the lines
written (must equal the requests answered). Order: off on on off off on ... (``--runs``
pairs); each side's p50/p99 as median (min..max) over its runs, and the p99 difference
on - off (median of the sides' medians, and per adjacent pair).

    make bench-request-log
    python tests/bench/bench_request_log.py --seconds 3 --runs 1   # a development run

Results: bench-results/request-log.json (``targets`` for tests/bench/summary.py).
"""
import argparse
import asyncio
import json
import os
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.abspath(__file__)
sys.path.insert(0, os.path.dirname(HERE))
import harness  # noqa: E402

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
TARGET_MS = 1.0
SIDES = ("off", "on")


# -- the server (its own process) -------------------------------------------------------

def serve_main(args):
    sys.path.insert(0, str(harness.ROOT))
    from tfxkit.infra.serving.app import create_app
    from tfxkit.infra.serving.http_server import run
    from tfxkit.infra.serving.limits import Limits
    from tfxkit.infra.serving.online_service import OnlineService
    from tfxkit.infra.serving.request_log import RequestLog

    log = RequestLog(args.log_dir, sample_rate=1.0) if args.log == "on" else None
    svc = OnlineService("bench", model_dir=args.model_dir, key_field="id",
                        max_batch_size=256, max_wait_ms=2.0, requests=log)
    app = create_app(online=svc, title="bench-request-log")
    run(app, port=args.port, limits=Limits())


def make_model(path):
    sys.path.insert(0, str(harness.ROOT))
    from tests.integration.infra.serving.test_http_server import _make_model

    _make_model(path)


# -- the client -------------------------------------------------------------------------

def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def bodies(n, seed=0):
    rng = random.Random(seed)
    isles = ["Torgersen", "Biscoe", "Dream"]
    return [json.dumps({"instances": [{"x": round(rng.uniform(-3, 3), 3),
                                       "n": rng.randrange(5), "s": [rng.choice(isles)],
                                       "id": f"row-{i}"}]}).encode() for i in range(n)]


async def _read_response(reader):
    head = await reader.readuntil(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":")[1])
    return head, await reader.readexactly(length)


async def open_loop(port, reqs, rate, connections=32):
    """Each body leaves at its scheduled time (rate/s) on a free keep-alive connection;
    latency from the scheduled time to the answer's last byte. Returns (latencies in s,
    errors, wall s)."""
    clock = time.perf_counter
    queue: asyncio.Queue = asyncio.Queue()
    lat, errors = [], []

    async def conn():
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            while True:
                item = await queue.get()
                if item is None:
                    return
                at, b = item
                writer.write(b"POST /predict HTTP/1.1\r\nHost: a\r\nContent-Type: "
                             b"application/json\r\nContent-Length: %d\r\n\r\n%s" % (len(b), b))
                head, body = await _read_response(reader)
                if head.startswith(b"HTTP/1.1 200") and b'"predictions"' in body:
                    lat.append(clock() - at)
                else:
                    errors.append((head.split(b"\r\n")[0] + b" " + body[:200]).decode())
        finally:
            writer.close()

    workers = [asyncio.create_task(conn()) for _ in range(connections)]
    t0 = clock() + 0.05
    for i, b in enumerate(reqs):
        at = t0 + i / rate
        delay = at - clock()
        if delay > 0:
            await asyncio.sleep(delay)
        queue.put_nowait((at, b))
    for _ in workers:
        queue.put_nowait(None)
    await asyncio.gather(*workers)
    return lat, errors, clock() - t0


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(p / 100 * len(xs)))] if xs else float("nan")


def post_ok(port, body, timeout=5.0):
    import http.client

    try:
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
        c.request("POST", "/predict", body, {"Content-Type": "application/json"})
        r = c.getresponse()
        r.read()
        c.close()
        return r.status == 200
    except OSError:
        return False


def one_run(side, model_dir, work, args, index):
    port = free_port()
    log_dir = os.path.join(work, f"log-{index}-{side}")
    shutil.rmtree(log_dir, ignore_errors=True)  # a fresh folder: its lines are this run's
    out = open(os.path.join(work, f"server-{index}-{side}.log"), "w")
    proc = subprocess.Popen([sys.executable, HERE, "--serve", "--port", str(port),
                             "--model-dir", model_dir, "--log", side, "--log-dir", log_dir],
                            stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.time() + 180
        probe = bodies(1, seed=99)[0]
        while not post_ok(port, probe):
            if proc.poll() is not None or time.time() > deadline:
                raise SystemExit(f"server {side} did not answer; see {out.name}")
            time.sleep(0.05)
        import uvloop

        warm = bodies(int(args.rate * args.warmup), seed=1000 + index)
        if warm:
            uvloop.run(open_loop(port, warm, args.rate))
        load = harness.loadavg()
        reqs = bodies(int(args.rate * args.seconds), seed=0)  # the same requests each run
        lat, errors, wall = uvloop.run(open_loop(port, reqs, args.rate))
    finally:
        proc.send_signal(signal.SIGINT)  # uvicorn's graceful stop: lifespan shutdown
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        out.close()
    lines = None
    if side == "on":
        from_dir = [os.path.join(log_dir, f) for f in os.listdir(log_dir)] \
            if os.path.isdir(log_dir) else []
        lines = sum(sum(1 for _ in open(f, "rb")) for f in from_dir)
    answered = len(lat)
    sent = 1 + len(warm) + len(reqs)  # the readiness probe, the warm-up, the window
    r = {"side": side, "index": index, "requests": len(reqs), "answered": answered,
         "errors": len(errors), "first_errors": errors[:3], "wall_s": round(wall, 3),
         "rate_achieved": round(answered / wall, 1) if wall else None,
         "p50_ms": round(pct(lat, 50) * 1000, 3), "p99_ms": round(pct(lat, 99) * 1000, 3),
         "max_ms": round(max(lat) * 1000, 3) if lat else None,
         "loadavg_before": load, "log_lines": lines,
         "log_lines_expected": sent if side == "on" else None}
    print(f"  run {index} {side:>3}: p50 {r['p50_ms']:.2f} ms, p99 {r['p99_ms']:.2f} ms, "
          f"max {r['max_ms']:.2f} ms, {answered}/{len(reqs)} answered "
          f"({r['rate_achieved']}/s), {len(errors)} errors, load {load[0]:.2f}"
          + (f", {lines} log lines of {sent} requests" if side == "on" else ""), flush=True)
    return r


def cpu_cost(n=20_000):
    """The request log's own CPU cost per logged single-instance request, in this process
    (no server, no HTTP): ``log()`` as the request path calls it, and the writer thread's
    serializing and appending (the process's CPU time while it drains ``n`` requests)."""
    sys.path.insert(0, str(harness.ROOT))
    from tfxkit.infra.serving.request_log import RequestLog

    d = tempfile.mkdtemp(prefix="bench-request-log-cpu-")
    try:
        log = RequestLog(d, max_queue=n + 1)
        log._start()
        log._wake.set()
        log._q.join()
        inst = json.loads(bodies(1)[0])["instances"]
        out = [{"probabilities": [0.3, 0.7], "class_id": 1, "class": "b"}]
        paused = threading.Event()
        log._wake.wait = lambda timeout=None: paused.wait()  # hold the writer
        t = time.perf_counter()
        for i in range(n):
            log.log(f"r{i}", "bench", "1", "stable", "/predict", 1.0, inst, out, ("id",))
        inline = (time.perf_counter() - t) / n
        c = time.process_time()
        paused.set()
        log.flush()
        writer = (time.process_time() - c) / n
        log.close()
        assert log.written == n, log.stats()
        return {"log_call_us": round(inline * 1e6, 2), "writer_cpu_us": round(writer * 1e6, 2)}
    finally:
        shutil.rmtree(d, ignore_errors=True)


def spread(xs):
    return {"median": statistics.median(xs), "min": min(xs), "max": max(xs), "n": len(xs)}


def fmt(s, unit=" ms"):
    return f"{s['median']:.2f}{unit} ({s['min']:.2f}..{s['max']:.2f})"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--port", type=int)
    ap.add_argument("--model-dir")
    ap.add_argument("--log", choices=SIDES)
    ap.add_argument("--log-dir")
    ap.add_argument("--rate", type=float, default=200.0)
    ap.add_argument("--seconds", type=float, default=15.0)
    ap.add_argument("--warmup", type=float, default=2.0)
    ap.add_argument("--runs", type=int, default=3, help="runs per side")
    ap.add_argument("--work", default=None)
    args = ap.parse_args()
    if args.serve:
        return serve_main(args)
    params = {"rate": args.rate, "seconds": args.seconds, "warmup_s": args.warmup,
              "runs": args.runs, "sample_rate_on": 1.0, "instances_per_request": 1}
    load0 = harness.header("request-log", params)
    work = args.work or tempfile.mkdtemp(prefix="bench-request-log-")
    os.makedirs(work, exist_ok=True)
    model_dir = os.path.join(work, "model")
    if not os.path.isdir(model_dir):
        subprocess.run([sys.executable, "-c", f"import sys; sys.path.insert(0, {HERE!r}"
                        f".rsplit('/', 1)[0]); import bench_request_log as b; "
                        f"b.make_model({model_dir!r})"], check=True)
    cost = cpu_cost()
    print(f"  the log's own CPU per logged request (in-process, 20,000 requests): "
          f"{cost['log_call_us']:.1f} us on the request path (log()), "
          f"{cost['writer_cpu_us']:.1f} us in the writer thread", flush=True)
    runs = []
    for i, s in enumerate(harness.order(args.runs)):
        runs.append(one_run(SIDES[s], model_dir, work, args, i))
    by = {side: [r for r in runs if r["side"] == side] for side in SIDES}
    summary = {side: {"p50_ms": spread([r["p50_ms"] for r in rs]),
                      "p99_ms": spread([r["p99_ms"] for r in rs])} for side, rs in by.items()}
    # adjacent pairs of the order (off on | on off | off on ...): on - off within each
    pairs = [runs[i:i + 2] for i in range(0, len(runs), 2)]
    paired = [next(r for r in p if r["side"] == "on")["p99_ms"]
              - next(r for r in p if r["side"] == "off")["p99_ms"] for p in pairs]
    diff = summary["on"]["p99_ms"]["median"] - summary["off"]["p99_ms"]["median"]
    complete = all(r["answered"] == r["requests"] and not r["errors"] for r in runs)
    logged = all(r["log_lines"] == r["log_lines_expected"] for r in by["on"])
    met = diff <= TARGET_MS and complete and logged
    dev = args.runs < harness.MIN_RUNS or args.seconds < 15
    print(f"\n== request log at {args.rate:g} requests/s, open loop, {args.seconds:g} s per "
          f"run, {args.runs} runs each (order {' '.join(r['side'] for r in runs)})")
    for side in SIDES:
        print(f"  logging {side:>3}: p50 {fmt(summary[side]['p50_ms'])}, "
              f"p99 {fmt(summary[side]['p99_ms'])}")
    print(f"  p99 on - off: {diff:+.2f} ms (medians); per pair "
          f"{', '.join(f'{d:+.2f}' for d in paired)} ms; target <= {TARGET_MS:g} ms: "
          f"{'met' if met else 'MISSED'}"
          + ("" if complete else " (not every request answered 200)")
          + ("" if logged else " (log lines != requests)")
          + (" (DEVELOPMENT RUN, not a figure)" if dev else ""))
    print(f"  latency: from each request's scheduled send to its answer's last byte, client "
          f"and server on the same {os.cpu_count()} cores over loopback; load average at "
          f"start {load0[0]:.2f}, before each run "
          f"{min(r['loadavg_before'][0] for r in runs):.2f}.."
          f"{max(r['loadavg_before'][0] for r in runs):.2f}")
    measured = (f"p99 on - off {diff:+.2f} ms (off {fmt(summary['off']['p99_ms'])}, on "
                f"{fmt(summary['on']['p99_ms'])}, {args.runs} runs each, {args.seconds:g} s "
                f"each; pairs {', '.join(f'{d:+.2f}' for d in paired)})"
                + (" (DEVELOPMENT RUN, not a figure)" if dev else ""))
    harness.RESULTS.mkdir(exist_ok=True)
    import datetime
    import platform

    payload = {"benchmark": "request-log", **harness.git_commit(),
               "created": datetime.datetime.now(datetime.timezone.utc).isoformat(
                   timespec="seconds"),
               "machine": {"cpus": os.cpu_count(), "platform": platform.platform(),
                           "python": platform.python_version(), "loadavg_start": load0,
                           "loadavg_end": harness.loadavg()},
               "params": {**params, "quick": dev},
               "latency_includes": "scheduled send to the answer's last byte (open loop), "
                                   "loopback, client on the same cores",
               "cpu_per_logged_request": cost, "summary": summary, "p99_diff_ms": diff, "p99_diff_pairs_ms": paired,
               "target_ms": TARGET_MS, "target_met": met, "runs": runs,
               "targets": [{"target": f"request log on (sample_rate 1.0): POST /predict p99 "
                                      f"at {args.rate:g}/s at most +{TARGET_MS:g} ms over off",
                            "measured": measured, "met": met}]}
    path = harness.RESULTS / "request-log.json"
    path.write_text(json.dumps(payload, indent=1))
    print(f"  -> {path.relative_to(harness.ROOT)}")


if __name__ == "__main__":
    main()
