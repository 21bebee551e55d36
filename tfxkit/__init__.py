"""tfxkit: one YAML config becomes a production TFX pipeline.

Importing tfxkit does no work: it only makes TensorFlow pick Keras 2 (tf_keras) for
exported models, which TFX 1.16's BulkInferrer / RunInference needs.
"""
import os as _os

_os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
_os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

__version__ = "0.1.0"
