"""infra/deploy/docker/Dockerfile builds the TFX 1.21 stack (issue 14) from a base image named by
its full version, with the lock the Makefile's tfx121 stack installs, and copies every
package folder tfxkit installs. (infra/deploy/docker/check.sh builds it and runs a template in
it where a Docker engine is at hand; that is not part of make test.)"""
from __future__ import annotations

import ast
import os
import re
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
DOCKERFILE = (REPO / "infra" / "deploy" / "docker" / "Dockerfile").read_text()


def arg_default(name: str) -> str:
    [value] = re.findall(rf"^ARG {name}=(\S+)$", DOCKERFILE, re.M)
    return value


def stack(name: str) -> dict:
    """The stack's defaults, whatever make (make test PYTHON=3.10, say) passed down."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("STACK", "PYTHON", "GLIBC", "MAKEFLAGS", "MFLAGS", "MAKELEVEL")}
    words = subprocess.run(["make", "-s", "--no-print-directory", "print-stack",
                            f"STACK={name}"], cwd=REPO, env=env, capture_output=True,
                           text=True, check=True, timeout=60).stdout.split()
    return dict(zip(words[0:8:2], words[1:8:2]))


def test_the_base_image_is_the_tfx121_stack_named_by_its_full_version():
    base = arg_default("BASE_IMAGE")
    m = re.fullmatch(r"python:(\d+)\.(\d+)\.(\d+)-slim-(\w+)(@sha256:[0-9a-f]{64})?", base)
    assert m, f"BASE_IMAGE={base}: name the full version (python:3.13.N-slim-trixie)"
    python = f"{m[1]}.{m[2]}"
    assert python == stack("tfx121")["python"]
    # Debian 13's glibc is 2.41: TFX 1.17+'s ml-metadata and TFDV need manylinux_2_39
    assert m[4] == "trixie"


def test_the_lock_is_the_tfx121_stacks_and_every_stage_uses_the_base():
    assert arg_default("LOCK") == stack("tfx121")["lock"] == "requirements/lock-tfx121.txt"
    assert "COPY ${LOCK} /tmp/lock.txt" in DOCKERFILE
    assert re.search(r"uv pip install --compile-bytecode .* -r /tmp/lock.txt", DOCKERFILE)
    froms = re.findall(r"^FROM (\S+)", DOCKERFILE, re.M)
    assert froms == ["${BASE_IMAGE}", "${BASE_IMAGE}"]  # the venv's Python is the run stage's
    # the TFX 1.16 alternative the comment gives is that stack's lock
    alt = re.search(r"--build-arg BASE_IMAGE=python:(\d+\.\d+)\.\d+-slim-\w+ --build-arg "
                    r"LOCK=(\S+)", DOCKERFILE)
    assert alt and alt[2] == stack("tfx116")["lock"] and alt[1] == stack("tfx116")["python"]


def test_every_package_folder_is_copied():
    tree = ast.parse((REPO / "setup.py").read_text())
    [packages] = [n.value for n in ast.walk(tree) if isinstance(n, ast.Assign)
                  and any(getattr(t, "id", None) == "PACKAGES" for t in n.targets)]
    folders = set(ast.literal_eval(packages).values())
    copied = set(re.findall(r"^COPY (\S+) /src/\1$", DOCKERFILE, re.M))
    assert folders <= copied, folders - copied
    assert "COPY setup.py /src/setup.py" in DOCKERFILE
