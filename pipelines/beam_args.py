"""Beam arguments of a pipeline from the config's ``beam`` section (``beam_pipeline_args``),
for the training pipeline (``factory.py``) and the batch-inference one (``inference.py``)."""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import List, Optional

from tfxkit.pipelines.config import PipelineConfig

# Beam options that tell TFX the workers already have their Python dependencies; without
# one, every Beam-based executor rebuilds TFX as an sdist (~4 s, tfx/utils/dependency_utils).
_DEPENDENCY_OPTIONS = ("--extra_package", "--extra_packages", "--setup_file",
                       "--requirements_file", "--sdk_container_image",
                       "--worker_harness_container_image")


def tfxkit_setup_file() -> str:
    """tfxkit's own setup.py (installs tfxkit and, through it, tfx): what remote Beam
    workers need to run tfxkit's and TFX's executors when no container image has them."""
    import tfxkit

    return os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(tfxkit.__file__))),
                        "setup.py")


def _opt(args: List[str], name: str, value) -> None:
    if value is not None and value != "":
        args.append(f"--{name}={value}")


def _portable_args(r, args: List[str]) -> None:
    _opt(args, "environment_type", r.environment_type)
    _opt(args, "environment_config", r.environment_config)
    _opt(args, "sdk_container_image", r.sdk_container_image)
    _opt(args, "setup_file", r.setup_file)
    _opt(args, "sdk_worker_parallelism", r.sdk_worker_parallelism)


# DataflowRunner options: (flag, field of beam.dataflow)
_DATAFLOW_OPTIONS = (("project", "project"), ("region", "region"),
                     ("temp_location", "temp_location"),
                     ("staging_location", "staging_location"),
                     ("machine_type", "machine_type"), ("num_workers", "num_workers"),
                     ("max_num_workers", "max_workers"),
                     ("sdk_container_image", "sdk_container_image"),
                     ("setup_file", "setup_file"),
                     ("service_account_email", "service_account_email"),
                     ("network", "network"), ("subnetwork", "subnetwork"))


