"""The Makefile picks the stack by the host's glibc (issue 14): TFX 1.21 where glibc >= 2.39,
TFX 1.16 below; STACK and PYTHON override it. Runs on both stacks: on this host (glibc
2.36, TFX 1.16) and inside the Debian 13 chroot (glibc 2.41, TFX 1.21), where the choice
must match what is installed."""
from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tfxkit.pipelines import compat

REPO = Path(__file__).resolve().parents[3]


def make(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items()
           if k not in ("STACK", "PYTHON", "GLIBC", "MAKEFLAGS", "MFLAGS", "MAKELEVEL")}
    return subprocess.run(["make", "-s", "--no-print-directory", *args], cwd=REPO, env=env,
                          capture_output=True, text=True, check=check, timeout=60)


def stack(*args: str) -> dict:
    words = make("print-stack", *args).stdout.split()
    return dict(zip(words[0:8:2], words[1:8:2]))


@pytest.mark.parametrize("glibc, chosen, python, lock", [
    ("2.36", "tfx116", "3.11", "requirements/lock.txt"),       # Debian 12
    ("2.38", "tfx116", "3.11", "requirements/lock.txt"),
    ("2.39", "tfx121", "3.13", "requirements/lock-tfx121.txt"),  # Ubuntu 24.04
    ("2.41", "tfx121", "3.13", "requirements/lock-tfx121.txt"),  # Debian 13
    ("2.100", "tfx121", "3.13", "requirements/lock-tfx121.txt"),  # compared as versions
    ("", "tfx116", "3.11", "requirements/lock.txt"),             # unknown (musl, say)
])
def test_the_stack_follows_glibc(glibc, chosen, python, lock):
    got = stack(f"GLIBC={glibc}")
    assert got == {"stack": chosen, "python": python, "lock": lock, "glibc": glibc or "unknown"}


def test_stack_and_python_can_be_given():
    assert stack("GLIBC=2.36", "STACK=tfx121")["stack"] == "tfx121"
    assert "STACK given" in make("print-stack", "GLIBC=2.36", "STACK=tfx121").stdout
    assert stack("GLIBC=2.41", "STACK=tfx116")["lock"] == "requirements/lock.txt"
    assert stack("GLIBC=2.36", "PYTHON=3.10")["python"] == "3.10"
    assert stack("GLIBC=2.41", "PYTHON=3.12")["python"] == "3.12"


def test_a_wrong_stack_or_python_is_refused_with_the_choices(tmp_path):
    bad = make("print-stack", "STACK=tfx118", check=False)
    assert bad.returncode != 0 and "STACK=tfx118: tfx116 (TFX 1.16) or tfx121 (TFX 1.21)" in bad.stderr
    # before anything is built: the venv folder is never made
    bad = make("setup", "GLIBC=2.41", "PYTHON=3.10", f"VENV={tmp_path}/v", check=False)
    assert bad.returncode != 0
    assert "PYTHON=3.10: the tfx121 stack's .venv takes 3.13 3.12" in bad.stderr
    assert not (tmp_path / "v").exists()


def test_the_stack_chosen_here_is_the_one_installed():
    """No override: on this host (glibc 2.36) the Makefile picks tfx116 and TFX 1.16 is what
    runs; inside the Debian 13 chroot it picks tfx121 and TFX 1.21 runs."""
    got = stack()
    installed = "tfx121" if compat.tfx_release() >= (1, 21) else "tfx116"
    assert got["stack"] == installed, (got, compat.tfx_version())
