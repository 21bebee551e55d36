"""``lazy_imports``: tfx.components and Beam's GCP I/O imported when first used, each
checked in a fresh process (the changes are process-wide)."""
import ast
import importlib.util
import json
import subprocess
import sys
from types import SimpleNamespace

import pytest

from tfxkit.pipelines import compat, lazy_imports

TFX_PROBE = r'''
import json, sys
from tfxkit.pipelines import lazy_imports

first = lazy_imports.lazy_tfx_components()
again = lazy_imports.lazy_tfx_components()
import tfx.components
names = list(tfx.components.__all__)
from tfx.components import Pusher
import tfx.components.trainer.component
trainer = tfx.components.Trainer
try:
    tfx.components.NoSuchGen
    missing = "no error"
except AttributeError as e:
    missing = str(e)
print("RESULT " + json.dumps({
    "first": first, "again": again, "names": names,
    "pusher": Pusher.__module__, "trainer": trainer.__module__, "missing": missing,
    "loaded": sorted(m for m in ("tfx.components.tuner.component",
                                 "tfx.components.infra_validator.component",
                                 "tfx.components.bulk_inferrer.component", "keras_tuner",
                                 "kubernetes", "tfx.components.pusher.component")
                     if m in sys.modules)}))
'''

BEAM_PROBE = r'''
import json, sys
from tfxkit.pipelines import lazy_imports

first = lazy_imports.lazy_beam_gcp_io()
again = lazy_imports.lazy_beam_gcp_io()
import apache_beam as beam
watched = ("apache_beam.io.gcp.bigquery", "apache_beam.io.gcp.pubsub",
           "google.cloud.bigquery", "google.cloud.pubsub")
before = sorted(m for m in watched if m in sys.modules)
finder_left = any(type(f).__name__ == "_BeamIoFinder" for f in sys.meta_path)
from apache_beam.io.gcp.bigquery import ReadFromBigQuery as direct
read = beam.io.ReadFromBigQuery
pubsub = beam.io.ReadFromPubSub
gcsio = beam.io.gcsio
try:
    beam.io.NoSuchTransform
    missing = "no error"
except AttributeError as e:
    missing = str(e)
print("RESULT " + json.dumps({
    "first": first, "again": again, "before": before, "finder_left": finder_left,
    "same": read is direct, "pubsub": pubsub.__module__, "gcsio": gcsio.__name__,
    "text": hasattr(beam.io, "ReadFromText"), "missing": missing,
    "after": sorted(m for m in watched if m in sys.modules)}))
'''


def _result(script):
    r = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                       timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    return json.loads(next(ln for ln in r.stdout.splitlines()
                           if ln.startswith("RESULT "))[len("RESULT "):])


@pytest.mark.skipif(compat.tfx_release() >= (1, 21), reason="TFX 1.21: tfx.components "
                    "stays eager (startup does not call this; tested above)")
def test_tfx_components_imports_only_the_components_named():
    """tfx.components offers the names of its own __init__, and naming Pusher and
    Trainer imports those, not Tuner, InfraValidator (Kubernetes) or BulkInferrer; a
    second call changes nothing."""
    out = _result(TFX_PROBE)
    init = importlib.util.find_spec("tfx.components").origin
    expected = sorted(a.asname or a.name for node in ast.walk(ast.parse(open(init).read()))
                      if isinstance(node, ast.ImportFrom) for a in node.names)
    assert (out["first"], out["again"]) == (True, False)
    assert out["names"] == expected and {"Trainer", "Pusher", "Tuner"} <= set(expected)
    assert out["pusher"] == "tfx.components.pusher.component"
    assert out["trainer"] == "tfx.components.trainer.component"
    assert "has no attribute 'NoSuchGen'" in out["missing"]
    assert out["loaded"] == ["tfx.components.pusher.component"]


