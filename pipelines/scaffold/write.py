"""Writes a use case from a plan (``tfxkit new --data``): config.yaml with a short comment
on each choice, the inference sample (the first rows, without the label), a transform
test that reads its features from the config, and a README. The folder is built beside
its destination and renamed into place, so a failure leaves nothing half-written."""
from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import List, Optional

from .plan import Plan
from .profile import Profile, write_sample

SAMPLE = "data/inference/sample.csv"
SAMPLE_ROWS = 50
ROW_KEY = "row_id"  # the inference sample's key when the data has no id column
_PLAIN = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]*$")
_YAML_WORDS = {"y", "n", "yes", "no", "on", "off", "true", "false", "null", "~"}
_COMMENT_AT = 38

TEST = '''"""This use case's feature engineering, checked in seconds with tfxkit.testing.

The features come from config.yaml, so editing its features section never breaks this
test: every feature is transformed, missing values are imputed, and each output is in
its range (z-scores centred, ids within their vocabulary or buckets)."""
from pathlib import Path

from tfxkit.testing import assert_config_features

CONFIG = Path(__file__).resolve().parents[1] / "config.yaml"


def test_config_features():
    got = assert_config_features(CONFIG)
    assert got  # one transformed row per sample row
'''


def y(s: str) -> str:
    """A YAML scalar for a name: plain when safe, else quoted."""
    return s if _PLAIN.match(s) and s.lower() not in _YAML_WORDS else json.dumps(s)


def _c(line: str, comment: str) -> str:
    return f"{line.ljust(_COMMENT_AT - 1)} # {comment}" if comment else line


def data_ref(data_path: str, dest: Path) -> str:
    """The data path as config.yaml names it: relative to the use-case folder when that
    stays near (two levels up at most), else absolute."""
    absolute = os.path.abspath(data_path)
    rel = os.path.relpath(absolute, os.path.abspath(dest))
    return absolute if rel.startswith(os.path.join("..", "..", "..")) else rel


def render_config(name: str, prof: Profile, plan: Plan, data: str,
                  sample_key: str) -> str:
    L: List[str] = [
        f"# {name}: {plan.task} on {prof.path} ({prof.rows} rows, {len(prof.columns)} "
        "columns),",
        "# written by `tfxkit new --data`; each comment says why. Edit freely, then",
        "# `tfxkit validate config.yaml` and `tfxkit run config.yaml`.",
        f"name: {name}",
        _c(f"task: {plan.task}", plan.task_why),
        _c(f"label: {y(plan.label)}", plan.label_why)]
    if plan.label_classes:
        L.append(_c(f"label_classes: {json.dumps(plan.label_classes)}",
                    "every label value, in this order"))
    split = "{train: 8, eval: 2" + (f", key: {y(plan.key)}" if plan.key else "") + "}"
    L += ["", "data:", f"  source: {{{prof.kind}: {json.dumps(data)}}}",
          _c(f"  split: {split}", f"{plan.key}: {plan.key_why}" if plan.key else plan.key_why),
          "", "features:"]
    if plan.dense:
        L.append("  dense:")
        L += [_c(f"    - {y(n)}", plan.why[n]) for n in plan.dense]
    if plan.log:
        L.append("  scale: {" + ", ".join(f"{y(n)}: log" for n in plan.log) + "}"
                 "   # log1p; the others z-score")
    if plan.impute:
        L.append("  impute:")
        L += [f"    {y(n)}: {s}" for n, s in plan.impute.items()]
    if plan.vocab:
        L.append("  vocab:")
        L += [_c(f"    {y(n)}: {{num_oov_buckets: 1}}", plan.why[n]) for n in plan.vocab]
    if plan.hash:
        L.append("  hash:")
        L += [_c(f"    {y(n)}: {b}", plan.why[n]) for n, b in plan.hash.items()]
    for n, why in plan.dropped.items():
        L.append(f"  # not a feature: {n} ({why})")
    g = plan.gate
    L += ["", "model:", "  kind: dnn", "  hidden_units: [32, 16]", "  learning_rate: 0.01",
          "  batch_size: 32", "  epochs: 60", "  early_stopping: {patience: 10}",
          "", "eval:", "  metrics:", f"    # {g.line()}",
          f"    - {{name: {g.metric}, {g.bound}: {g.value:g}, absolute_change: {g.change:g}}}"]
    L += [f"    - {{name: {m}}}" for m in plan.metrics]
    db = "tfxkit_" + re.sub(r"\W", "_", name)
    L += ["", "push:", "  registry: models", "",
          "inference:                            # tfxkit predict config.yaml",
          _c(f"  source: {{csv: {SAMPLE}}}", f"the first rows, without {plan.label}"),
          _c(f"  key: {y(sample_key)}", "passed through to the store, never fed to the model"),
          "  store: {sqlite: .tfxkit/predictions.sqlite}   # or {postgres: DSN}, {redis: URL}",
          "", "profiles:",
          "  quick:                              # tfxkit run config.yaml --profile quick",
          "    model: {epochs: 5}",
          "  mysql:                              # MLMD in MySQL/MariaDB instead of SQLite",
          "    metadata:",
          f"      mysql: {{host: 127.0.0.1, port: 3306, database: {db}, user: root}}", ""]
    return "\n".join(L)


def render_readme(name: str, prof: Profile, plan: Plan) -> str:
    lines = [f"# {name} ({plan.task})", "",
             f"Predicts `{plan.label}` from {len(plan.features)} columns of `{prof.path}` "
             f"({prof.rows} rows), as `tfxkit new --data` profiled it.", "",
             "- `config.yaml`: the whole use case, each choice with its reason; "
             "`tfxkit validate config.yaml`, then `tfxkit run config.yaml`.",
             f"- `{SAMPLE}`: the first rows without the label, for `tfxkit predict config.yaml`.",
             "- `tests/test_preprocessing.py`: checks the feature engineering with "
             "`tfxkit.testing` (its features come from config.yaml).", "",
             f"The gate, derived from the data: {plan.gate.line().split(': ', 1)[1]}.", ""]
    return "\n".join(lines)


def write_use_case(dest: Path, name: str, prof: Profile, plan: Plan,
                   data_path: Optional[str] = None) -> Path:
    """Writes the use case into ``dest`` (which must not exist), atomically."""
    dest = Path(dest)
    if dest.exists():
        raise FileExistsError(f"{dest} already exists; nothing was changed")
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{name}.", dir=dest.parent))
    try:
        sample_key = plan.key or ROW_KEY
        while sample_key in prof.columns and not plan.key:  # a column of that name
            sample_key = "_" + sample_key
        (tmp / "data" / "inference").mkdir(parents=True)
        write_sample(prof, str(tmp / SAMPLE), drop=[plan.label], n=SAMPLE_ROWS,
                     add_key=None if plan.key else sample_key)
        text = render_config(name, prof, plan, data_ref(data_path or prof.path, dest),
                             sample_key)
        (tmp / "config.yaml").write_text(text)
        (tmp / "tests").mkdir()
        (tmp / "tests" / "test_preprocessing.py").write_text(TEST)
        (tmp / "README.md").write_text(render_readme(name, prof, plan))
        os.chmod(tmp, 0o755)  # mkdtemp makes it private
        os.rename(tmp, dest)  # refuses a destination made meanwhile (not empty)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return dest
