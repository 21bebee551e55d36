"""TfxkitRunOperator: runs a tfxkit command as a subprocess in the TFX environment.

Airflow never imports TFX (the Waze pattern): the task starts `tfxkit run CONFIG`
(or `tfxkit predict CONFIG`, `tfxkit monitor CONFIG`, or `tfxkit deploy CONFIG --target
vertex --wait`) with the
tfxkit executable of the TFX environment, streams every output line into the task log
and fails the task with the pipeline's own error ("Run failed in Trainer: ...").
A run that completed but whose model was not blessed (or failed infra validation), exit
3, marks the task skipped (``not_blessed="skip"``, the default: downstream tasks such as
predict skip too, the previous version keeps serving) or failed without retries
(``not_blessed="fail"``), with the gate's reason.
"""
from __future__ import annotations

import collections
import os
import re
import signal
import subprocess
from pathlib import Path
from typing import Any, Optional, Sequence

from airflow.sdk import BaseOperator
from airflow.sdk.exceptions import (AirflowException, AirflowFailException,
                                    AirflowSkipException)

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_BIN = REPO_ROOT / ".venv" / "bin" / "tfxkit"
COMMANDS = ("run", "predict", "monitor")
TARGETS = ("local", "vertex")
NOT_BLESSED_EXIT = 3  # tfxkit run: completed, the model not blessed (infra/run/outcome.py)
NOT_BLESSED_CHOICES = ("skip", "fail")
CROSSED_EXIT = 4  # tfxkit monitor: a skew or drift threshold was crossed (infra/cli/monitor.py)
ON_CROSSED_CHOICES = ("fail", "retrain")
_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_FAILED = re.compile(r"^(Run failed in \S+: .*)$")
_CONFIG_ERROR = re.compile(r"^(config error: .*)$")
_VERDICT = re.compile(r"^(Model NOT blessed.*|Infra validation FAILED.*|Not pushed: .*)$")
# Environment of Airflow's interpreter that must not leak into the TFX one.
_DROP_ENV = ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "PYTHONSTARTUP")


class TfxkitRunFailed(AirflowException):
    """The tfxkit command exited non-zero; the message is the pipeline's error."""


class TfxkitConfigError(AirflowFailException):
    """The config was rejected before anything ran (exit 2): retrying cannot help."""


class TfxkitThresholdCrossed(AirflowFailException):
    """``tfxkit monitor`` found skew or drift above a threshold (exit 4): the task fails,
    without retries (the same window gives the same answer), and Airflow's failure
    notifications fire; the message lists the crossings."""


class TfxkitNotBlessed(AirflowFailException):
    """The run completed but its model was not blessed (exit 3, ``not_blessed="fail"``):
    retrying the same data cannot help."""


def tfxkit_bin(explicit: Optional[str] = None) -> str:
    """The tfxkit executable of the TFX environment: the argument, else $TFXKIT_BIN,
    else the repository's .venv/bin/tfxkit."""
    return str(explicit or os.environ.get("TFXKIT_BIN") or DEFAULT_BIN)


def not_blessed_reason(lines: Sequence[str]) -> str:
    """Why a completed run pushed nothing: its "Not pushed: ..." line, else its verdict
    line ("Model NOT blessed ...", "Infra validation FAILED: ...")."""
    clean = [_ANSI.sub("", ln).strip() for ln in lines]
    found = [ln for ln in clean if _VERDICT.match(ln)]
    pushed = [ln for ln in found if ln.startswith("Not pushed")]
    return (pushed or found or ["the model was not blessed"])[-1]


def crossed_reason(lines: Sequence[str]) -> str:
    """``tfxkit monitor``'s "Threshold crossed: ..." line (the crossings listed)."""
    clean = [_ANSI.sub("", ln).strip() for ln in lines]
    found = [ln for ln in clean if ln.startswith("Threshold crossed")]
    return found[-1] if found else "a threshold was crossed"


def failure_reason(lines: Sequence[str], n_tail: int = 10) -> str:
    """The pipeline's error out of a failed command's output: the last
    "Run failed in X: reason" line, or the "config error: ..." line with the problems
    listed after it (one per line), else the last lines."""
    clean = [_ANSI.sub("", ln).rstrip() for ln in lines]
    for ln in reversed(clean):
        m = _FAILED.match(ln.strip())
        if m:
            return m.group(1)
    for i in range(len(clean) - 1, -1, -1):
        m = _CONFIG_ERROR.match(clean[i].strip())
        if m:  # every problem of the config: one line each after the first
            return "\n".join([m.group(1)] + [ln.strip() for ln in clean[i + 1:]
                                              if ln.strip()])
    tail = [ln for ln in clean if ln.strip()][-n_tail:]
    return "\n".join(tail) if tail else "(no output)"


