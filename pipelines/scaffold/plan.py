"""Chooses a use case from a data profile (``tfxkit new --data``): the label and task, the
split/inference key, each column's feature kind, and a gate derived from the data. Every
choice carries its reason; nothing ambiguous is guessed: ``PlanError`` says what to give."""
from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Tuple

from .profile import Column, Profile

LABEL_NAMES = ("label", "target", "y", "class", "species", "outcome", "diagnosis",
               "churn", "churned", "default", "price")
TASKS = ("binary", "multiclass", "regression")
VOCAB_MAX = 50       # strings with more distinct values are hashed
HASH_MAX = 1024
MULTICLASS_MAX = 100
AMBIGUOUS_INT_MAX = 20  # an integer label with at most this many values: classes or counts?
MARGIN = 0.05           # classification: beat the majority class by this much (accuracy)
REG_MARGIN = 0.10       # regression: beat the mean predictor's MAE by this fraction


class PlanError(ValueError):
    """An input that cannot be planned without the user (ambiguous label or task, a name
    that is not a column): the message names it and the option to give."""


@dataclass
class Gate:
    metric: str
    bound: str               # lower_bound | upper_bound
    value: float
    change: float            # absolute_change against the previous blessed model
    why: str

    def line(self) -> str:
        op = ">=" if self.bound == "lower_bound" else "<="
        return f"gate: {self.metric} {op} {self.value:g} ({self.why})"


@dataclass
class Plan:
    task: str
    label: str
    label_why: str
    task_why: str
    label_classes: Optional[List[str]]
    key: Optional[str]
    key_why: str
    dense: List[str] = field(default_factory=list)
    log: List[str] = field(default_factory=list)
    vocab: Dict[str, int] = field(default_factory=dict)        # name -> top_k
    hash: Dict[str, int] = field(default_factory=dict)         # name -> buckets
    impute: Dict[str, str] = field(default_factory=dict)
    why: Dict[str, str] = field(default_factory=dict)          # column -> reason
    dropped: Dict[str, str] = field(default_factory=dict)      # column -> reason
    gate: Optional[Gate] = None
    metrics: List[str] = field(default_factory=list)           # reported, not gated

    @property
    def features(self) -> List[str]:
        return self.dense + list(self.vocab) + list(self.hash)


def _closest(name: str, columns: List[str]) -> str:
    close = difflib.get_close_matches(name, columns, n=1, cutoff=0.5)
    if not close:
        close = [c for c in columns if c.lower() == name.lower()]
    return f"; did you mean {close[0]!r}?" if close else ""


def _column(prof: Profile, name: str, option: str) -> Column:
    if name not in prof.columns:
        raise PlanError(f"{option} {name!r}: not a column of {prof.path}"
                        f"{_closest(name, list(prof.columns))} (columns: "
                        f"{', '.join(prof.columns)})")
    return prof.columns[name]


def choose_label(prof: Profile, label: Optional[str]) -> Tuple[Column, str]:
    if label:
        return _column(prof, label, "--label"), "given with --label"
    named = [c for c in prof.columns.values() if c.name.lower() in LABEL_NAMES
             and not c.id_like and c.distinct > 1]
    if len(named) == 1:
        return named[0], f"the only column with a usual label name ({named[0].name!r})"
    candidates = [c.name for c in prof.columns.values()
                  if not c.id_like and c.distinct > 1 and c.kind != "other"]
    why = (f"several columns have a usual label name ({', '.join(c.name for c in named)})"
           if named else "no column has a usual label name (label, target, y, class, ...)")
    raise PlanError(f"which column is the label? {why}. Give it with --label COLUMN; "
                    f"candidates: {', '.join(candidates)}")


def choose_task(col: Column, task: Optional[str]) -> Tuple[str, str]:
    values = f"{col.distinct} distinct values"
    if task:
        if task not in TASKS:
            raise PlanError(f"--task {task!r}: one of {', '.join(TASKS)}")
        if task == "binary" and col.distinct != 2:
            raise PlanError(f"--task binary: label {col.name!r} has {values}, not 2")
        if task == "regression" and not col.numeric:
            raise PlanError(f"--task regression: label {col.name!r} is not numeric "
                            f"({col.dtype})")
        if task == "multiclass" and not 2 <= col.distinct <= MULTICLASS_MAX:
            raise PlanError(f"--task multiclass: label {col.name!r} has {values} (a "
                            f"multiclass label has 2 to {MULTICLASS_MAX})")
        return task, "given with --task"
    if col.distinct < 2:
        raise PlanError(f"label {col.name!r} has {values}: nothing to learn")
    if col.distinct == 2:
        return "binary", f"the label has 2 distinct values ({col.top[0][0]}, {col.top[1][0]})"
    if not col.numeric:
        if col.distinct > MULTICLASS_MAX:
            raise PlanError(f"label {col.name!r} is a string with {values}: too many classes "
                            f"for multiclass (at most {MULTICLASS_MAX})")
        return "multiclass", f"the label is a string with {values}"
    if col.integral and col.distinct <= AMBIGUOUS_INT_MAX:
        raise PlanError(f"label {col.name!r} holds whole numbers with only {values} "
                        f"({', '.join(v for v, _ in col.top[:8])}): classes or a quantity? "
                        "Give --task multiclass or --task regression")
    return "regression", f"the label is numeric with {values}"


