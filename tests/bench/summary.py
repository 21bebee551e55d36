"""Prints one Markdown table of every bench-results/*.json: per comparison, the median
ratio and its spread (total and work), each side's median fixed costs and work, the
commit and the load average. `make bench` ends with it; the README's figures are copied
from it, naming the commit and the file.

    python tests/bench/summary.py [bench-results]
"""
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def fmt(s, unit="x", digits=2):
    if not s or s.get("median") is None:
        return "n/a"
    return f"{s['median']:.{digits}f}{unit} ({s['min']:.{digits}f}..{s['max']:.{digits}f})"


def rows(folder: Path):
    for path in sorted(folder.glob("*.json")):
        d = json.loads(path.read_text())
        if "comparisons" not in d:
            continue
        m = d.get("machine", {})
        load = m.get("loadavg_start") or ["?"]
        where = (f"`{path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}` @ "
                 f"{d.get('commit', 'unknown')[:10]}{'+dirty' if d.get('dirty') else ''}")
        # a scale.json merged from several runs (bench_scale.py --merge): each size
        # names the commit it was measured at
        at = {f"scale {z['label']}": z for z in d.get("sizes") or () if z.get("commit")}
        for c in d["comparisons"]:
            s = c["summary"]
            z = at.get(c["name"])
            shown_load = f"{load[0]}"
            if z:
                where = (f"`{path.name}` @ {z['commit'][:10]}{'+dirty' if z.get('dirty') else ''}")
                before = [r["loadavg_before"][0] for r in c.get("runs", [])]
                shown_load = f"{min(before)}..{max(before)}" if before else shown_load
            s.setdefault("dev_only", min(v["runs"] for v in s["sides"].values()) < 3)
            a, b = s["sides"][s["a"]], s["sides"][s["b"]]
            name = c["name"] + (" (DEVELOPMENT RUN, not a figure)" if s.get("dev_only") else "")
            work = fmt(s["ratios"]["work"])
            if s.get("work_includes"):
                work += f"; work = {s['work_includes']}"
            yield (name, f"{s['a']} / {s['b']}", a["runs"], fmt(s["ratios"]["total"]), work,
                   f"{fmt(a['fixed_s'], ' s', 1)} / {fmt(b['fixed_s'], ' s', 1)}",
                   f"{fmt(a['work_s'], ' s', 2)} / {fmt(b['work_s'], ' s', 2)}",
                   shown_load, where)
            for metric, r in (s.get("metric_ratios") or {}).items():
                yield (f"{c['name']}: {metric}", f"{s['a']} / {s['b']}", a["runs"], fmt(r),
                       "", "", "", shown_load, where)


def targets(folder: Path):
    """(target, measured, met, from) of the latency targets recorded beside comparisons:
    GET /predictions p99 at 200/s (serving.json's sweep), a bandit's recommendations
    by user id (bandit-reads.json), batch inference against a plain loop
    (inference.json), the no-change run (fast-path.json), each command's imports
    (imports.json), the scale targets (scale.json: 300k rows tfxkit/stock, 3M rows
    wall and peak RSS) and the targets a benchmark records itself (pipeline.json)."""
    for path in sorted(folder.glob("*.json")):
        d = json.loads(path.read_text())
        where = (f"`{path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}` @ "
                 f"{d.get('commit', 'unknown')[:10]}{'+dirty' if d.get('dirty') else ''}")
        for kind, res in (d.get("sweep") or {}).items():
            yield (f"GET /predictions p99 at 200/s, {kind} (< 10 ms)",
                   f"{res['p99_at_200']:.2f} ms (one window)", res["p99_at_200"] < 10, where)
        if d.get("fast_wall_s"):
            yield (f"no-change tfxkit run, wall with Python start-up (<= {d['target_s']:g} s)",
                   fmt(d["fast_wall_s"], " s") + f" over {d['fast_wall_s']['n']} runs",
                   d["target_met"], where)
        for t in d.get("targets") or []:  # recorded by the benchmark itself
            yield (t["target"], t["measured"], t["met"], where)
        t = d.get("target")
        if isinstance(t, dict) and (t.get("ratio") or {}).get("median") is not None:
            yield (t["target"] + f" ({t['terms']})",
                   fmt(t["ratio"]) + f" over {t['ratio']['n']} paired runs"
                   + (" (DEVELOPMENT RUN, not a figure)" if (t["ratio"]["n"] or 0) < 3
                      or (d.get("params") or {}).get("quick") else ""),
                   t["met"], where)
        for name, c in (d.get("commands") or {}).items():  # imports.json
            if c.get("target_met") is None:  # a reference, no target
                continue
            what = (f"tfxkit {name}: {c['target']}" if name in ("validate", "run-no-change")
                    else f"tfxkit {name}: imports <= {d['target_s']:g} s (python -X importtime)")
            measured = fmt(c["imports_s"], " s") + f" over {c['imports_s']['n']} runs"
            if name in ("validate", "run-no-change"):
                measured += f"; heavy modules: {', '.join(c['loaded']) or 'none'}"
            if c.get("dev_only"):
                measured += " (DEVELOPMENT RUN, not a figure)"
            yield what, measured, c["target_met"], where
        sizes = {z["label"]: z for z in d.get("sizes") or () if z.get("commit")}
        for t in d.get("scale_targets") or ():
            z = next((z for lab, z in sizes.items() if f": {lab} rows" in t["target"]), None)
            at = (f"`{path.name}` @ {z['commit'][:10]}{'+dirty' if z.get('dirty') else ''}"
                  if z else where)
            yield (t["target"], t["measured"], t["met"], at)
        b = d.get("bandit_reads")
        for kind, res in ((b or {}).get("stores") or {}).items():
            yield (f"bandit recommendations by user id, p99 at {b['rate']}/s, {kind}, "
                   f"{b['users']} users (< 10 ms)",
                   fmt(res["p99_ms"], " ms") + f" over {res['p99_ms']['n']} windows",
                   res["target_met"], where)


def main():
    folder = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "bench-results"
    head = ("comparison", "a / b", "runs each", "ratio a/b, total wall: median (min..max)",
            "ratio a/b, work only", "fixed costs a / b", "work a / b", "load", "from")
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for r in rows(folder):
        print("| " + " | ".join(str(x) for x in r) + " |")
    found = list(targets(folder))
    if found:
        print("\n| target | measured: median (min..max) | met | from |\n|---|---|---|---|")
        for t in found:
            print("| " + " | ".join(str(x) for x in t) + " |")


if __name__ == "__main__":
    main()
