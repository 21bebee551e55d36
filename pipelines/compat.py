"""Where the two supported stacks differ: TFX 1.16 (Python 3.10, TFMA 0.47) and TFX 1.21
(Python 3.13, TFMA 0.52; issue 14). tfxkit asks here instead of checking versions where it
uses them.

- **TFMA's config protos** (``EvalConfig``, ``MetricsSpec``, ``SlicingSpec``,
  ``CrossSlicingSpec``, ``Options``, thresholds, ...): TFMA 0.52 no longer exports them at
  its top level (importing ``tfx.components`` sets back some of them, not
  ``CrossSlicingSpec`` nor ``Options``). ``tensorflow_model_analysis.proto.config_pb2``
  has them all in both: ``tfma_config()``.
- **Stock components**: TFX 1.21's ``tfx.components`` turns a component whose import fails
  into ``None`` (1.16 raised); ``tfx_components()`` raises again, naming the component
  and the reason.
- **The SDK version** the Kubeflow V2 compiler writes (``tfx-1.16.0`` / ``tfx-1.21.0``):
  ``tfx_version()``.

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
    """The stock components ``names`` from ``tfx.components``, each a class: where TFX 1.21
    left ``None`` (its import failed), the import is repeated from the component's own
    module so that the ImportError says why."""
    components = importlib.import_module("tfx.components")
    found = []
    for name in names:
        cls = getattr(components, name, None)
        if cls is None:
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
