"""tfxkit: one YAML config becomes a production TFX pipeline.

Importing tfxkit does no work: it only sets TF_USE_LEGACY_KERAS=1 (``tf.keras`` is Keras 2,
as tf.Transform's layers need on both stacks; the zoo reaches Keras 3 as ``import keras``
where ``model.keras`` asks for it, pipelines/compat.py).
"""
import os as _os

_os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
_os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

__version__ = "0.1.0"