def test_beam_gcp_io_is_imported_when_first_named():
    """Importing Beam imports neither its BigQuery nor its Pub/Sub I/O (nor their Google
    Cloud clients); beam.io.ReadFromBigQuery then is the real one, imported then; the
    finder is gone once apache_beam.io is imported; an unknown name still fails."""
    out = _result(BEAM_PROBE)
    assert (out["first"], out["again"]) == (True, False)
    assert out["before"] == [] and not out["finder_left"], out
    assert out["same"] and out["pubsub"].startswith("apache_beam.io.gcp.pubsub"), out
    assert out["gcsio"] == "apache_beam.io.gcp.gcsio" and out["text"], out
    assert "has no attribute 'NoSuchTransform'" in out["missing"]
    assert {"apache_beam.io.gcp.bigquery", "apache_beam.io.gcp.pubsub"} <= set(out["after"])


@pytest.mark.parametrize("release", [(1, 16), (1, 21)])
def test_startup_keeps_beams_gcp_io_for_bigquery_and_remote_runners(monkeypatch, release):
    """... and tfx.components eager on TFX 1.21 (its Evaluator needs what that __init__
    sets up: tfma.EvalConfig)."""
    from tfxkit.pipelines import compat

    monkeypatch.setattr(compat, "tfx_release", lambda: release)
    tfx = ["tfx"] if release < (1, 21) else []
    calls = []
    monkeypatch.setattr(lazy_imports, "lazy_tfx_components", lambda: calls.append("tfx"))
    monkeypatch.setattr(lazy_imports, "lazy_beam_gcp_io", lambda: calls.append("beam"))

    def cfg(kind, runner):
        return SimpleNamespace(data=SimpleNamespace(source=SimpleNamespace(kind=kind)),
                               beam=SimpleNamespace(runner=runner))

    lazy_imports.startup(cfg("csv", "direct"))
    assert calls == tfx + ["beam"]
    calls.clear()
    lazy_imports.startup(cfg("bigquery", "direct"))
    lazy_imports.startup(cfg("csv", "dataflow"))
    assert calls == tfx + tfx


FAKE_PROBE = r'''
import json, sys
from tfxkit.pipelines import lazy_imports
lazy_imports.lazy_beam_gcp_io()
import apache_beam.io as io
before = "apache_beam.io.gcp.bigquery" in sys.modules
value = io.ReadFromBigQuery
print("RESULT " + json.dumps({"file": io.__file__, "before": before, "value": value,
                              "finder_left": any(type(f).__name__ == "_BeamIoFinder"
                                                 for f in sys.meta_path)}))
'''


def _fake_beam(root, guarded):
    io = root / "apache_beam" / "io"
    (io / "gcp").mkdir(parents=True)
    (root / "apache_beam" / "__init__.py").write_text("")
    (io / "gcp" / "__init__.py").write_text("")
    (io / "gcp" / "bigquery.py").write_text("ReadFromBigQuery = 7\n")
    line = "from apache_beam.io.gcp.bigquery import *\n"
    (io / "__init__.py").write_text(f"try:\n    {line}except ImportError:\n    pass\n"
                                    if guarded else line)


def test_beam_gcp_io_with_and_without_beams_try_block(tmp_path):
    """A stand-in apache_beam (first on the path): where its io/__init__ catches the
    ImportError, BigQuery's module is imported when its name is first asked for; where it
    does not, the __init__ runs again as it is (nothing lazy, nothing broken)."""
    import os

    for guarded in (True, False):
        root = tmp_path / f"guarded-{guarded}"
        _fake_beam(root, guarded)
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(
            [str(root)] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep)
                           if p]))
        r = subprocess.run([sys.executable, "-c", FAKE_PROBE], capture_output=True,
                           text=True, timeout=120, env=env)
        assert r.returncode == 0, r.stderr[-3000:]
        out = json.loads(next(ln for ln in r.stdout.splitlines()
                               if ln.startswith("RESULT "))[len("RESULT "):])
        assert out["file"].startswith(str(root)), out
        assert out["value"] == 7 and not out["finder_left"], out
        assert out["before"] is (not guarded), out
