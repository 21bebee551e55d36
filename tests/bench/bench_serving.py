"""Benchmark: `tfxkit serve` latency and throughput of GET /predictions/{key}, from an
open-loop load generator on loopback (requests leave on schedule whatever the answers, so
queueing shows in the latency), for the SQLite and Redis stores.

At 200 requests/s for --seconds, then doubling the rate until the server falls behind
(p99 over 100 ms or under 95% of the offered rate answered): p50/p99 per rate, the
highest rate sustained, and a picture (latency percentiles against the offered rate).
Target: p99 under 10 ms at 200 requests/s.

    make bench-serving
"""
import argparse
import asyncio
import os
import random
import socket
import subprocess
import sys
import tempfile
import time

SERVER = """
import sys, uvicorn
from tfxkit.infra.serve import create_app
from tfxkit.components.prediction_store.store import open_store
kind, target, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
app = create_app(lambda: open_store(kind, target), ["bench"], "bench")
uvicorn.run(app, host="127.0.0.1", port=port, log_level="error", access_log=False,
            loop="uvloop", http="httptools")
"""


def fill(kind, target, n):
    from tfxkit.components.prediction_store.store import open_store

    s = open_store(kind, target)
    rows = ((f"user-{i}", {"class": "Adelie", "class_id": 0,
                           "probabilities": [0.9, 0.05, 0.05]}) for i in range(n))
    s.write_run("bench", f"run-{time.time():.0f}", "1", rows, keep_runs=1)
    s.close()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(kind, target):
    import httpx

    port = free_port()
    proc = subprocess.Popen([sys.executable, "-c", SERVER, kind, target, str(port)])
    url = f"http://127.0.0.1:{port}"
    for _ in range(150):
        try:
            if httpx.get(url + "/health", timeout=1).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    proc.kill()
    raise RuntimeError(f"{kind} server did not start")


async def _connection(host, port, queue, lat, errors, n_keys):
    """One keep-alive HTTP/1.1 connection: takes scheduled requests off the queue."""
    loop = asyncio.get_running_loop()
    reader, writer = await asyncio.open_connection(host, port)
    try:
        while True:
            at = await queue.get()
            if at is None:
                return
            key = random.randrange(n_keys)
            writer.write(f"GET /predictions/user-{key} HTTP/1.1\r\nHost: {host}\r\n\r\n"
                         .encode())
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            body = await reader.readexactly(length)
            if head.startswith(b"HTTP/1.1 200") and b'"key"' in body:
                lat.append(loop.time() - at)
            else:
                errors.append(head.split(b"\r\n")[0])
    finally:
        writer.close()


async def open_loop(url, rate, seconds, n_keys, connections=64):
    """Requests leave on a fixed schedule (rate/s); each waits for a free connection if
    all are busy, and its latency counts from its scheduled time (no coordinated
    omission). Returns latencies (s), errors and the wall time."""
    host, port = url.split("//")[1].split(":")
    port = int(port)
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue = asyncio.Queue()
    lat, errors = [], []
    workers = [asyncio.create_task(_connection(host, port, queue, lat, errors, n_keys))
               for _ in range(connections)]
    t0 = loop.time() + 0.05
    for i in range(int(rate * seconds)):
        at = t0 + i / rate
        delay = at - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        queue.put_nowait(at)
    for _ in workers:
        queue.put_nowait(None)
    await asyncio.gather(*workers)
    return lat, len(errors), loop.time() - t0


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(p / 100 * len(xs)))] if xs else float("nan")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--keys", type=int, default=100_000)
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--out", default="bench-results")
    args = ap.parse_args()
    work = tempfile.mkdtemp(prefix="tfxkit-bench-serving-")
    backends = {"sqlite": os.path.join(work, "predictions.sqlite"),
                "redis": "redis://127.0.0.1:6379/0"}
    results = {}
    ok = True
    for kind, target in backends.items():
        print(f"{kind}: storing {args.keys} predictions ...", flush=True)
        fill(kind, target, args.keys)
        proc, url = start(kind, target)
        try:
            asyncio.run(open_loop(url, 100, 1, args.keys))  # warm up
            rows, rate, best = [], 200, None
            while True:
                lat, errors, wall = asyncio.run(open_loop(url, rate, args.seconds, args.keys))
                answered = len(lat) / wall
                p50, p99 = pct(lat, 50) * 1000, pct(lat, 99) * 1000
                rows.append((rate, answered, p50, p99, errors))
                print(f"  offered {rate:5d}/s: answered {answered:7.1f}/s, p50 {p50:7.2f} ms, "
                      f"p99 {p99:8.2f} ms, errors {errors}", flush=True)
                if p99 > 100 or answered < 0.95 * rate or errors or rate >= 25600:
                    break
                best = rate
                rate *= 2
            results[kind] = rows
            at200 = rows[0]
            ok &= at200[3] < 10
            print(f"{kind}: p99 at 200/s {at200[3]:.2f} ms (target < 10 ms); highest rate "
                  f"sustained {best or 0}/s (p99 < 100 ms, >= 95% answered)", flush=True)
        finally:
            proc.terminate()
            proc.wait(10)
    os.makedirs(args.out, exist_ok=True)
    png = os.path.join(args.out, "serving-latency.png")
    plot(results, png)
    print(f"picture: {png}")
    sys.exit(0 if ok else 1)


def plot(results, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    for (kind, rows), color in zip(results.items(), ("tab:blue", "tab:red", "tab:green")):
        rates = [r[0] for r in rows]
        ax.plot(rates, [r[2] for r in rows], "o-", color=color, label=f"{kind} p50")
        ax.plot(rates, [r[3] for r in rows], "s--", color=color, label=f"{kind} p99")
    ax.axhline(10, color="grey", lw=0.8, ls=":", label="10 ms target (at 200/s)")
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel("offered requests/s (open loop, loopback)")
    ax.set_ylabel("latency, ms")
    ax.set_title("tfxkit serve: GET /predictions/{key}")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


if __name__ == "__main__":
    main()
