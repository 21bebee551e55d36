"""Beam arguments of a pipeline from the config's ``beam`` section (``beam_pipeline_args``),
for the training pipeline (``factory.py``) and the batch-inference one (``inference.py``)."""
from __future__ import annotations

import os
from typing import List

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


def _direct_args(b, args: List[str]) -> None:
    if b.mode != "in_memory" or b.workers:
        args.append(f"--direct_running_mode={b.mode}")
        args.append(f"--direct_num_workers={b.workers}")


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


def beam_pipeline_args(cfg: PipelineConfig) -> List[str]:
    """Beam arguments from ``cfg.beam``.

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
        _direct_args(b, args)
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