class TfxkitRunOperator(BaseOperator):
    """Runs ``tfxkit COMMAND CONFIG`` in the TFX environment and waits for it.

    :param config: path to the use case's YAML config.
    :param command: ``run`` (the training pipeline) or ``predict`` (batch inference).
    :param target: ``local`` (the local runner, in this worker) or ``vertex`` (the
        training pipeline is submitted to Vertex AI Pipelines with
        ``tfxkit deploy CONFIG --target vertex --wait``; the task waits for the job).
    :param profile: config profile (``--profile``).
    :param sets: config overrides (``--set key=value``), templated.
    :param tfxkit_bin: the tfxkit executable; default $TFXKIT_BIN, else the
        repository's ``.venv/bin/tfxkit``. Resolved when the task runs.
    :param env: extra environment variables for the command.
    :param not_blessed: a ``run`` that completed without a blessed model (exit 3):
        ``skip`` (the default: the task is skipped, and so are tasks that need it) or
        ``fail`` (the task fails, without retries).
    :param on_crossed: a ``monitor`` that found a threshold crossed (exit 4): ``fail``
        (the default: the task fails without retries) or ``retrain`` (the task succeeds,
        so the retraining task after it runs; with nothing crossed it is skipped, and the
        retraining with it): ``monitoring.retrain_on_drift``.
    """

    template_fields: Sequence[str] = ("config", "profile", "sets", "env")
    ui_color = "#ffcc80"

    def __init__(self, *, config: str, command: str = "run", target: str = "local",
                 profile: Optional[str] = None, sets: Sequence[str] = (),
                 tfxkit_bin: Optional[str] = None, env: Optional[dict] = None,
                 not_blessed: str = "skip", on_crossed: str = "fail",
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if on_crossed not in ON_CROSSED_CHOICES:
            raise ValueError(f"on_crossed must be one of {ON_CROSSED_CHOICES}, got "
                             f"{on_crossed!r}")
        self.on_crossed = on_crossed
        if not_blessed not in NOT_BLESSED_CHOICES:
            raise ValueError(f"not_blessed must be one of {NOT_BLESSED_CHOICES}, got "
                             f"{not_blessed!r}")
        self.not_blessed = not_blessed
        if command not in COMMANDS:
            raise ValueError(f"command must be one of {COMMANDS}, got {command!r}")
        if target not in TARGETS:
            raise ValueError(f"target must be one of {TARGETS}, got {target!r}")
        self.config = str(config)
        self.command = command
        self.target = target
        self.profile = profile
        self.sets = list(sets)
        self.tfxkit_bin = tfxkit_bin
        self.env = dict(env or {})
        self._proc: Optional[subprocess.Popen] = None

    def argv(self) -> list:
        exe = tfxkit_bin(self.tfxkit_bin)
        if self.command == "run" and self.target == "vertex":
            args = [exe, "deploy", self.config, "--target", "vertex", "--wait"]
        else:
            args = [exe, self.command, self.config]
        if self.profile:
            args += ["--profile", self.profile]
        for s in self.sets:
            args += ["--set", s]
        return args

    def _environment(self) -> dict:
        env = {k: v for k, v in os.environ.items() if k not in _DROP_ENV}
        env.setdefault("TF_USE_LEGACY_KERAS", "1")  # tf.keras = Keras 2 (tf.Transform's layers)
        env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        env["PYTHONUNBUFFERED"] = "1"  # lines reach the task log as they are printed
        env.update({k: str(v) for k, v in self.env.items()})
        return env

    def execute(self, context: Any) -> dict:
        argv = self.argv()
        exe = Path(argv[0])
        if not (exe.is_file() and os.access(exe, os.X_OK)):
            raise AirflowFailException(
                f"tfxkit executable not found at {exe}: run `make setup` in the tfxkit "
                "repository or set TFXKIT_BIN to the tfxkit of the TFX environment")
        self.log.info("Running: %s", " ".join(argv))
        tail: collections.deque = collections.deque(maxlen=200)
        self._proc = subprocess.Popen(
            argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            text=True, errors="replace", bufsize=1, env=self._environment(),
            cwd=self._cwd(), start_new_session=True)
        try:
            assert self._proc.stdout is not None
            for line in self._proc.stdout:
                line = _ANSI.sub("", line.rstrip("\n"))
                tail.append(line)
                self.log.info("%s", line)
            rc = self._proc.wait()
        finally:
            if self._proc.poll() is None:  # interrupted while reading: stop the run
                self._kill()
        if rc == NOT_BLESSED_EXIT and argv[1] == "run":
            msg = (f"tfxkit run {self.config}: completed, nothing pushed: "
                   f"{not_blessed_reason(list(tail))}")
            if self.not_blessed == "fail":
                raise TfxkitNotBlessed(msg)
            raise AirflowSkipException(msg)
        if argv[1] == "monitor" and rc in (0, CROSSED_EXIT):
            crossed = crossed_reason(list(tail))
            if rc == CROSSED_EXIT and self.on_crossed == "fail":
                raise TfxkitThresholdCrossed(f"tfxkit monitor {self.config}: {crossed}")
            if rc == 0 and self.on_crossed == "retrain":
                raise AirflowSkipException(f"tfxkit monitor {self.config}: no threshold "
                                           "crossed, no retraining")
            return {"command": "monitor", "config": self.config, "returncode": rc,
                    "crossed": rc == CROSSED_EXIT}
        if rc != 0:
            reason = failure_reason(list(tail))
            what = "deploy --target vertex" if argv[1] == "deploy" else self.command
            msg = f"tfxkit {what} {self.config} failed (exit {rc}): {reason}"
            if rc == 2 and reason.startswith("config error"):
                raise TfxkitConfigError(msg)
            raise TfxkitRunFailed(msg)
        return {"command": argv[1], "config": self.config, "returncode": rc}

    def _cwd(self) -> Optional[str]:
        """The config's folder (relative paths in a config are relative to it anyway)."""
        folder = Path(self.config).resolve().parent
        return str(folder) if folder.is_dir() else None

    def _kill(self) -> None:
        proc = self._proc
        if proc is None or proc.poll() is not None:
            return
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=30)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

    def on_kill(self) -> None:
        self._kill()
