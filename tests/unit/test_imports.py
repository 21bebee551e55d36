"""Import hygiene, from the source: no component reaches into another component's private
names, and importing tfxkit's modules does nothing to the process."""
import ast
import os
import pathlib
from typing import List, Optional

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
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
     "tfxkit.infra.online", 1),
    ("from tfxkit.components.batch_inference import _fastlog",
     "tfxkit.components.common.records", 1),
    ("from tfxkit.components.batch_inference._fastlog import parse_records",
     "tfxkit.components.prediction_store.executor", 1),
    ("import tfxkit.components.batch_inference._fastlog",
     "tfxkit.pipelines.factory", 1),
    ("from tfxkit.components.batch_inference import infer\ninfer._fastlog.crc32c(b'')",
     "tfxkit.infra.report.gather", 1),
    ("from ..batch_inference.infer import _varint",
     "tfxkit.components.prediction_store.executor", 1),
    # allowed: public names, a component's own private names, dunders
    ("from tfxkit.components.common.records import varint, iter_records",
     "tfxkit.infra.online", 0),
    ("from tfxkit.components.common import _fastlog", "tfxkit.components.common.records", 0),
    ("from . import _fastlog", "tfxkit.components.common.records", 0),
    ("from tfxkit.components.registry import __name__ as n", "tfxkit.infra.cli", 0),
])
def test_the_scan_finds_private_imports(source, module, expected):
    """The scan can fail: each of these imports is (or is not) reported."""
    assert len(private_imports(source, module)) == expected
