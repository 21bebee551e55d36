"""Import hygiene, from the source: no component reaches into another component's private
names, and importing tfxkit's modules does nothing to the process."""
import ast
import os
import pathlib
from typing import List, Optional

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[3]
PACKAGES = {"components": "tfxkit.components", "pipelines": "tfxkit.pipelines",
            "infra": "tfxkit.infra"}


def _module_name(path: pathlib.Path) -> str:
    rel = path.relative_to(ROOT).with_suffix("")
    parts = list(rel.parts)
    parts[0] = PACKAGES[parts[0]]
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _component_of(module: str) -> Optional[str]:
    """``tfxkit.components.<x>`` of a module inside component package x, else None."""
    parts = module.split(".")
    if parts[:2] == ["tfxkit", "components"] and len(parts) > 2:
        return ".".join(parts[:3])
    return None


def _private(parts: List[str]) -> Optional[str]:
    return next((p for p in parts if p.startswith("_") and not p.startswith("__")), None)


def private_imports(source: str, module: str, is_package: bool = False) -> List[str]:
    """``module``'s imports of underscore names (or underscore modules) of a component
    package other than its own, and its uses of ``alias._name`` where ``alias`` is a
    module of another component it imported: one line each."""
    own = _component_of(module)
    here = module.split(".") if is_package else module.split(".")[:-1]
    problems = []
    foreign_aliases = {}
    tree = ast.parse(source)
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(here[:len(here) - node.level + 1] + ([base] if base else []))
            comp = _component_of(base)
            if comp is None or comp == own:
                continue
            sub = base.split(".")[3:]
            for alias in node.names:
                bad = _private(sub + [alias.name])
                if bad:
                    problems.append(f"{module}:{node.lineno}: from {base} import {alias.name}")
                else:
                    foreign_aliases[alias.asname or alias.name] = f"{base}.{alias.name}"
        elif isinstance(node, ast.Import):
            for alias in node.names:
                comp = _component_of(alias.name)
                if comp is None or comp == own:
                    continue
                if _private(alias.name.split(".")[3:]):
                    problems.append(f"{module}:{node.lineno}: import {alias.name}")
                elif alias.asname:
                    foreign_aliases[alias.asname] = alias.name
    for node in ast.walk(tree):
        if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
                and node.value.id in foreign_aliases and _private([node.attr])):
            problems.append(f"{module}:{node.lineno}: {node.value.id}.{node.attr} "
                            f"({foreign_aliases[node.value.id]})")
    return problems


def _sources():
    for folder in PACKAGES:
        for path in sorted((ROOT / folder).rglob("*.py")):
            if any(p.startswith(".") or p == "__pycache__" for p in path.parts):
                continue
            yield path


def test_no_module_imports_another_components_private_names():
    problems = []
    files = 0
    for path in _sources():
        files += 1
        problems += private_imports(path.read_text(), _module_name(path),
                                    path.name == "__init__.py")
    assert files > 50  # the scan saw the source tree
    assert not problems, "private names of another component:\n" + "\n".join(problems)


@pytest.mark.parametrize("source, module, expected", [
    ("from tfxkit.components.batch_inference.infer import _varint",
     "tfxkit.infra.serving.examples", 1),
    ("from tfxkit.components.batch_inference import _fastlog",
     "tfxkit.components.common.records", 1),
    ("from tfxkit.components.batch_inference._fastlog import parse_records",
     "tfxkit.components.prediction_store.executor", 1),
    ("import tfxkit.components.batch_inference._fastlog",
     "tfxkit.pipelines.factory", 1),
    ("from tfxkit.components.batch_inference import infer\ninfer._fastlog.crc32c(b'')",
     "tfxkit.infra.metadata.report.gather", 1),
    ("from ..batch_inference.infer import _varint",
     "tfxkit.components.prediction_store.executor", 1),
    # allowed: public names, a component's own private names, dunders
    ("from tfxkit.components.common.records import varint, iter_records",
     "tfxkit.infra.serving.examples", 0),
    ("from tfxkit.components.common import _fastlog", "tfxkit.components.common.records", 0),
    ("from . import _fastlog", "tfxkit.components.common.records", 0),
    ("from tfxkit.components.registry import __name__ as n", "tfxkit.infra.cli", 0),
])
def test_the_scan_finds_private_imports(source, module, expected):
    """The scan can fail: each of these imports is (or is not) reported."""
    assert len(private_imports(source, module)) == expected


# Modules that need an optional dependency this environment may not have; each is skipped
# only when importing it fails for that dependency (anything else is a failure).
OPTIONAL = {
    "tfxkit.infra.airflow.dag_factory": ("airflow", "Airflow lives in its own environment "
                                         "(.venv-airflow), never beside TFX"),
    "tfxkit.infra.airflow.operator": ("airflow", "Airflow lives in its own environment "
                                      "(.venv-airflow), never beside TFX"),
}

