"""A non-editable install of tfxkit carries the dashboard's templates, script and styles:
every file under infra/ui/templates and infra/ui/static matches setup.py's package_data
for tfxkit.infra.ui."""
import ast
import fnmatch
from pathlib import Path

ROOT = Path(__file__).resolve().parents[4]


def _package_data():
    tree = ast.parse((ROOT / "setup.py").read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.keyword) and node.arg == "package_data":
            return ast.literal_eval(node.value)
    raise AssertionError("setup.py has no package_data")


def test_templates_and_static_files_are_packaged():
    patterns = _package_data()["tfxkit.infra.ui"]
    ui = ROOT / "infra" / "ui"
    files = [p.relative_to(ui).as_posix() for d in ("templates", "static")
             for p in (ui / d).rglob("*") if p.is_file()]
    assert any(f.endswith(".html") for f in files) and "static/ui.js" in files
    missing = [f for f in files if not any(fnmatch.fnmatch(f, pat) for pat in patterns)]
    assert not missing, f"not in setup.py's package_data for tfxkit.infra.ui: {missing}"
