"""HyperparametersGen's plain functions: validate the fixed values and the search space,
choose one candidate deterministically, and write / read the artifact in the Tuner's layout.

The artifact is what TFX's Tuner writes: one file, ``best_hyperparameters.txt``, holding
KerasTuner's ``HyperParameters.get_config()`` as JSON (``{"space": [...], "values": {...}}``).
The stock Trainer reads the only file of the artifact's folder and hands the decoded dict to
``run_fn`` as ``fn_args.hyperparameters``; ``keras_tuner.HyperParameters.from_config`` reads
it back. A list value (``hidden_units: [32, 16]``) has no KerasTuner type: it is kept in
``values`` only (``from_config`` and ``hp.get`` return it as it is), scalars get a ``Fixed``
entry in ``space`` and searched scalars a ``Choice``.

Without a scoring function a search picks by ``strategy``: ``first`` (every key's first
choice) or ``random`` (one candidate of the grid, drawn with ``seed``). Real tuning, training
``trials`` candidates and keeping the best, is issue 20; ``choose`` takes the ``score``
function it will pass.
"""
from __future__ import annotations

import itertools
import json
import math
import os
import random
from typing import Any, Callable, Dict, List, Optional, Sequence

FILE_NAME = "best_hyperparameters.txt"  # tfx/components/tuner/executor.py's name
STRATEGIES = ("first", "random")
MAX_GRID = 10_000

Scalar = (bool, int, float, str)
# keys the model section knows: the checks a value of that name must pass
_POSITIVE_INT = ("epochs", "batch_size", "steps", "embedding_dim")
LIST_KEYS = ("hidden_units",)  # list values of the model section


class HyperparametersError(ValueError):
    """A value or search space that cannot be used, its key named."""


def _check_value(key: str, v: Any, where: str) -> None:
    name = f"{where}.{key}"
    if isinstance(v, float) and not math.isfinite(v):
        raise HyperparametersError(f"{name}: must be a finite number, got {v!r}")
    if isinstance(v, list):
        if not v:
            raise HyperparametersError(f"{name}: an empty list")
        for x in v:
            if not isinstance(x, Scalar) or isinstance(x, float) and not math.isfinite(x):
                raise HyperparametersError(
                    f"{name}: a list holds numbers, strings or booleans, got {x!r}")
    elif v is None or not isinstance(v, Scalar):
        raise HyperparametersError(f"{name}: must be a number, string, boolean or a list of "
                                   f"them, got {type(v).__name__} {v!r}")
    isnum = isinstance(v, (int, float)) and not isinstance(v, bool)
    isint = isinstance(v, int) and not isinstance(v, bool)
    if key == "learning_rate" and not (isnum and v > 0):
        raise HyperparametersError(f"{name}: must be a number > 0, got {v!r}")
    if key == "dropout" and not (isnum and 0 <= v < 1):
        raise HyperparametersError(f"{name}: must be a number in [0, 1), got {v!r}")
    if key in _POSITIVE_INT and not (isint and v >= 1):
        raise HyperparametersError(f"{name}: must be an integer >= 1, got {v!r}")
    if key == "hidden_units" and not (isinstance(v, list) and all(
            isinstance(x, int) and not isinstance(x, bool) and x >= 1 for x in v)):
        raise HyperparametersError(
            f"{name}: must be a list of integers >= 1 (units per layer), got {v!r}")


def _check_key(key: Any, where: str) -> None:
    if not isinstance(key, str) or not key.isidentifier():
        raise HyperparametersError(f"{where}: key {key!r} is not a name (letters, digits, _)")


def validate(values: Any, where: str = "hyperparameters") -> Dict[str, Any]:
    """``values`` checked (a dict of names to numbers, strings, booleans or lists of them;
    known names held to the model section's rules) and returned as a new dict."""
    if not isinstance(values, dict):
        raise HyperparametersError(f"{where}: must be a mapping of names to values, "
                                   f"got {type(values).__name__}")
    for k, v in values.items():
        _check_key(k, where)
        _check_value(k, v, where)
    return dict(values)