def cores() -> int:
    """The cores this process may run on (its CPU affinity where the OS tells it)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


@dataclass(frozen=True)
class DirectMode:
    """How the direct runner runs: ``mode`` (in_memory, multi_processing,
    multi_threading), ``workers`` (0: Beam's default, one per core) and why."""

    mode: str
    workers: int
    reason: str

    def text(self) -> str:
        workers = f", {self.workers} workers" if self.mode != "in_memory" else ""
        return f"{self.mode}{workers} ({self.reason})"


def data_bytes(cfg: PipelineConfig, source=None) -> Optional[int]:
    """Bytes in the files of ``source`` (default: the training source), or None when they
    cannot be counted here (BigQuery, a remote path, nothing matched yet)."""
    from tfxkit.pipelines.config import files_of, is_remote

    src = source if source is not None else cfg.data.source
    if src.kind == "bigquery" or not src.path or is_remote(src.path):
        return None
    files = files_of(cfg, src.path)
    if not files:
        return None
    total = 0
    for f in files:
        try:
            total += os.path.getsize(f)
        except OSError:
            pass
    return total


def direct_mode(cfg: PipelineConfig, nbytes: Optional[int] = None,
                n_cores: Optional[int] = None) -> DirectMode:
    """The direct runner's mode: the config's, or for ``mode: auto`` multi_processing with
    one worker per core (``workers`` if set) when the data holds at least
    ``beam.auto_min_mb`` MB and there are at least ``beam.auto_min_cores`` cores, else
    in_memory. Beam's multi-process mode starts its worker processes anew in every Beam
    component (15-30 s each on 2 busy cores, README "Big data"), so small data, and any
    data on 2 cores, stays in this process.
    ``nbytes``: the data's size (None: unknown, e.g. BigQuery or remote files)."""
    b = cfg.beam
    if b.mode != "auto":
        return DirectMode(b.mode, b.workers, "beam.mode in the config")
    limit = b.auto_min_mb
    if nbytes is None:
        return DirectMode("in_memory", 0, "auto: the data's size is not known here")
    mb = nbytes / 1e6
    if mb < limit:
        return DirectMode("in_memory", 0, f"auto: {mb:.1f} MB of data < {limit:g} MB")
    n = n_cores if n_cores is not None else cores()
    if n < b.auto_min_cores:
        return DirectMode("in_memory", 0, f"auto: {mb:.1f} MB of data >= {limit:g} MB, but "
                          f"{n} core{'s' if n > 1 else ''} < {b.auto_min_cores}")
    return DirectMode("multi_processing", b.workers or n,
                      f"auto: {mb:.1f} MB of data >= {limit:g} MB, {n} cores")


def _direct_args(m: DirectMode, args: List[str]) -> None:
    if m.mode != "in_memory" or m.workers:
        args.append(f"--direct_running_mode={m.mode}")
        args.append(f"--direct_num_workers={m.workers}")


def _dataflow_args(d, args: List[str]) -> None:
    args.append("--runner=DataflowRunner")
    for flag, field in _DATAFLOW_OPTIONS:
        _opt(args, flag, getattr(d, field))
    args += [f"--experiments={e}" for e in d.experiments]


def _flink_args(f, args: List[str]) -> None:
    if f.flink_master:
        args += ["--runner=FlinkRunner", f"--flink_master={f.flink_master}"]
        _opt(args, "flink_version", f.flink_version)
    else:
        args += ["--runner=PortableRunner", f"--job_endpoint={f.job_endpoint}"]
    _opt(args, "parallelism", f.parallelism)
    _portable_args(f, args)


def _spark_args(s, args: List[str]) -> None:
    if s.spark_master_url:
        args += ["--runner=SparkRunner", f"--spark_master_url={s.spark_master_url}"]
        _opt(args, "spark_rest_url", s.spark_rest_url)
        _opt(args, "spark_version", s.spark_version)
    else:
        args += ["--runner=PortableRunner", f"--job_endpoint={s.job_endpoint}"]
    _portable_args(s, args)


def transform_in_process_bytes(cfg: PipelineConfig) -> int:
    """The most bytes of examples Transform runs without a Beam pipeline (0: never):
    ``beam.in_process_max_mb`` with the direct runner in memory (the config's mode or
    ``auto``'s choice), else 0 (a runner or mode the user chose runs Beam)."""
    b = cfg.beam
    if b.runner != "direct" or b.extra_args or b.in_process_max_mb <= 0:
        return 0
    if direct_mode(cfg, data_bytes(cfg)).mode != "in_memory":
        return 0
    return int(b.in_process_max_mb * 1e6)


def beam_text(cfg: PipelineConfig, source=None) -> str:
    """What runs the Beam components, for the run's output: the runner, and for the direct
    runner its mode and why (``mode: auto`` resolved from the data's size)."""
    b = cfg.beam
    if b.runner != "direct":
        return f"{b.runner} runner (beam.runner)"
    return "direct runner, " + direct_mode(cfg, data_bytes(cfg, source)).text()


def beam_pipeline_args(cfg: PipelineConfig, source=None) -> List[str]:
    """Beam arguments from ``cfg.beam``; ``source`` (default: the training source) is
    the data whose size resolves ``beam.mode: auto`` (``direct_mode``).

    - direct, in_memory, nothing extra: no arguments at all (TFX's default in-process
      Beam; any argument would make TFX rebuild itself as an sdist per Beam component).
    - direct with a mode or workers: ``--direct_running_mode``/``--direct_num_workers``
      plus ``--setup_file`` (tfxkit's setup.py). The DirectRunner stages nothing (its
      workers are this process or subprocesses of this Python), so the flag costs nothing;
      it only tells TFX's ``make_beam_dependency_flags`` that dependencies are handled.
    - dataflow / flink / spark: the runner and its options; when no container image or
      package option is given, ``--setup_file`` with tfxkit's setup.py, so the workers
      install tfxkit (and tfx) instead of TFX's ephemeral sdist without tfxkit.
    ``extra_args`` come last (Beam takes the last value of a repeated option).
    """
    b = cfg.beam
    args: List[str] = []
    if b.runner == "direct":
        _direct_args(direct_mode(cfg, data_bytes(cfg, source)), args)
    elif b.runner == "dataflow":
        _dataflow_args(b.dataflow, args)
    elif b.runner == "flink":
        _flink_args(b.flink, args)
    elif b.runner == "spark":
        _spark_args(b.spark, args)
    args += list(b.extra_args)
    if args and not any(a.split("=", 1)[0] in _DEPENDENCY_OPTIONS for a in args):
        setup_file = tfxkit_setup_file()
        if b.runner != "direct" and not os.path.isfile(setup_file):
            raise ValueError(f"beam.{b.runner}: the workers need tfx and tfxkit; give "
                             "sdk_container_image (an image with both) or setup_file "
                             f"(tfxkit is installed without its setup.py, no {setup_file})")
        args.append(f"--setup_file={setup_file}")
    return args
