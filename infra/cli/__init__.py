"""The ``tfxkit`` command.

Nothing heavy is imported at module level: ``tfxkit --help`` and ``tfxkit validate``
never import TensorFlow or TFX.
"""
from __future__ import annotations

import os
import warnings

import click

from tfxkit.infra.cli import (choices, common, deploy, models, monitor, predict, report, run, serve,
                              ui, use_case)


# What TensorFlow reads when it is imported: tf.keras is Keras 2 (tf.Transform's layers
# need it, on both stacks; Keras 3 is ``import keras``) and its C++ logs stay off, errors
# included (on a CPU machine TF 2.16 logs three "Unable to register cuFFT/cuDNN/cuBLAS
# factory" errors at import; ``-v`` shows every C++ log: ``common.quiet_logs``). The
# command sets them (a value already set wins) before any command imports TensorFlow;
# importing tfxkit never does. Beam workers and the InfraValidator's subprocess inherit them.
TF_ENVIRONMENT = {"TF_USE_LEGACY_KERAS": "1", "TF_CPP_MIN_LOG_LEVEL": "3"}
# Notices of third-party libraries about their own support policy (google-api-core on
# Python 3.10/3.11), printed at import: not the user's to act on. (message, category, module)
QUIET_WARNINGS = [(r"You are using a (non-supported )?Python version", FutureWarning,
                   r"google\.")]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="tfxkit")
def main():
    """tfxkit: one YAML config becomes a production TFX pipeline."""
    common.TF_LOG_LEVEL_GIVEN = "TF_CPP_MIN_LOG_LEVEL" in os.environ
    for name, value in TF_ENVIRONMENT.items():
        os.environ.setdefault(name, value)
    for message, category, module in QUIET_WARNINGS:
        warnings.filterwarnings("ignore", message=message, category=category, module=module)


# one module per group of commands; ``tfxkit --help`` lists them by name
for _command in (use_case.templates, use_case.new, use_case.validate, use_case.generate,
                 run.run, report.report, report.lineage, models.models, models.rollback,
                 predict.predict, predict.predictions, serve.serve, serve.canary, choices.choices,
                 deploy.compile_cmd, deploy.deploy_cmd, monitor.monitor, ui.ui):
    main.add_command(_command)
del _command
