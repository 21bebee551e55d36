"""One Airflow DAG per tfxkit config.

For every config in the configs folder (``configs/*.yaml``, or a use-case folder
``configs/NAME/config.yaml`` as ``tfxkit new`` creates it) the factory builds a DAG
named after the config's ``name``, scheduled by its ``schedule``, with a ``train`` task
(``tfxkit run``, or a Vertex submission) and, where the config has an ``inference:``
section, a ``predict`` task after it (``tfxkit predict``). A config with
``monitoring.schedule`` gets a second DAG, ``<name>-monitor``, on that schedule: a
``monitor`` task (``tfxkit monitor``: skew and drift of the served traffic; a crossed
threshold fails it without retries) and, with ``monitoring.retrain_on_drift``, a
``retrain`` task after it (``tfxkit run``) that runs only when a threshold was crossed.

Configs are read by tfxkit's own loader, ``load_config`` (the profile merged deeply, the
same validation as ``tfxkit run``), so the DAG and the run cannot read a config
differently. Only ``tfxkit.pipelines.config`` is imported (pydantic and PyYAML): never
TFX, TensorFlow or DuckDB; ``make airflow-setup`` installs tfxkit into Airflow's
environment without its dependencies. A config is rejected when ``load_config`` rejects
it, when Airflow cannot use its schedule, or when it reuses another config's name. A
rejected config does not stop the others: it is reported as an Airflow import error of
the DAG file (the "Broken DAG" banner, ``airflow dags list-import-errors``), naming the
config file and the reason, while the other configs' DAGs load.

Settings (environment variables, read when the DAG file is parsed):
  TFXKIT_CONFIGS_DIR     the configs folder (default: the repository's configs/)
  TFXKIT_BIN             the tfxkit executable of the TFX environment (read by the
                         operator when a task runs; default: the repository's .venv)
  TFXKIT_AIRFLOW_TARGET  local (default) or vertex
  TFXKIT_AIRFLOW_PROFILE a config profile for every run (e.g. prod)
"""
from __future__ import annotations

import datetime as dt
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional

import yaml
from airflow.sdk import DAG

from .operator import NOT_BLESSED_CHOICES, TARGETS, TfxkitRunOperator

try:
    from tfxkit.pipelines.config import ConfigError, load_config
except ImportError as e:  # an Airflow environment made before the factory needed tfxkit
    raise ImportError(f"{e}: tfxkit is not installed in Airflow's environment; "
                      "`make airflow-setup` installs it (without its dependencies)") from e

log = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_CONFIGS_DIR = REPO_ROOT / "configs"
START_DATE = dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc)
BROKEN_DAG_ID = "tfxkit-broken-configs"


class ConfigRejected(ValueError):
    """A config the factory cannot turn into a DAG; the message names file and reason."""

    def __init__(self, path: Path, reason: str):
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


class BrokenTfxkitConfigs(RuntimeError):
    """How Airflow reports the rejected configs (an import error of the DAG file)."""


@dataclass
class UseCase:
    path: Path
    name: str
    task: str
    schedule: Optional[str]
    has_inference: bool
    description: str = ""
    monitor_schedule: Optional[str] = None    # monitoring.schedule: the <name>-monitor DAG
    retrain_on_drift: bool = False


MONITOR_SUFFIX = "-monitor"


def configs_dir(explicit: Optional[str | os.PathLike] = None) -> Path:
    return Path(explicit or os.environ.get("TFXKIT_CONFIGS_DIR") or DEFAULT_CONFIGS_DIR)


def find_configs(folder: Path) -> List[Path]:
    """``folder/*.yaml|yml`` and ``folder/*/config.yaml``; profile side files
    (``NAME.PROFILE.yaml`` beside ``NAME.yaml``) are not configs of their own."""
    if not folder.is_dir():
        return []
    files = sorted(p for p in folder.iterdir()
                   if p.is_file() and p.suffix in (".yaml", ".yml") and not p.name.startswith("."))
    stems = {p.stem for p in files}
    out = [p for p in files if not ("." in p.stem and p.stem.split(".", 1)[0] in stems)]
    out += sorted(p / "config.yaml" for p in folder.iterdir()
                  if p.is_dir() and not p.name.startswith(".") and (p / "config.yaml").is_file())
    return out


def _yaml_error(e: yaml.YAMLError) -> str:
    mark = getattr(e, "problem_mark", None)
    problem = getattr(e, "problem", None) or str(e).splitlines()[0]
    return f"{problem} (line {mark.line + 1}, column {mark.column + 1})" if mark else problem