def validate_search(search: Any, fixed: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
    """``search`` checked and completed: ``{"space": {name: [choices]}, "strategy":
    "first"|"random", "trials": n, "seed": s}`` (defaults: first, 1 trial, seed 0). Every
    choice is checked as a value of its name; a name may not be both fixed and searched."""
    if not isinstance(search, dict):
        raise HyperparametersError(f"search: must be a mapping, got {type(search).__name__}")
    unknown = sorted(set(search) - {"space", "strategy", "trials", "seed"})
    if unknown:
        raise HyperparametersError(f"search: unknown key(s) {', '.join(unknown)} "
                                   "(space, strategy, trials, seed)")
    space = search.get("space")
    if not isinstance(space, dict) or not space:
        raise HyperparametersError("search.space: must be a non-empty mapping of names to "
                                   "lists of choices")
    for k, choices in space.items():
        _check_key(k, "search.space")
        if not isinstance(choices, list) or not choices:
            raise HyperparametersError(f"search.space.{k}: must be a non-empty list of "
                                       f"choices, got {choices!r}")
        for c in choices:
            _check_value(k, c, "search.space")
        if k in (fixed or {}):
            raise HyperparametersError(f"search.space.{k}: also fixed in hyperparameters; "
                                       "give it in one of them")
    strategy = search.get("strategy", "first")
    if strategy not in STRATEGIES:
        raise HyperparametersError(f"search.strategy: one of {', '.join(STRATEGIES)}, "
                                   f"got {strategy!r}")
    out = {"space": {k: list(v) for k, v in space.items()}, "strategy": strategy}
    for key, default, low in (("trials", 1, 1), ("seed", 0, 0)):
        v = search.get(key, default)
        if not isinstance(v, int) or isinstance(v, bool) or v < low:
            raise HyperparametersError(f"search.{key}: must be an integer >= {low}, got {v!r}")
        out[key] = v
    size = math.prod(len(c) for c in out["space"].values())
    if size > MAX_GRID:
        raise HyperparametersError(f"search.space: {size} combinations, at most {MAX_GRID}")
    return out


def candidates(search: Dict[str, Any]) -> List[Dict[str, Any]]:
    """The candidates a (validated) search tries: the whole grid in order for ``first``
    (capped at ``trials``), ``trials`` distinct grid points drawn with ``seed`` for
    ``random``; the same list for the same search, every time."""
    names = list(search["space"])
    grid = [dict(zip(names, combo))
            for combo in itertools.product(*(search["space"][n] for n in names))]
    n = min(search["trials"], len(grid))
    if search["strategy"] == "random":
        return random.Random(search["seed"]).sample(grid, n)
    return grid[:n]


def choose(fixed: Dict[str, Any], search: Optional[Dict[str, Any]] = None,
           score: Optional[Callable[[Dict[str, Any]], float]] = None) -> Dict[str, Any]:
    """The hyperparameters to train with: ``fixed``, plus the search's pick. Without
    ``score`` (today) the pick is the first candidate (``first``: every key's first choice;
    ``random``: a seeded draw); with one (issue 20's tuner) the highest-scoring, earlier
    candidates winning ties."""
    values = validate(fixed)
    if not search:
        return values
    search = validate_search(search, values)
    cands = candidates(search)
    if score is None:
        pick = cands[0]
    else:
        scores = [float(score(dict(values, **c))) for c in cands]
        pick = cands[max(range(len(cands)), key=lambda i: (scores[i], -i))]
    return dict(values, **pick)


def chosen_by(search: Optional[Dict[str, Any]]) -> str:
    """How the values were chosen, for the artifact: ``config`` or ``search/<strategy>``."""
    return "config" if not search else f"search/{search.get('strategy', 'first')}"


def keras_tuner_config(values: Dict[str, Any],
                       space: Optional[Dict[str, Sequence[Any]]] = None) -> Dict[str, Any]:
    """``values`` as KerasTuner's ``HyperParameters.get_config()``: a ``Fixed`` entry per
    scalar, a ``Choice`` (default the chosen value) per searched scalar whose choices share a
    type, nothing in ``space`` for lists (``values`` holds them)."""
    entries = []
    for k, v in values.items():
        if isinstance(v, list):
            continue
        choices = list((space or {}).get(k) or [])
        if len(choices) > 1 and len({type(c) for c in choices}) == 1:
            entries.append({"class_name": "Choice", "config": {
                "name": k, "default": v, "conditions": [], "values": choices,
                "ordered": not isinstance(v, (str, bool))}})
        else:
            entries.append({"class_name": "Fixed", "config": {
                "name": k, "conditions": [], "value": v}})
    return {"space": entries, "values": dict(values)}


def values_of(config: Optional[Dict[str, Any]]) -> Dict[str, Any]:
    """The values of ``fn_args.hyperparameters``: a KerasTuner config's ``values`` (what the
    Tuner and HyperparametersGen write), or a plain dict as it is; {} for None."""
    if not config:
        return {}
    if isinstance(config.get("values"), dict) and "space" in config:
        config = config["values"]
    return {k: _decoded(k, v) for k, v in config.items()}


def _decoded(key: str, v: Any) -> Any:
    """A list value KerasTuner held as a JSON string (the Tuner's ``hidden_units`` choice,
    ``"[16, 8]"``) back as the list; anything else as it is."""
    if key in LIST_KEYS and isinstance(v, str) and v.startswith("["):
        try:
            out = json.loads(v)
        except ValueError:
            return v
        return out if isinstance(out, list) else v
    return v


def write(uri: str, values: Dict[str, Any],
          space: Optional[Dict[str, Sequence[Any]]] = None) -> str:
    """Writes ``values`` into the artifact folder ``uri`` as the Tuner does (the folder's
    only file, ``best_hyperparameters.txt``); returns the file's path. Through TFX's fileio:
    on Kubeflow / Vertex the folder is remote (gs://)."""
    from tfx.dsl.io import fileio

    fileio.makedirs(uri)
    path = os.path.join(uri, FILE_NAME)
    with fileio.open(path, "w") as f:
        f.write(json.dumps(keras_tuner_config(values, space), sort_keys=True))
    return path


def read(uri: str) -> Dict[str, Any]:
    """The values in the artifact folder ``uri`` (the Tuner's or ours)."""
    from tfx.dsl.io import fileio

    with fileio.open(os.path.join(uri, FILE_NAME)) as f:
        return values_of(json.loads(f.read()))
