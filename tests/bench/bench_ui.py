"""Benchmark: ``tfxkit ui`` page times on a use case with 200 runs (issue 21; target: every
page well under 1 s).

200 training runs are written into ML Metadata (SQLite) shaped like the ones ``tfxkit run``
records (``tests/unit/infra/ui/ui_records.py``: the template's ten nodes, data components
cached every other run, a failed Trainer every 7th run, a push every 5th blessed run into a
real registry), then each page is requested through the app (FastAPI's TestClient: the
server's time, no network): once first, then ``--repeat`` times with MLMD unchanged (the
app keeps the run table while the SQLite file's stamp is the same) and ``--repeat`` times
with the file's mtime bumped before each request (as after a new run: the run contexts
are listed again, the finished runs' rows reused, new or running ones read); medians per
page are printed and written to bench-results/ui-pages.json, with the time to read the
whole run table from MLMD with nothing reused (the first page after ``tfxkit ui`` starts).

Each evaluated record carries its evaluation on its run context (``evaluation_json``) as
``tfxkit run`` records it when the run ends, so no TFMA output is read (runs recorded before
that are read from TFMA's output once per artifact, and the cache is warmed at start). The
app starts as ``tfxkit ui`` starts it (``warm=True``: matplotlib imported, the list's
metrics read, in a start-up thread); the bench waits for that warm-up and prints its time
apart, as a fixed start-up cost.

    make bench-ui
    python tests/bench/bench_ui.py --runs 200 --repeat 7
    python tests/bench/bench_ui.py --real templates/multiclass/config.yaml \
        --out bench-results/ui-real.json     # after make demo: the real process, real runs
"""
import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import quote

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
TARGET_S = 1.0


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=200)
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--work", default=None, help="where to write the use case (default a "
                    "temporary folder on /dev/shm where there is one)")
    ap.add_argument("--out", default=str(ROOT / "bench-results" / "ui-pages.json"))
    ap.add_argument("--real", metavar="CONFIG", default=None,
                    help="instead: start the real `tfxkit ui CONFIG` process --starts times "
                         "and time its start and each page's first request over HTTP (a use "
                         "case with real runs, e.g. after make demo)")
    ap.add_argument("--starts", type=int, default=3)
    args = ap.parse_args(argv)
    if args.real:
        return real(args.real, args.starts, args.out)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    from fastapi.testclient import TestClient

    from tests.unit.infra.ui.ui_records import make_case, write_runs
    from tfxkit.infra.ui.app import create_app
    from tfxkit.infra.ui.sources import load_use_cases

    base = args.work or tempfile.mkdtemp(prefix="tfxkit-ui-bench-",
                                         dir="/dev/shm" if os.path.isdir("/dev/shm") else None)
    try:
        path, cfg = make_case(base)
        t0 = time.perf_counter()
        written = write_runs(cfg, args.runs, fail_every=7, push_every=5)
        write_s = time.perf_counter() - t0
        [uc] = load_use_cases([str(path)])
        t0 = time.perf_counter()
        app = create_app([uc], warm=True)  # as ``tfxkit ui`` starts it
        while app.state.warming.is_set():
            time.sleep(0.01)
        warm_s = time.perf_counter() - t0
        print(f"start-up warm-up (matplotlib import, the use-case list's metrics): "
              f"{warm_s:.2f} s, before the first request")
        client = TestClient(app)
        ids = [rid for rid, _ in written]
        ok = [rid for rid, w in written if not w.get("failed")]
        name = cfg.name
        pages = {
            "use cases (/)": "/",
            "runs (/u/NAME)": f"/u/{name}",
            "runs, filtered to failed": f"/u/{name}?state=failed",
            "a run (/u/NAME/runs/ID)": f"/u/{name}/runs/{quote(ok[-1])}",
            "compare 2 runs": f"/u/{name}/compare?run={quote(ok[-2])}&run={quote(ok[-1])}",
            "compare 5 runs": f"/u/{name}/compare?" + "&".join(f"run={quote(r)}" for r in ok[-5:]),
            "lineage of the serving model": f"/u/{name}/lineage",
            "models": f"/u/{name}/models",
            "serving": f"/u/{name}/serving",
        }
        results = {}

        def timed(url, changed):
            if changed:  # as after a new run: the run table is read from MLMD again
                st = os.stat(cfg.metadata_path)
                os.utime(cfg.metadata_path, ns=(st.st_atime_ns, st.st_mtime_ns + 1000))
            t = time.perf_counter()
            r = client.get(url)
            dt = time.perf_counter() - t
            assert r.status_code == 200, (url, r.status_code, r.text[:500])
            return dt, r

        for label, url in pages.items():
            first, r = timed(url, True)
            same = [timed(url, False)[0] for _ in range(args.repeat)]
            changed = [timed(url, True)[0] for _ in range(args.repeat)]
            results[label] = {"url": url, "first_s": round(first, 4),
                              "median_s": round(statistics.median(same), 4),
                              "max_s": round(max(same), 4),
                              "median_changed_s": round(statistics.median(changed), 4),
                              "max_changed_s": round(max(changed), 4),
                              "bytes": len(r.content)}
            print(f"{label:<32} first {first * 1000:7.1f} ms  median "
                  f"{statistics.median(same) * 1000:7.1f} ms (MLMD unchanged)  "
                  f"{statistics.median(changed) * 1000:7.1f} ms (MLMD changed)  "
                  f"{len(r.content) // 1024} KiB")
        from tfxkit.infra.ui import data

        full = []
        for _ in range(3):  # the whole run table read from MLMD, nothing reused
            t = time.perf_counter()
            rows = data.runs(uc.store(), name)
            full.append(time.perf_counter() - t)
        assert len(rows) == args.runs
        results["(the run table of all runs read from MLMD, no reuse)"] = {
            "url": None, "first_s": round(full[0], 4),
            "median_s": round(statistics.median(full), 4), "max_s": round(max(full), 4),
            "median_changed_s": round(statistics.median(full), 4),
            "max_changed_s": round(max(full), 4), "bytes": 0}
        print(f"{'full read of ' + str(args.runs) + ' runs':<32} median "
              f"{statistics.median(full) * 1000:7.1f} ms (data.runs, nothing reused)")
        worst = max(max(v["median_s"], v["median_changed_s"]) for v in results.values())
        commit = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
                                capture_output=True, text=True).stdout.strip()
        out = {"name": "ui-pages", "runs": args.runs, "repeat": args.repeat,
               "target_s": TARGET_S, "worst_median_s": worst, "met": worst < TARGET_S,
               "write_runs_s": round(write_s, 1), "warm_up_s": round(warm_s, 2),
               "pages": results, "commit": commit,
               "host": platform.node(), "cpus": os.cpu_count(),
               "mlmd": "SQLite on " + ("/dev/shm" if base.startswith("/dev/shm") else base),
               "note": "server time through FastAPI's TestClient, after the start-up warm-up "
                       "(warm_up_s: matplotlib imported, the list's metrics read); first_s: "
                       "the page's first request (its template compiled); "
                       "median_s: MLMD unchanged since the last request (the run table "
                       "cached on the SQLite file's stamp); median_changed_s: the file's "
                       "mtime bumped before each request (the run table read again); the "
                       "records carry their evaluation as runs record it (evaluation_json), "
                       "no TFMA output is read"}
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(out, indent=1) + "\n")
        print(f"worst page median {worst * 1000:.0f} ms (target < {TARGET_S * 1000:.0f} ms): "
              f"{'met' if worst < TARGET_S else 'MISSED'}; {args.out}")
        return 0 if worst < TARGET_S else 1
    finally:
        if not args.work:
            shutil.rmtree(base, ignore_errors=True)


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def real(config: str, starts: int, out: str) -> int:
    """``tfxkit ui CONFIG`` started ``starts`` times, each a fresh process: the seconds until
    it answers, then each page's first request (client time over loopback HTTP, in the
    order a user clicks: list, runs, the newest run, its report, compare, lineage, models,
    serving); medians and min..max over the starts."""
    import re
    import urllib.request

    exe = str(Path(sys.executable).parent / "tfxkit")
    times: dict = {}
    for _ in range(starts):
        port = _free_port()
        t0 = time.perf_counter()
        proc = subprocess.Popen([exe, "ui", config, "--port", str(port)],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        base = f"http://127.0.0.1:{port}"

        def get(path):
            t = time.perf_counter()
            with urllib.request.urlopen(base + path, timeout=300) as r:
                body = r.read().decode()
                assert r.status == 200, (path, r.status)
            return time.perf_counter() - t, body

        try:
            while True:
                try:
                    urllib.request.urlopen(base + "/static/ui.css", timeout=1).read()
                    break
                except OSError:
                    if proc.poll() is not None:
                        raise SystemExit(f"tfxkit ui exited {proc.returncode}")
                    time.sleep(0.02)
            times.setdefault("start (process, imports, app) until it answers", []).append(
                time.perf_counter() - t0)
            dt, home = get("/")
            name = re.search(r'data-use-case="([^"]+)"', home).group(1)
            times.setdefault("use cases (/)", []).append(dt)
            dt, runs = get(f"/u/{quote(name)}")
            times.setdefault("runs", []).append(dt)
            rid = quote(re.search(r'<tr class="run" data-run="([^"]+)"', runs).group(1))
            for label, path in (("a run (the newest)", f"/u/{quote(name)}/runs/{rid}"),
                                ("its report (embedded page)", f"/u/{quote(name)}/runs/{rid}/report"),
                                ("compare (the newest run with itself)",
                                 f"/u/{quote(name)}/compare?run={rid}&run={rid}"),
                                ("lineage", f"/u/{quote(name)}/lineage"),
                                ("models", f"/u/{quote(name)}/models"),
                                ("serving", f"/u/{quote(name)}/serving")):
                times.setdefault(label, []).append(get(path)[0])
        finally:
            proc.terminate()
            proc.wait()
    commit = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
                            capture_output=True, text=True).stdout.strip()
    pages = {k: {"median_s": round(statistics.median(v), 4), "min_s": round(min(v), 4),
                 "max_s": round(max(v), 4), "n": len(v)} for k, v in times.items()}
    for k, v in pages.items():
        print(f"{k:<50} {v['median_s'] * 1000:7.0f} ms ({v['min_s'] * 1000:.0f}.."
              f"{v['max_s'] * 1000:.0f})")
    load = os.getloadavg()
    doc = {"name": "ui-real-use-case", "config": config, "starts": starts, "pages": pages,
           "commit": commit, "cpus": os.cpu_count(), "loadavg_end": [round(x, 2) for x in load],
           "note": "the real tfxkit ui process, started fresh each time; client time over "
                   "loopback HTTP of each page's first request after it answers (its "
                   "start-up warm-up thread may still be running)"}
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    Path(out).write_text(json.dumps(doc, indent=1) + "\n")
    print(f"load average at the end {load[0]:.2f}; {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