def choose_key(prof: Profile, label: str, key: Optional[str]) -> Tuple[Optional[str], str]:
    if key:
        col = _column(prof, key, "--key")
        if key == label:
            raise PlanError(f"--key {key!r} is the label")
        if not col.unique:
            raise PlanError(f"--key {key!r}: not a row id ({col.missing} missing, "
                            f"{col.distinct} distinct values in {col.rows} rows)")
        return key, "given with --key"
    ids = [c for c in prof.columns.values() if c.id_like and c.name != label]
    if not ids:
        return None, "no id column: rows are split by a hash of the whole row"
    ids.sort(key=lambda c: (not _named_id(c), list(prof.columns).index(c.name)))
    return ids[0].name, f"unique in every row ({ids[0].rows} rows): an id, never a feature"


def _named_id(col: Column) -> bool:
    from .profile import _ID_NAME

    return bool(_ID_NAME.search(col.name))


def _feature(plan: Plan, col: Column) -> None:
    gap = f"; {col.missing} of {col.rows} missing" if col.missing else ""
    if col.missing == col.rows:
        plan.dropped[col.name] = "every value is missing"
    elif col.distinct < 2:
        plan.dropped[col.name] = "one value only: nothing to learn from"
    elif col.id_like:
        plan.dropped[col.name] = "unique in every row: an id, not a feature"
    elif col.numeric:
        plan.dense.append(col.name)
        skewed = (col.min >= 0 and (col.skew or 0) >= 1.0 and col.median
                  and col.max >= 4 * col.median)
        if skewed:
            plan.log.append(col.name)
        scaling = (f"log (skewed: skewness {col.skew:.1f}, max {col.max:g} vs median "
                   f"{col.median:g})" if skewed else "z-score")
        plan.why[col.name] = f"numeric ({col.dtype}), {scaling}{gap}"
        if col.missing:
            plan.impute[col.name] = "median"
    elif col.kind in ("string", "bool"):
        if col.distinct <= VOCAB_MAX:
            plan.vocab[col.name] = col.distinct
            plan.why[col.name] = f"{col.distinct} distinct values: a vocabulary{gap}"
        else:
            n = min(HASH_MAX, 1 << (2 * col.distinct - 1).bit_length())
            plan.hash[col.name] = n
            plan.why[col.name] = f"{col.distinct} distinct values: hashed into {n}{gap}"
        if col.missing:
            plan.impute[col.name] = "most_frequent"
    else:
        plan.dropped[col.name] = (f"type {col.dtype}: derive features from it in a query "
                                  "or preprocessing module")


def _gate(task: str, col: Column) -> Gate:
    if task == "regression":
        mae = col.mae_mean
        bound = float(f"{mae * (1 - REG_MARGIN):.3g}")
        return Gate("mae", "upper_bound", bound, float(f"{mae * REG_MARGIN:.2g}"),
                    f"predicting the mean, {col.mean:.4g}, is off by {mae:.4g} on average; "
                    f"-{REG_MARGIN:.0%}")
    value, count = col.top[0]
    share = count / (col.rows - col.missing)
    margin = min(MARGIN, round((1 - share) / 2, 3))
    bound = round(share + margin, 3)
    return Gate("accuracy", "lower_bound", bound, -0.05,
                f"majority class {value!r} is {share:.2f} of rows, +{margin:g}")


def _classes(task: str, col: Column) -> Optional[List[str]]:
    """The label's classes in a fixed order (numbers by value), or None for a 0/1 binary
    label, which is its own id."""
    if task == "regression":
        return None
    if col.numeric:
        if not col.integral:
            raise PlanError(f"label {col.name!r}: fractional values ({col.top[0][0]}, ...) "
                            f"cannot be classes of a {task} task")
        classes = [str(int(v)) for v in sorted(float(v) for v, _ in col.top)]
        return None if task == "binary" and classes == ["0", "1"] else classes
    return sorted(v for v, _ in col.top)


def make_plan(prof: Profile, label: Optional[str] = None, task: Optional[str] = None,
              key: Optional[str] = None) -> Plan:
    col, label_why = choose_label(prof, label)
    if col.missing:
        raise PlanError(f"label {col.name!r}: {col.missing} of {col.rows} rows have no "
                        "value; drop them first (e.g. a source query ... WHERE label IS NOT "
                        "NULL)")
    task, task_why = choose_task(col, task)
    key_name, key_why = choose_key(prof, col.name, key)
    classes = _classes(task, col)
    plan = Plan(task, col.name, label_why, task_why, classes, key_name, key_why)
    for c in prof.columns.values():
        if c.name in (col.name, key_name):
            continue
        _feature(plan, c)
    if not plan.features:
        raise PlanError(f"no usable feature in {prof.path}: "
                        + "; ".join(f"{k}: {v}" for k, v in plan.dropped.items()))
    plan.gate = _gate(task, col)
    plan.metrics = {"binary": ["auc"], "multiclass": [], "regression": ["rmse"]}[task]
    return plan
