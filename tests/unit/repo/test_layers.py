"""The import contract, from the source (issue 15): components <- pipelines <- infra, and
inside infra/ the subpackages depend only as drawn here (the CLI on top; nothing imports
the CLI). Every import counts, module level or inside a function."""
import ast
from typing import List

import pytest

from tests.unit.repo.test_imports import ROOT, _module_name, _sources

# what each layer / infra subpackage may import of tfxkit's others (itself always)
ALLOWED = {
    "components": set(),
    "pipelines": {"components"},
    # alerts rest on pipelines alone; run, serving, cli (and monitoring) may import them
    "infra.alerts": {"pipelines", "components"},
    "infra.run": {"pipelines", "components", "infra.alerts"},
    "infra.deploy": {"pipelines", "components"},
    "infra.canary": {"pipelines", "components"},
    "infra.airflow": {"pipelines", "components"},
    "infra.metadata": {"pipelines", "components", "infra.run"},
    "infra.serving": {"pipelines", "components", "infra.canary", "infra.alerts"},
    "infra.monitoring": {"pipelines", "components", "infra.alerts", "infra.serving"},
    # tfxkit ui's dashboard reads what the report, lineage and canary read (issue 21)
    "infra.ui": {"pipelines", "components", "infra.run", "infra.metadata", "infra.canary"},
    "infra.cli": {"pipelines", "components", "infra.run", "infra.deploy", "infra.canary",
                  "infra.metadata", "infra.serving", "infra.alerts", "infra.monitoring",
                  "infra.ui"},
}


def group(module: str):
    """The layer (``components``, ``pipelines``) or infra subpackage (``infra.run``) of a
    tfxkit module; None outside tfxkit's three packages."""
    parts = module.split(".")
    if parts[:2] == ["tfxkit", "infra"]:
        return "infra." + parts[2] if len(parts) > 2 else "infra"
    if parts[:2] in (["tfxkit", "pipelines"], ["tfxkit", "components"]):
        return parts[1]
    return None


def violations(source: str, module: str, is_package: bool = False) -> List[str]:
    own = group(module)
    here = module.split(".") if is_package else module.split(".")[:-1]
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(here[:len(here) - node.level + 1] + ([base] if base else []))
            targets = [base] + [f"{base}.{a.name}" for a in node.names]
        elif isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        else:
            continue
        for target in targets:
            other = group(target)
            if other and other != own and other not in ALLOWED.get(own, set()):
                found.append(f"{module}:{node.lineno}: {own} imports {target} ({other})")
                break
    return found


def test_every_module_keeps_to_the_contract():
    problems, groups = [], set()
    for path in _sources():
        if "dags" in path.parts:  # Airflow's DAG file, loaded by Airflow from its folder
            continue
        module = _module_name(path)
        groups.add(group(module))
        problems += violations(path.read_text(), module, path.name == "__init__.py")
    assert not problems, "\n".join(problems)
    # every infra subpackage has its line in ALLOWED (a new one must be placed)
    assert groups - {"infra"} <= set(ALLOWED), groups - set(ALLOWED)


@pytest.mark.parametrize("source, module, bad", [
    ("from tfxkit.pipelines import config", "tfxkit.components.registry.push", True),
    ("import tfxkit.infra.cli", "tfxkit.pipelines.factory", True),
    ("def f():\n    from tfxkit.infra.serving import app", "tfxkit.pipelines.run_fn", True),
    ("from tfxkit.infra.cli import main", "tfxkit.infra.serving.app", True),
    ("from tfxkit.infra.serving.app import create_app", "tfxkit.infra.run.local_runner", True),
    ("from ..serving import app", "tfxkit.infra.run.local_runner", True),
    ("from tfxkit.components.common import records", "tfxkit.pipelines.inference", False),
    ("from tfxkit.infra.canary.policy import x", "tfxkit.infra.serving.app", False),
    ("from . import summary", "tfxkit.infra.run.local_runner", False),
    ("from tfxkit.infra.alerts import fire", "tfxkit.infra.serving.service_config", False),
    ("from tfxkit.infra.serving import app", "tfxkit.infra.alerts.send", True),
    ("from tfxkit.infra.run.summary import x", "tfxkit.infra.metadata.lineage", False),
])
def test_the_scan_finds_what_breaks_the_contract(source, module, bad):
    assert bool(violations(source, module)) == bad, violations(source, module)