def read_use_case(path: Path, profile: Optional[str] = None) -> UseCase:
    """What the DAG needs from a config, read by ``load_config`` (the profile merged as
    ``tfxkit run --profile`` merges it); raises ConfigRejected."""
    try:
        cfg = load_config(path, profile=profile)
    except ConfigError as e:
        ctx = e.__context__  # load_config raises `from None`; the YAML error stays here
        if isinstance(ctx, yaml.YAMLError):  # one line, with the line and column
            reason = f"not valid YAML: {_yaml_error(ctx)}"
        else:
            reason = f"{e.field}: {e.reason}" if e.field else e.reason
        raise ConfigRejected(Path(e.file), reason) from None
    except OSError as e:
        raise ConfigRejected(path, f"cannot be read: {e}") from None
    first = (path.read_text().lstrip().splitlines() or [""])[0]
    desc = first.lstrip("# ").strip() if first.startswith("#") else ""
    return UseCase(path=path, name=cfg.name, task=cfg.task, schedule=cfg.schedule,
                   has_inference=cfg.inference is not None, description=desc,
                   monitor_schedule=cfg.monitoring.schedule,
                   retrain_on_drift=cfg.monitoring.retrain_on_drift)


def build_dag(uc: UseCase, target: str = "local", profile: Optional[str] = None,
              tfxkit_bin: Optional[str] = None, not_blessed: str = "skip") -> DAG:
    """The DAG of one use case: train, then predict where the config has inference
    (``not_blessed``: what a train task whose model was not blessed becomes, skipped or
    failed: ``TfxkitRunOperator``)."""
    try:
        dag = DAG(
            dag_id=uc.name,
            schedule=uc.schedule,
            start_date=START_DATE,
            catchup=False,          # continuous training: the latest interval, no backfill
            max_active_runs=1,      # one pipeline run at a time per use case (one MLMD)
            description=uc.description or f"tfxkit {uc.task} pipeline {uc.name}",
            tags=["tfxkit", uc.task] + ([target] if target != "local" else []),
            default_args={"owner": "tfxkit", "retries": 0},
            auto_register=False,    # the DAG file exports what create_dags returns: a
                                    # rejected config's half-built DAG must not leak in
            doc_md=(f"tfxkit pipeline **{uc.name}** from `{uc.path}` "
                    f"(target {target}{', profile ' + profile if profile else ''})."),
        )
    except Exception as e:  # e.g. a schedule Airflow cannot parse
        raise ConfigRejected(uc.path, f"schedule: {e}") from None
    with dag:
        train = TfxkitRunOperator(task_id="train", config=str(uc.path), command="run",
                                  target=target, profile=profile, tfxkit_bin=tfxkit_bin,
                                  not_blessed=not_blessed)
        if uc.has_inference:
            predict = TfxkitRunOperator(task_id="predict", config=str(uc.path),
                                        command="predict", profile=profile,
                                        tfxkit_bin=tfxkit_bin)
            train >> predict
    try:
        dag.validate()  # what the DagBag checks, so that one config cannot hide the others
    except Exception as e:
        what = "schedule" if "imetable" in type(e).__name__ or "cron" in str(e).lower() else "dag"
        raise ConfigRejected(uc.path, f"{what}: {e}") from None
    return dag


def build_monitor_dag(uc: UseCase, profile: Optional[str] = None,
                      tfxkit_bin: Optional[str] = None) -> DAG:
    """The ``<name>-monitor`` DAG of a config with ``monitoring.schedule``: ``monitor``
    (``tfxkit monitor``, the last complete window) and, with
    ``monitoring.retrain_on_drift``, ``retrain`` (``tfxkit run``) after it, which runs only
    when a threshold was crossed."""
    try:
        dag = DAG(
            dag_id=uc.name + MONITOR_SUFFIX,
            schedule=uc.monitor_schedule,
            start_date=START_DATE,
            catchup=False,
            max_active_runs=1,
            description=f"tfxkit monitoring (skew, drift) of {uc.name}",
            tags=["tfxkit", "monitor"],
            default_args={"owner": "tfxkit", "retries": 0},
            auto_register=False,
            doc_md=(f"`tfxkit monitor` of **{uc.name}** from `{uc.path}`"
                    f"{' (profile ' + profile + ')' if profile else ''}: the served "
                    "traffic against the serving model's training statistics."),
        )
    except Exception as e:
        raise ConfigRejected(uc.path, f"monitoring.schedule: {e}") from None
    with dag:
        monitor = TfxkitRunOperator(task_id="monitor", config=str(uc.path), command="monitor",
                                    profile=profile, tfxkit_bin=tfxkit_bin,
                                    on_crossed="retrain" if uc.retrain_on_drift else "fail")
        if uc.retrain_on_drift:
            retrain = TfxkitRunOperator(task_id="retrain", config=str(uc.path), command="run",
                                        profile=profile, tfxkit_bin=tfxkit_bin)
            monitor >> retrain
    try:
        dag.validate()
    except Exception as e:
        raise ConfigRejected(uc.path, f"monitoring.schedule: {e}") from None
    return dag


