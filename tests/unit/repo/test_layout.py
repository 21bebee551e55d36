"""Tests mirror the package (issue 15): ``tests/unit/a/b/test_c.py`` (and
``tests/integration/a/b/test_c.py``) tests ``a/b/c.py`` (or the package ``a/b/c/``);
``test_c_<topic>.py`` is a second file of c's tests on one topic (test_store_faults.py
beside test_store.py). Tests of the repository as a whole (the import contract, the suite's
own guards, the Makefile's stacks, the Dockerfile, the services, the benchmark harness)
live in tests/unit/repo/, which mirrors nothing. Every test folder mirrors a package folder
and holds an empty ``__init__.py`` (pytest runs with --import-mode=importlib; the folders
make each test module's name unique: tests.unit.components.registry.test_registry).

And every module with logic (more than 40 lines of code: not blank, not a comment, not a
docstring; the component.py specs, ``__init__`` and ``__main__`` aside) has a test file at
its mirrored path, in tests/unit or, where it needs processes of its own (Airflow, a
server), tests/integration, or is named in NO_MIRRORED_TEST below with why."""
import ast
import io
import tokenize
from pathlib import Path
from typing import List, Optional

import pytest

ROOT = Path(__file__).resolve().parents[3]
TIERS = ("tests/unit", "tests/integration")
PACKAGES = ("components", "pipelines", "infra", "tfxkit")
REPO_LEVEL = "tests/unit/repo"
MIN_LINES = 40
NOT_LOGIC = {"component.py", "__init__.py", "__main__.py"}


def code_lines(source: str) -> int:
    """Lines holding code: not blank, not only a comment, not a docstring."""
    docs = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            first = node.body[0] if node.body else None
            if (isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant)
                    and isinstance(first.value.value, str)):
                docs.update(range(first.lineno, first.end_lineno + 1))
    lines = set()
    skip = {tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT,
            tokenize.ENDMARKER}
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.type not in skip:
            lines.update(ln for ln in range(tok.start[0], tok.end[0] + 1) if ln not in docs)
    return len(lines)


def mirrored(test: str, root: Path = ROOT) -> Optional[str]:
    """The module (``a/b/c.py``) or package (``a/b/c/``) that ``tests/<tier>/a/b/test_c.py``
    mirrors, or None. ``test_c_<topic>.py`` (a second file of c's tests, on one topic)
    mirrors c too."""
    parts = Path(test).parts
    tier, rel = "/".join(parts[:2]), parts[2:]
    if tier not in TIERS or len(rel) < 2 or rel[0] not in PACKAGES:
        return None
    stem = Path(rel[-1]).stem
    if not stem.startswith("test_"):
        return None
    folder = Path(*rel[:-1])
    words = stem[len("test_"):].split("_")
    for n in range(len(words), 0, -1):  # test_c_d.py: c_d first, then c (topic d)
        name = "_".join(words[:n])
        if (root / folder / f"{name}.py").is_file():
            return f"{folder / name}.py"
        if (root / folder / name / "__init__.py").is_file():
            return f"{folder / name}/"
    return None


def all_test_files(root: Path = ROOT) -> List[str]:
    return sorted(str(p.relative_to(root)) for t in TIERS for p in (root / t).rglob("test_*.py"))


def modules_with_logic(root: Path = ROOT) -> List[str]:
    out = []
    for pkg in PACKAGES:
        for p in sorted((root / pkg).rglob("*.py")):
            if p.name not in NOT_LOGIC and code_lines(p.read_text()) > MIN_LINES:
                out.append(str(p.relative_to(root)))
    return out


def mirror_tests_of(module: str, tests: List[str], root: Path = ROOT) -> List[str]:
    return [t for t in tests if mirrored(t, root) == module]


# Modules with logic and no test file at their mirrored path today, each with where it is
# tested now. Keep it short: a module tested by a file named for another one is better
# served by moving those tests to its mirrored path than by a line here; a line goes when
# its test file arrives (test_the_allow_list_names_only_modules_it_must fails until then).
NO_MIRRORED_TEST = {
    # -- tested through the module that calls them
    "components/serving_check/probe.py": "the model's process of check.validate: "
                                           "tests/unit/components/serving_check/test_check.py",
    "infra/airflow/operator.py": "needs Airflow: tests/integration/infra/airflow/test_dag_factory.py",
}