IMPORT_ALL = r'''
import importlib, json, os, pkgutil, sys

root, optional = sys.argv[1], json.loads(sys.argv[2])
ours = tuple(os.path.join(root, d) + os.sep
             for d in ("tfxkit", "components", "pipelines", "infra"))
writes = []


def writer():
    """The file of the code that wrote (past os.environ's own methods: setdefault, update)."""
    f = sys._getframe(2)
    while f is not None and f.f_globals.get("__name__") in ("os", "_collections_abc"):
        f = f.f_back
    return f.f_code.co_filename if f is not None else "?"


Env = type(os.environ)
set_item, del_item = Env.__setitem__, Env.__delitem__


def audited_set(self, key, value):
    writes.append((key, writer()))
    set_item(self, key, value)


def audited_del(self, key):
    writes.append((key, writer()))
    del_item(self, key)


Env.__setitem__, Env.__delitem__ = audited_set, audited_del
before = dict(os.environ)
from tensorflow_model_analysis.evaluators import metrics_validator
original = metrics_validator._hashed_slicing_details

names, skipped, failed = [], {}, {}
for pkg in ("tfxkit.components", "tfxkit.pipelines", "tfxkit.infra"):
    names.append(pkg)
    names += [m.name for m in pkgutil.walk_packages(importlib.import_module(pkg).__path__,
                                                    pkg + ".")]
for name in names:
    try:
        importlib.import_module(name)
    except ModuleNotFoundError as e:
        if name in optional and (e.name or "").split(".")[0] == optional[name]:
            skipped[name] = str(e)
        else:
            failed[name] = f"{type(e).__name__}: {e}"
    except Exception as e:
        failed[name] = f"{type(e).__name__}: {e}"
after = dict(os.environ)
changed = sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k))
by_us = sorted({(k, w) for k, w in writes if w.startswith(ours)})
by_others = sorted({k for k, w in writes if not w.startswith(ours)})

# the audit can fail: a write from a file of tfxkit's is reported
exec(compile("import os\nos.environ['TFXKIT_IMPORT_AUDIT'] = '1'",
             os.path.join(root, "tfxkit", "__init__.py"), "exec"))
selftest = any(k == "TFXKIT_IMPORT_AUDIT" and w.startswith(ours) for k, w in writes)
print("RESULT " + json.dumps({
    "imported": len(names) - len(skipped) - len(failed), "skipped": skipped,
    "failed": failed, "changed": changed, "by_us": by_us, "by_others": by_others,
    "tfma_original": metrics_validator._hashed_slicing_details is original,
    "selftest": selftest}))
'''


def test_importing_every_module_changes_nothing_in_the_process():
    """In a fresh process without TF_USE_LEGACY_KERAS and TF_CPP_MIN_LOG_LEVEL: importing
    every module of tfxkit.components, .pipelines and .infra writes nothing to os.environ
    (TensorFlow and tf.Transform set some variables of their own when imported: those are
    theirs, and named) and leaves TFMA's function that pipelines/fairness.py replaces
    (only for an Evaluator's run) as TFMA has it."""
    import json
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items()
           if k not in ("TF_USE_LEGACY_KERAS", "TF_CPP_MIN_LOG_LEVEL", "PYTHONWARNINGS")}
    optional = {name: dep for name, (dep, _why) in OPTIONAL.items()}
    p = subprocess.run([sys.executable, "-c", IMPORT_ALL, str(ROOT), json.dumps(optional)],
                       capture_output=True, text=True, env=env, timeout=600, cwd=str(ROOT))
    assert p.returncode == 0, p.stderr[-3000:]
    line = next(x for x in p.stdout.splitlines() if x.startswith("RESULT "))
    r = json.loads(line[len("RESULT "):])
    assert r["selftest"], "the audit did not see a write from tfxkit's own code"
    assert not r["failed"], r["failed"]
    assert r["imported"] > 50, r
    assert set(r["skipped"]) <= set(OPTIONAL), r["skipped"]
    assert r["by_us"] == [], f"tfxkit's modules wrote to os.environ at import: {r['by_us']}"
    # every variable that changed was written by a library (never by tfxkit), and neither
    # of the two the entry points set is set by importing tfxkit
    assert set(r["changed"]) <= set(r["by_others"]), r
    assert "TF_CPP_MIN_LOG_LEVEL" not in r["changed"], r
    assert r["tfma_original"], "importing tfxkit patched TFMA's metrics_validator"