class _BrokenConfigs(DAG):
    """Carries the rejected configs into Airflow's own error reporting: the DagBag
    validates each DAG it finds in a file and records a failure as an import error of
    that file, while the file's other DAGs load. Should an Airflow version bag it
    anyway, its one task fails with the same message."""

    def validate(self):  # noqa: D102
        raise BrokenTfxkitConfigs(self.description or "tfxkit config(s) rejected")


def _broken_dag(errors: List[ConfigRejected]) -> DAG:
    message = (f"{len(errors)} tfxkit config(s) rejected, their DAGs are not loaded:\n"
               + "\n".join(f"- {e}" for e in errors))
    dag = _BrokenConfigs(dag_id=BROKEN_DAG_ID, schedule=None, start_date=START_DATE,
                         description=message, tags=["tfxkit", "broken"], auto_register=False)

    def _fail():
        raise BrokenTfxkitConfigs(message)

    with dag:
        from airflow.providers.standard.operators.python import PythonOperator

        PythonOperator(task_id="report", python_callable=_fail)
    return dag


def create_dags(folder: Optional[str | os.PathLike] = None, target: Optional[str] = None,
                profile: Optional[str] = None, tfxkit_bin: Optional[str] = None,
                not_blessed: Optional[str] = None) -> Dict[str, DAG]:
    """{dag_id: DAG} for every config in the folder. Rejected configs are logged and
    gathered into one DAG (``tfxkit-broken-configs``) that Airflow reports as an import
    error of the calling DAG file; the good configs' DAGs are returned beside it."""
    folder = configs_dir(folder)
    target = target or os.environ.get("TFXKIT_AIRFLOW_TARGET") or "local"
    if target not in TARGETS:
        raise ValueError(f"TFXKIT_AIRFLOW_TARGET must be one of {TARGETS}, got {target!r}")
    profile = profile or os.environ.get("TFXKIT_AIRFLOW_PROFILE") or None
    not_blessed = not_blessed or os.environ.get("TFXKIT_AIRFLOW_NOT_BLESSED") or "skip"
    if not_blessed not in NOT_BLESSED_CHOICES:
        raise ValueError(f"TFXKIT_AIRFLOW_NOT_BLESSED must be one of {NOT_BLESSED_CHOICES}, "
                         f"got {not_blessed!r}")
    dags: Dict[str, DAG] = {}
    errors: List[ConfigRejected] = []
    owner: Dict[str, Path] = {}
    if not folder.is_dir():
        log.warning("tfxkit configs folder %s does not exist: no DAGs", folder)
    for path in find_configs(folder):
        try:
            uc = read_use_case(path, profile)
            if uc.name in owner:
                raise ConfigRejected(path, f"name: {uc.name!r} is already the DAG of "
                                           f"{owner[uc.name]}")
            ids = [uc.name] + ([uc.name + MONITOR_SUFFIX] if uc.monitor_schedule else [])
            for dag_id in ids:
                if dag_id in owner:
                    raise ConfigRejected(path, f"name: {dag_id!r} is already the DAG of "
                                               f"{owner[dag_id]}")
            built = {uc.name: build_dag(uc, target=target, profile=profile,
                                        tfxkit_bin=tfxkit_bin, not_blessed=not_blessed)}
            if uc.monitor_schedule:
                built[uc.name + MONITOR_SUFFIX] = build_monitor_dag(uc, profile, tfxkit_bin)
            dags.update(built)
            owner.update({dag_id: path for dag_id in ids})
        except ConfigRejected as e:
            log.error("tfxkit config rejected: %s", e)
            errors.append(e)
    if errors:
        dags[BROKEN_DAG_ID] = _broken_dag(errors)
    return dags
