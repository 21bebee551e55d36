"""Copies a template into a new use case (``tfxkit new NAME --template T``), cleaned of the
template's identity: its name wherever it names the use case (pipeline name, gs:// paths,
image names), its MySQL database name, and its header comment. Built beside the
destination and renamed into place, so a failure leaves nothing half-written."""
from __future__ import annotations

import os
import re
import shutil
import tempfile
from pathlib import Path

import yaml

_IGNORE = shutil.ignore_patterns("__pycache__", ".tfxkit", "models", "*.pyc")


def database_name(name: str) -> str:
    """The MySQL database a use case's metadata profile names: tfxkit_ plus its name."""
    return "tfxkit_" + re.sub(r"\W", "_", name)


def clean_config(text: str, name: str, template: str) -> str:
    """The template's config.yaml text as use case ``name``'s."""
    cfg = yaml.safe_load(text)
    old = cfg["name"]
    lines = text.splitlines()
    first = next(i for i, line in enumerate(lines) if line.strip() and not line.startswith("#"))
    header = [f"# {name} ({cfg['task']}): made from the {template} template, with the "
              "template's sample data in data/.",
              "# Point data.source at your data and edit the features; run "
              "`tfxkit run config.yaml`."]
    body = "\n".join(lines[first:]) + ("\n" if text.endswith("\n") else "")
    body = re.sub(rf"(?<![\w-]){re.escape(old)}(?![\w-])", name, body)
    body = re.sub(r"(?m)^(\s*database:\s*)tfxkit_\w+|(\bdatabase:\s*)tfxkit_\w+",
                  lambda m: (m.group(1) or m.group(2)) + database_name(name), body)
    return "\n".join(header) + "\n" + body


def copy_template(template_dir: Path, dest: Path, name: str) -> Path:
    """Copies ``template_dir`` to ``dest`` (which must not exist) as use case ``name``."""
    dest = Path(dest)
    if dest.exists():
        raise FileExistsError(f"{dest} already exists; nothing was changed")
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{name}.", dir=dest.parent))
    try:
        copy = tmp / "case"
        shutil.copytree(template_dir, copy, ignore=_IGNORE)
        cfg = copy / "config.yaml"
        cfg.write_text(clean_config(cfg.read_text(), name, Path(template_dir).name))
        readme = copy / "README.md"
        if readme.is_file():
            lines = readme.read_text().splitlines(keepends=True)
            if lines and lines[0].startswith("# "):
                title = lines[0][2:].strip()
                lines[0] = f"# {name}, from the {Path(template_dir).name} template ({title})\n"
            readme.write_text("".join(lines))
        os.rename(copy, dest)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return dest
