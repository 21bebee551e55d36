"""`tfxkit new --data` end to end: data the repository has never used (scikit-learn's
bundled wine, diabetes and breast-cancer sets, written to CSV here with an id column, a
derived string column and a few missing values) becomes a blessed, pushed model with no
edit of the generated config, and `tfxkit predict` scores its inference sample.

Each case prints its figures: changed config lines and the wall time from `tfxkit new` to
the first blessed push."""
import difflib
import sqlite3
import subprocess
import sys
import time

import numpy as np
import pytest

from tests.e2e.helpers import registry_versions, tfxkit

pytestmark = pytest.mark.e2e


def write_data(kind, path):
    """The data set as CSV: sample_id first, a 3-level string `grade` derived from one
    feature, 5 missing values in another feature and in `grade`; the label `target`
    (wine's are its class names, strings)."""
    from sklearn import datasets

    if kind == "wine":
        bunch = datasets.load_wine(as_frame=True)
    elif kind == "diabetes":
        bunch = datasets.load_diabetes(as_frame=True, scaled=False)
    else:
        bunch = datasets.load_breast_cancer(as_frame=True)
    df = bunch.frame
    df.columns = [c.replace(" ", "_").replace("/", "_").replace("(", "").replace(")", "")
                  for c in df.columns]
    feats = [c for c in df.columns if c != "target"]
    if kind == "cancer":  # a subset: the mean measurements
        feats = feats[:10]
        df = df[feats + ["target"]]
    if kind == "wine":
        df["target"] = [bunch.target_names[t] for t in df["target"]]
    df = df.copy()
    rng = np.random.default_rng(7)
    graded = max(feats, key=lambda c: df[c].nunique())
    df["grade"] = np.where(df[graded] < df[graded].quantile(1 / 3), "low",
                           np.where(df[graded] < df[graded].quantile(2 / 3), "mid", "high"))
    for col in (feats[1], "grade"):
        df.loc[rng.choice(len(df), 5, replace=False), col] = None
    df.insert(0, "sample_id", [f"{kind}-{i:04d}" for i in range(len(df))])
    df.to_csv(path, index=False)
    return len(df), len(feats)


# data set: (task, `tfxkit new` options); wine's label is found by its name (target)
CASES = {
    "wine": ("multiclass", []),
    "diabetes": ("regression", ["--label", "target"]),
    "cancer": ("binary", ["--label", "target"]),
}


@pytest.mark.parametrize("kind", sorted(CASES))
def test_new_data_to_blessed_push_and_predictions(kind, tmp_path):
    task, options = CASES[kind]
    data = tmp_path / f"{kind}.csv"
    rows, n_features = write_data(kind, data)

    t0 = time.monotonic()
    made = tfxkit("new", f"{kind}-case", "--data", data, *options, cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    case = tmp_path / f"{kind}-case"
    cfg = case / "config.yaml"
    generated = cfg.read_text()
    assert f"task: {task}" in generated and "gate: " in made.stdout
    assert "key: sample_id" in made.stdout
    if not options:
        assert "label: target (the only column with a usual label name" in made.stdout

    checked = tfxkit("validate", cfg)
    assert checked.returncode == 0 and "OK" in checked.stdout, checked.stderr
    assert f"{n_features + 1} features" in checked.stdout  # every feature and grade

    run = tfxkit("run", cfg, timeout=1200)
    elapsed = time.monotonic() - t0
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert "Model BLESSED" in run.stdout and "Pushed version" in run.stdout, run.stdout[-3000:]
    assert len(registry_versions(case / "models")) == 1
    changed = sum(1 for line in difflib.unified_diff(generated.splitlines(),
                                                      cfg.read_text().splitlines(), n=0)
                  if line[:1] in "+-" and not line.startswith(("+++", "---")))
    print(f"\nFIGURES {kind} ({task}, {rows} rows, {n_features} features): "
          f"{changed} changed config lines, {elapsed:.0f} s from `tfxkit new` to the "
          f"first blessed push; {made.stdout.splitlines()[-4]}")
    assert changed == 0

    pred = tfxkit("predict", cfg)
    assert pred.returncode == 0, pred.stderr
    assert "50 predictions" in pred.stdout, pred.stdout
    db = sqlite3.connect(case / ".tfxkit" / "predictions.sqlite")
    tables = [t for (t,) in db.execute("SELECT name FROM sqlite_master WHERE type='table'")]
    assert tables, "no prediction table in the store"
    db.close()

    # the generated transform test passes, and reads its features from the config
    test = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                           str(case / "tests")], capture_output=True, text=True, cwd=case)
    assert test.returncode == 0, test.stdout[-3000:]
