"""Where the two supported stacks differ: TFX 1.16 (Python 3.10, TFMA 0.47) and TFX 1.21
(Python 3.13, TFMA 0.52; issue 14). tfxkit asks here instead of checking versions where it
uses them.

- **TFMA's config protos** (``EvalConfig``, ``MetricsSpec``, ``SlicingSpec``,
  ``CrossSlicingSpec``, ``Options``, thresholds, ...): TFMA 0.52 no longer exports them at
  its top level (importing ``tfx.components`` sets back some of them, not
  ``CrossSlicingSpec`` nor ``Options``). ``tensorflow_model_analysis.proto.config_pb2``
  has them all in both: ``tfma_config()``.
- **Stock components**: TFX 1.21's ``tfx.components`` turns a component whose import fails
  into ``None`` (1.16 raised); ``tfx_components()`` imports each from its own module
  and raises, naming the component and the reason.
- **The SDK version** the Kubeflow V2 compiler writes (``tfx-1.16.0`` / ``tfx-1.21.0``):
  ``tfx_version()``.
- **Keras** (``model.keras``): ``keras_version()`` resolves ``auto`` to Keras 3 on TFX 1.21
  and Keras 2 (``tf_keras``) on TFX 1.16; ``keras_module()`` is that Keras and
  ``keras_of(model)`` the one a model was built with. TF_USE_LEGACY_KERAS=1 stays set on
  both (tf.Transform 1.21 still sets it: its layers are Keras 2), so ``tf.keras`` is
  always Keras 2 and Keras 3 is reached as ``import keras``. The Trainer exports a Keras 3
  model with ``tf.saved_model.save`` around it (``pipelines/run_fn.py``); tfxkit's
  BatchInferrer, InfraValidator, online server and TFMA load the signatures, never Keras.

Other differences need no code here: ``Trainer.__init__`` gains a first parameter
``statistics`` in 1.21 (tfxkit passes every argument by name) and ``ExampleValidator``
loses ``custom_validation_config`` (tfxkit never passes it).

Nothing is imported at module level: the CLI imports this without TensorFlow.
"""
from __future__ import annotations

import functools
import importlib
from typing import Tuple


@functools.lru_cache(maxsize=None)
def tfx_version() -> str:
    """The installed TFX version (``1.16.0``, ``1.21.0``), without importing TFX."""
    from importlib.metadata import version

    return version("tfx")


def tfx_release() -> Tuple[int, int]:
    """(major, minor) of the installed TFX."""
    major, minor = tfx_version().split(".")[:2]
    return int(major), int(minor)


def tfma_config():
    """TFMA's config proto module (``EvalConfig``, ``MetricsSpec``, ``SlicingSpec``,
    ``CrossSlicingSpec``, ``MetricConfig``, ``MetricThreshold``, ``MetricDirection``, ...)."""
    from tensorflow_model_analysis.proto import config_pb2

    return config_pb2


def tfx_components(*names: str) -> tuple:
    """The stock components ``names``, each a class, each imported from its own module
    (``_COMPONENT_MODULES``), not read off ``tfx.components``: where the command made that
    package lazy (``lazy_imports``), only these components are imported, not all sixteen
    with their executors. On TFX 1.21, where ``tfx.components`` leaves ``None`` for a
    component whose import failed, the ImportError here says why."""
    found = []
    for name in names:
        module = _COMPONENT_MODULES.get(name)
        if module is None:
            raise ImportError(f"tfx.components has no {name} (TFX {tfx_version()})")
        try:
            cls = getattr(importlib.import_module(module), name)
        except ImportError as e:
            raise ImportError(f"TFX {tfx_version()}: {name} cannot be imported "
                              f"({module}): {e}") from e
        found.append(cls)
    return tuple(found)


_COMPONENT_MODULES = {
    "BulkInferrer": "tfx.components.bulk_inferrer.component",
    "Evaluator": "tfx.components.evaluator.component",
    "ExampleValidator": "tfx.components.example_validator.component",
    "ImportExampleGen": "tfx.components.example_gen.import_example_gen.component",
    "CsvExampleGen": "tfx.components.example_gen.csv_example_gen.component",
    "Pusher": "tfx.components.pusher.component",
    "SchemaGen": "tfx.components.schema_gen.component",
    "StatisticsGen": "tfx.components.statistics_gen.component",
    "Trainer": "tfx.components.trainer.component",
    "Transform": "tfx.components.transform.component",
    "Tuner": "tfx.components.tuner.component",
}


def keras_version(wanted="auto") -> int:
    """The Keras major version a zoo model is built with: ``model.keras`` (2 or 3), or for
    ``auto`` Keras 3 on TFX >= 1.21 and Keras 2 (``tf_keras``) before: TFX 1.16's TFMA 0.47
    reads a Keras model through ``tf.keras`` (Keras 2)."""
    if wanted in (2, 3, "2", "3"):
        return int(wanted)
    if wanted not in (None, "auto"):
        raise ValueError(f"model.keras: {wanted!r} should be one of auto, 2, 3")
    return 3 if tfx_release() >= (1, 21) else 2


def keras_module(version: int):
    """``keras`` (Keras 3) for 3, ``tf_keras`` (Keras 2) for 2."""
    if version == 3:
        import keras

        if not keras.__version__.startswith("3."):
            raise ImportError(f"model.keras: 3 needs Keras 3, found keras {keras.__version__}")
        return keras
    import tf_keras

    return tf_keras


def keras_internals_not_autographed() -> bool:
    """Keras 2 (``tf_keras``) internals run as written inside ``tf.function``, as Keras 2's
    ``keras`` package always did: TensorFlow's AutoGraph leaves modules named ``keras``
    unconverted (its ``config.CONVERSION_RULES``), but not ``tf_keras``, the same code
    under another name, so every ``model.fit`` re-wrote Keras's training step and every
    layer it calls into AutoGraph code before tracing it (12 s of the penguin template's
    16 s Trainer, measured with py-spy). A model's own ``call`` is still converted: Keras
    converts it itself (``autograph.tf_convert`` in ``Layer.__call__``). Returns whether
    the rule was added now (False when it was there)."""
    from tensorflow.python.autograph.core import config as ag_config

    rules = ag_config.CONVERSION_RULES
    if any(getattr(r, "_prefix", None) == "tf_keras" for r in rules):
        return False
    # before any Convert rule of a tf_keras submodule could match (there is none today)
    ag_config.CONVERSION_RULES = (ag_config.DoNotConvert("tf_keras"),) + tuple(rules)
    return True


def keras_of(model):
    """The Keras (``keras`` 3 or ``tf_keras``) that ``model`` was built with."""
    return keras_module(3 if is_keras3(model) else 2)


def is_keras3(model) -> bool:
    """Whether ``model`` is a Keras 3 model (not a ``tf_keras`` one)."""
    return any(c.__module__.split(".")[0] == "keras" for c in type(model).__mro__)
