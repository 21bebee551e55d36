"""tfxkit: one YAML config becomes a production TFX pipeline.

Importing tfxkit (or any of its modules) does no work and changes nothing in the process:
the environment TensorFlow reads when it is imported (``TF_USE_LEGACY_KERAS=1``:
``tf.keras`` is Keras 2, as tf.Transform's layers need on both stacks; the zoo reaches
Keras 3 as ``import keras`` where ``model.keras`` asks for it, pipelines/compat.py) is set
by the entry points, before they import TensorFlow: the ``tfxkit`` command
(``tfxkit.infra.cli``), the Airflow operator, the container image, the Makefile's tests.
"""
__version__ = "0.1.0"
