"""Benchmark: the multiclass template's cold `tfxkit run` on the three stacks (issue 14).

The same run on each side: `tests/bench/bench_pipeline.py --side tfxkit` (the CLI's
`tfxkit run` with early stopping off, so exactly 30 epochs; phases: imports, setup, work =
the runner over every component, report, check), on its own copy of the template
(344 rows), its state wiped before every run (cold). Sides:

- ``py310``: TFX 1.16 on Python 3.10 (``.venv310``: ``make setup PYTHON=3.10 VENV=.venv310``);
- ``py311``: TFX 1.16 on Python 3.11 (``.venv``, the default);
- ``tfx121``: TFX 1.21 / Python 3.13 / TF 2.21 inside the Debian 13 root
  (``infra/tfx121/chroot.sh run``: its process start includes entering the chroot: a mount
  namespace and the binds), the model in Keras 3 (``model.keras: auto`` there, what a user
  gets);
- ``tfx121k2``: the same with ``model.keras: 2`` (tf_keras, as on TFX 1.16): the same
  Keras code on both stacks.

All three run under ``nice -n 19 ionice -c3`` (chroot.sh runs its commands so), with
TF_USE_LEGACY_KERAS=1 and TF_CPP_MIN_LOG_LEVEL=2 (what chroot.sh sets inside), in rounds
(310 311 121 121k2, 121k2 121 311 310, ...), ``--runs`` each. Comparisons: py310 / py311,
py311 / tfx121k2 (the same model code, tf_keras), py311 / tfx121 (each stack as a user
gets it) and tfx121k2 / tfx121 (Keras 2 / Keras 3 on TFX 1.21). The copies live under ``.bench-work/stacks`` (inside the repository, which
the chroot binds at its own path).

    python tests/bench/bench_stacks.py            # 3 runs each
Results: bench-results/stacks.json and .png.
"""
import argparse
import os
import shutil
import sys
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

NAME = "stacks"
TEMPLATE = harness.ROOT / "templates" / "multiclass"
NICE = ["nice", "-n", "19", "ionice", "-c3"]
ENV = {"TF_USE_LEGACY_KERAS": "1", "TF_CPP_MIN_LOG_LEVEL": "2"}
PIPELINE = str(harness.ROOT / "tests" / "bench" / "bench_pipeline.py")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--work", default=str(harness.ROOT / ".bench-work" / "stacks"))
    args = ap.parse_args()
    work = Path(args.work)
    if not str(work.resolve()).startswith(str(harness.ROOT)):
        raise SystemExit("--work must lie inside the repository (the chroot sees only it)")
    py310 = harness.ROOT / ".venv310" / "bin" / "python"
    py311 = harness.ROOT / ".venv" / "bin" / "python"
    chroot = harness.ROOT / "infra" / "tfx121" / "chroot.sh"
    for p, how in ((py310, "make setup PYTHON=3.10 VENV=.venv310"),
                   (py311, "make setup")):
        if not p.exists():
            raise SystemExit(f"{p} is missing: {how}")
    params = {"runs": args.runs, "data": "templates/multiclass/data/penguins.csv (344 rows)",
              "run": "tfxkit run, cold, early stopping off (30 epochs)",
              "sides": {"py310": "TFX 1.16, Python 3.10", "py311": "TFX 1.16, Python 3.11",
                        "tfx121": "TFX 1.21, Python 3.13, in the Debian 13 chroot, Keras 3 "
                                  "(model.keras auto)",
                        "tfx121k2": "the same with model.keras: 2 (tf_keras)"}}
    load = harness.header(NAME, params)
    sides = {}
    for name in ("py310", "py311", "tfx121", "tfx121k2"):
        case = work / name
        if case.exists():
            shutil.rmtree(case)
        shutil.copytree(TEMPLATE, case,
                        ignore=shutil.ignore_patterns(".tfxkit", "models", "__pycache__"))
        if name == "tfx121k2":
            text = (case / "config.yaml").read_text()
            assert "\nmodel:\n" in text
            (case / "config.yaml").write_text(text.replace("\nmodel:\n", "\nmodel:\n  keras: 2\n", 1))
        args_ = [PIPELINE, "--side", "tfxkit", "--config", str(case / "config.yaml")]
        if name.startswith("tfx121"):
            cmd = [str(chroot), "run", "python", *args_]
        else:
            cmd = [*NICE, str(py310 if name == "py310" else py311), *args_]

        def wipe(case=case):
            for sub in (".tfxkit", "models"):
                shutil.rmtree(case / sub, ignore_errors=True)
        sides[name] = harness.Side(name, cmd, env=ENV, before=wipe)
    work_is = "the runner: every component of the template pipeline, cold"
    comps = harness.compare_rounds(
        [("python 3.10 / 3.11 (TFX 1.16)", sides["py310"], sides["py311"], "", work_is),
         ("TFX 1.16 on 3.11 / TFX 1.21 on 3.13, both tf_keras", sides["py311"],
          sides["tfx121k2"], "tfx121's process start includes entering the chroot", work_is),
         ("TFX 1.16 on 3.11 / TFX 1.21 on 3.13, as a user gets each (tf_keras / Keras 3)",
          sides["py311"], sides["tfx121"],
          "tfx121's process start includes entering the chroot", work_is),
         ("TFX 1.21: tf_keras / Keras 3", sides["tfx121k2"], sides["tfx121"], "", work_is)],
        runs=args.runs, log_dir=harness.RESULTS / "logs" / NAME)
    print()
    for c in comps:
        print(harness.report(c))
    harness.save(NAME, comps, params, started_load=load)


if __name__ == "__main__":
    main()
