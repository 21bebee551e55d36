"""The test tiers (issue 15): tests/unit starts no process of its own that outlives a call
(no Popen, no asyncio subprocess, no spawn), no Airflow, no redis-server, no uvicorn, and
uses none of tests/integration's helpers; those tests live in tests/integration, whose
conftest marks every test there ``integration``. Short commands run to completion
(``subprocess.run``: git, make, the ``tfxkit`` CLI) and forked workers of
``multiprocessing`` stay unit, as do connections to the machine's running PostgreSQL,
Redis and MariaDB."""
import ast
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import List

import pytest

ROOT = Path(__file__).resolve().parents[3]
UNIT = ROOT / "tests" / "unit"
INTEGRATION = ROOT / "tests" / "integration"

# calls that leave a process running past the call
STARTS = {"Popen", "create_subprocess_exec", "create_subprocess_shell", "posix_spawn",
          "posix_spawnp", "spawnl", "spawnle", "spawnlp", "spawnlpe", "spawnv", "spawnve",
          "spawnvp", "spawnvpe"}
# modules whose import means a server or Airflow in this process or a child
MODULES = {"airflow", "uvicorn", "tests.airflow_env", "tests.integration"}
# executables an argv list or a shell line starts with: the name alone or a path ending in it
EXECUTABLES = {"redis-server", "airflow", "uvicorn"}
# calls that run a command line
SHELL = {"run", "call", "check_call", "check_output", "system", "popen", "getoutput",
         "getstatusoutput"} | STARTS


def _name(func: ast.expr):
    return func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)


def starts_processes(source: str) -> List[str]:
    """What in ``source`` starts a process of its own, a server or Airflow: one line each."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call):
            if _name(node.func) in STARTS:
                found.append(f"line {node.lineno}: {_name(node.func)}()")
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] + [f"{node.module}.{a.name}" for a in node.names])
            for n in names:
                if any(n == m or n.startswith(m + ".") for m in MODULES):
                    found.append(f"line {node.lineno}: import {n}")
                    break
        if isinstance(node, ast.List) and node.elts:  # an argv: [executable, args...]
            first = node.elts[0]
        elif isinstance(node, ast.Call) and node.args and _name(node.func) in SHELL:
            first = node.args[0]  # a shell line: run("cmd args")
        else:
            continue
        if isinstance(first, ast.Constant) and isinstance(first.value, str):
            word = (first.value.split() or [""])[0]
            if any(word == e or word.endswith("/" + e) for e in EXECUTABLES):
                found.append(f"line {first.lineno}: runs {word}")
    return found


def test_unit_tests_start_no_server_airflow_or_process_of_their_own():
    bad = []
    for path in sorted(UNIT.rglob("*.py")):
        for what in starts_processes(path.read_text()):
            bad.append(f"{path.relative_to(ROOT)} {what}")
    assert not bad, ("tests that start processes, servers or Airflow belong in "
                     "tests/integration (mirroring the package):\n" + "\n".join(bad))


@pytest.mark.parametrize("source, expected", [
    ("import subprocess\np = subprocess.Popen(['x'])\n", ["line 2: Popen()"]),
    ("from subprocess import Popen\nPopen(['x'])\n", ["line 2: Popen()"]),
    ("import asyncio\nasyncio.create_subprocess_exec('x')\n",
     ["line 2: create_subprocess_exec()"]),
    ("import os\nos.posix_spawn('x', ['x'], {})\n", ["line 2: posix_spawn()"]),
    ("from tests.airflow_env import airflow\n", ["line 1: import tests.airflow_env"]),
    ("from airflow.sdk import DAG\n", ["line 1: import airflow.sdk"]),
    ("import uvicorn\n", ["line 1: import uvicorn"]),
    ("from tests.integration import stale_runs_pipeline\n",
     ["line 1: import tests.integration"]),
    ("from tests import integration\n", ["line 1: import tests.integration"]),
    ("cmd = ['/usr/bin/redis-server', '--port', '1']\n", ["line 1: runs /usr/bin/redis-server"]),
    ("run('airflow dags test x')\n", ["line 1: runs airflow"]),
    ("subprocess.run(['airflow', 'db', 'migrate'])\n", ["line 1: runs airflow"]),
    # what stays unit: short commands, forked workers, names in messages and tables
    ("import subprocess\nsubprocess.run(['git', 'init'], check=True)\n", []),
    ("import multiprocessing\nmultiprocessing.get_context('fork').Process(target=f)\n", []),
    ("x = {'tfxkit.infra.airflow.dag_factory': ('airflow', 'Airflow lives apart')}\n", []),
    ("from tfxkit.infra.airflow import operator\n", []),
    ("msg = 'a redis-server of its own'\n", []),
    ("raise AssertionError('redis-server did not start')\n", []),
    ("import os\nos.system('redis-server --port 1 &')\n", ["line 2: runs redis-server"]),
])
def test_the_scan_finds_what_starts_a_process(source, expected):
    assert starts_processes(source) == expected


def test_every_integration_test_is_marked_integration():
    """tests/integration's conftest marks what it collects: with ``-m "not integration"``
    a file there is deselected whole. (The hook goes by folder; the check collects the
    Airflow tests, the quickest to import, to keep the unit tier quick.)"""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTEST_ADDOPTS", "PYTEST_XDIST_WORKER")}
    r = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q",
                        "-p", "no:cacheprovider", "-p", "no:xdist", "-m", "not integration",
                        str(INTEGRATION / "infra" / "airflow" / "test_dag_factory.py")], cwd=ROOT, env=env, capture_output=True, text=True,
                       timeout=300)
    out = r.stdout + r.stderr
    selected = [ln for ln in r.stdout.splitlines() if "::" in ln]
    deselected = re.search(r"(\d+) deselected", out)
    assert r.returncode == 5, out[-3000:]  # 5: no tests collected (none selected)
    assert not selected and deselected and int(deselected.group(1)) > 0, out[-3000:]
