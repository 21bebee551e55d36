"""The ``tfxkit`` command.

Nothing heavy is imported at module level: ``tfxkit --help`` and ``tfxkit validate``
never import TensorFlow or TFX.
"""
from __future__ import annotations

import os

import click

from tfxkit.infra.cli import choices, deploy, models, predict, report, run, serve, use_case


# What TensorFlow reads when it is imported: tf.keras is Keras 2 (tf.Transform's layers
# need it, on both stacks; Keras 3 is ``import keras``) and its C++ INFO logs stay off.
# The command sets them (a value already set wins) before any command imports TensorFlow;
# importing tfxkit never does. Beam workers and the InfraValidator's subprocess inherit them.
TF_ENVIRONMENT = {"TF_USE_LEGACY_KERAS": "1", "TF_CPP_MIN_LOG_LEVEL": "2"}


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="tfxkit")
def main():
    """tfxkit: one YAML config becomes a production TFX pipeline."""
    for name, value in TF_ENVIRONMENT.items():
        os.environ.setdefault(name, value)


# one module per group of commands; ``tfxkit --help`` lists them by name
for _command in (use_case.templates, use_case.new, use_case.validate, use_case.generate,
                 run.run, report.report, report.lineage, models.models, models.rollback,
                 predict.predict, predict.predictions, serve.serve, serve.canary, choices.choices,
                 deploy.compile_cmd, deploy.deploy_cmd):
    main.add_command(_command)
del _command
