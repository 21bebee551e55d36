"""Start-up of the commands that run a pipeline (issue 18): what TFX and Beam import at
once, made to import when first used.

- ``tfx.components``: its ``__init__`` imports all sixteen stock components with their
  executors, so importing any ``tfx.components.X`` module (tfxkit's ExampleGen imports
  ``tfx.components.example_gen.driver``) pulls in the BulkInferrer's, the InfraValidator's
  Kubernetes client and the Tuner's keras_tuner. ``lazy_tfx_components`` makes it a
  package that imports a component when it is first named.
- ``apache_beam.io``: its ``__init__`` imports Beam's BigQuery and Pub/Sub I/O (and with
  them the google-cloud-bigquery and -pubsub clients, IPython widgets included) whenever
  they are installed, as they are here for Vertex. ``lazy_beam_gcp_io`` lets that
  ``__init__`` skip them (its ``try``/``except ImportError``) and offers their names on
  ``apache_beam.io`` when first used (``beam.io.ReadFromBigQuery``). Beam's GCS
  filesystem (the ``gs://`` scheme) is imported as before.

Both change the process: the ``tfxkit`` commands call ``startup`` (entry points, as they
set TensorFlow's environment), before TFX or Beam is imported; importing tfxkit never
does. Each changes nothing once its package is imported. Nothing is imported at module
level.
"""
from __future__ import annotations

import importlib
import sys
from typing import Dict

# The modules apache_beam.io's __init__ imports in one try block (``from M import *``,
# and ``from apache_beam.io.gcp import gcsio``): skipped there, imported when first named.
BEAM_GCP_IO = ("apache_beam.io.gcp.bigquery", "apache_beam.io.gcp.pubsub",
               "apache_beam.transforms.xlang.io")


def startup(cfg=None) -> Dict[str, bool]:
    """Both, before TFX or Beam is imported; Beam's GCP I/O stays eager for a BigQuery
    source or a runner other than Beam's direct one. Returns what was made lazy."""
    from tfxkit.pipelines import compat

    beam = cfg is None or (cfg.data.source.kind != "bigquery" and cfg.beam.runner == "direct")
    # TFX 1.21's Evaluator reads TFMA's EvalConfig from what its tfx.components __init__
    # set up first: a lazy tfx.components fails there (AttributeError, tfma.EvalConfig);
    # only TFX 1.16's is made lazy
    return {"tfx.components": lazy_tfx_components() if compat.tfx_release() < (1, 21) else False,
            "apache_beam.io": lazy_beam_gcp_io() if beam else False}


def _find_spec(finder, name, path, target):
    for other in sys.meta_path:
        find = getattr(other, "find_spec", None)
        if other is finder or find is None:
            continue
        spec = find(name, path, target)
        if spec is not None:
            return spec
    return None


def lazy_tfx_components() -> bool:
    """Makes ``tfx.components`` a package that imports a stock component when it is first
    named (``from tfx.components import Trainer``, ``tfx.components.Trainer``), not all
    sixteen at once. The names and their modules are read from its ``__init__`` (its
    ``from M import N`` lines), so it offers the same names on every TFX. Returns False,
    changing nothing, once ``tfx.components`` is imported (or where its ``__init__``
    cannot be read)."""
    if "tfx.components" in sys.modules:
        return False
    import importlib.util

    spec = importlib.util.find_spec("tfx.components")  # imports ``tfx`` (its version only)
    names = _component_names(spec.origin) if spec and spec.origin else None
    if not names or "tfx.components" in sys.modules:
        return False
    module = importlib.util.module_from_spec(spec)  # not executed: no component imported

    def __getattr__(name):  # PEP 562: a component is imported when first named
        if name not in names:
            raise AttributeError(f"module 'tfx.components' has no attribute {name!r}")
        value = getattr(importlib.import_module(names[name]), name)
        setattr(module, name, value)
        return value

    module.__getattr__ = __getattr__
    module.__all__ = sorted(names)
    sys.modules["tfx.components"] = module
    setattr(sys.modules["tfx"], "components", module)
    return True


def _component_names(init_path: str) -> Dict[str, str]:
    """{name: module} of the ``from tfx.components.M import N`` lines of ``init_path``."""
    import ast

    try:
        with open(init_path, encoding="utf-8") as f:
            tree = ast.parse(f.read())
    except (OSError, SyntaxError, ValueError):
        return {}
    return {a.asname or a.name: node.module for node in ast.walk(tree)
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module
            and node.module.startswith("tfx.components.") for a in node.names}


class _BeamIoFinder:
    """On ``sys.meta_path`` until ``apache_beam.io`` is imported: while its ``__init__``
    runs, the BEAM_GCP_IO modules are not found (ImportError: that ``__init__`` skips
    them); then its module gets a ``__getattr__`` that imports them when a name of theirs
    is first asked for, and this finder leaves ``sys.meta_path``. A Beam whose ``__init__``
    does not catch that ImportError has it run again, as it is (nothing made lazy)."""

    def __init__(self):
        self.inside = False

    def find_spec(self, name, path=None, target=None):
        if self.inside and name in BEAM_GCP_IO:
            raise ImportError(f"{name}: imported when first used (tfxkit.pipelines."
                              "lazy_imports)", name=name)
        if name != "apache_beam.io":
            return None
        spec = _find_spec(self, name, path, target)
        if spec is not None and spec.loader is not None:
            spec.loader = _BeamIoLoader(spec.loader, self)
        return spec


class _BeamIoLoader:
    def __init__(self, loader, finder):
        self._loader, self._finder = loader, finder

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module):
        self._finder.inside = True
        try:
            self._loader.exec_module(module)
        except ImportError as e:
            if e.name not in BEAM_GCP_IO:
                raise
            # a Beam that imports them outside its try block: import it as it is
            self._finder.inside = False
            self._loader.exec_module(module)
            return
        finally:
            self._finder.inside = False
            if self._finder in sys.meta_path:
                sys.meta_path.remove(self._finder)
        module.__getattr__ = _beam_io_getattr(module)

    def __getattr__(self, name):
        return getattr(self._loader, name)


def _beam_io_getattr(io_module):
    def __getattr__(name):  # PEP 562: what the skipped ``from M import *`` would bind
        if name == "gcsio":
            value = importlib.import_module("apache_beam.io.gcp.gcsio")
            setattr(io_module, name, value)
            return value
        if not name.startswith("_"):
            for module_name in BEAM_GCP_IO:
                try:
                    mod = importlib.import_module(module_name)
                except ImportError:  # not installed: as Beam's own try block
                    continue
                public = getattr(mod, "__all__", None)
                if (name in public) if public is not None else hasattr(mod, name):
                    value = getattr(mod, name)
                    setattr(io_module, name, value)
                    return value
        raise AttributeError(f"module 'apache_beam.io' has no attribute {name!r}")

    return __getattr__


def lazy_beam_gcp_io() -> bool:
    """Makes Beam's BigQuery and Pub/Sub I/O (``BEAM_GCP_IO``) import when first named on
    ``apache_beam.io``, not when Beam is imported. Returns False, changing nothing, once
    ``apache_beam.io`` is imported or while the finder is already in place."""
    if "apache_beam.io" in sys.modules or any(isinstance(f, _BeamIoFinder)
                                              for f in sys.meta_path):
        return False
    sys.meta_path.insert(0, _BeamIoFinder())
    return True