def test_every_test_file_mirrors_a_module():
    bad = [t for t in all_test_files() if not t.startswith(REPO_LEVEL + "/") and mirrored(t) is None]
    assert not bad, ("tests/<tier>/a/b/test_c.py tests a/b/c.py or the package a/b/c/; "
                     "these mirror nothing:\n" + "\n".join(bad))


def test_every_test_folder_mirrors_a_package_folder_and_has_an_empty_init():
    bad = []
    for tier in TIERS:
        for folder in sorted(p for p in (ROOT / tier).rglob("*")
                             if p.is_dir() and p.name != "__pycache__"):
            rel = folder.relative_to(ROOT / tier)
            init = folder / "__init__.py"
            if not init.is_file() or init.read_text():
                bad.append(f"{folder.relative_to(ROOT)}: no empty __init__.py")
            if f"{tier}/{rel}" != REPO_LEVEL and (rel.parts[0] not in PACKAGES
                                                   or not (ROOT / rel).is_dir()):
                bad.append(f"{folder.relative_to(ROOT)}: {rel} is no package folder")
        flat = sorted(p.name for p in (ROOT / tier).glob("test_*.py"))
        if flat:
            bad.append(f"{tier}: test files outside a package folder: {flat}")
    assert not bad, "\n".join(bad)


def test_every_module_with_logic_has_a_mirrored_test():
    tests = all_test_files()
    missing = [m for m in modules_with_logic()
               if m not in NO_MIRRORED_TEST and not mirror_tests_of(m, tests)]
    assert not missing, ("modules with logic and no test file at their mirrored path "
                         "(tests/unit/a/b/test_c.py for a/b/c.py):\n" + "\n".join(missing))


def test_the_allow_list_names_only_modules_it_must():
    """A line of NO_MIRRORED_TEST goes when its module gets a mirrored test, is split below
    the threshold, or is gone; the test files it names exist."""
    tests = all_test_files()
    logic = set(modules_with_logic())
    stale = [f"{m}: " + ("has " + ", ".join(mirror_tests_of(m, tests)) if mirror_tests_of(m, tests)
                         else "no module with logic there")
             for m in NO_MIRRORED_TEST if m not in logic or mirror_tests_of(m, tests)]
    named = [w.rstrip(",;") for why in NO_MIRRORED_TEST.values() for w in why.split()
             if w.startswith("tests/")]
    stale += [f"{w}: no such file" for w in named
              if not (ROOT / w.rstrip(")").lstrip("(")).exists()]
    assert not stale, "\n".join(stale)


@pytest.mark.parametrize("test, module", [
    ("tests/unit/components/registry/test_registry.py", "components/registry/registry.py"),
    ("tests/unit/components/registry/test_registry_faults.py",
     "components/registry/registry.py"),
    ("tests/unit/pipelines/config/test_loader.py", "pipelines/config/loader.py"),
    ("tests/integration/infra/airflow/test_dag_factory.py", "infra/airflow/dag_factory.py"),
    ("tests/unit/infra/test_cli.py", "infra/cli/"),  # a package's own tests
    ("tests/unit/components/registry/test_nothing.py", None),
    ("tests/unit/components/nothing/test_registry.py", None),
    ("tests/unit/test_registry.py", None),  # flat: no package folder
    ("tests/unit/repo/test_layers.py", None),
    ("tests/e2e/test_report.py", None),
    ("tests/unit/components/registry/registry_helpers.py", None),
])
def test_the_mirror_rule(test, module):
    assert mirrored(test) == module


def test_code_lines_count_code_only():
    src = '"""Doc\nstring."""\n# a comment\n\nimport os\n\n\ndef f(x):\n' \
          '    """Doc."""\n    return (x +\n            1)  # two lines of code\n'
    assert code_lines(src) == 4  # import, def, and the return over two lines
