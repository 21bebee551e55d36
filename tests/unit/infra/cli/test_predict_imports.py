"""What ``tfxkit predict`` imports before its first component runs (issue 18, start-up):
the real command in a fresh process, its checks of the pushed model and store replaced by
a model path that is never read (the probe stops at the first component's launch, before
the Importer), under ``python -X importtime`` (``tests/bench/import_probe.py``)."""
import subprocess
import sys

from tests.unit.infra.cli.test_run_imports import BENCH, NEVER, importers, template_copy

SCRIPT = r'''
import sys
sys.path.insert(0, sys.argv[1])
import import_probe
from tfxkit.infra.cli import predict
from tfxkit.pipelines.config import load_config
from tfxkit.pipelines.inference import PushedModel


def checked(config, profile, sets, check_store=True):
    cfg = load_config(config)
    models = {m.name: PushedModel(m.name, "/nonexistent/model/1", "1", "/nonexistent/model",
                                  1) for m in cfg.inference_models}
    return cfg, {"rows": 60, "models": models}


predict._load_inference = checked
import_probe.main(["predict", sys.argv[2]])
'''


def test_predict_imports_up_to_its_first_component_nothing_it_does_not_use(tmp_path):
    """No tfx.v1, Google Cloud extension, Beam BigQuery or Pub/Sub I/O or unused stock
    component; TFMA (predict does not
    evaluate) only where TFX's own ExampleGen driver imports it (its component specs),
    never from a tfxkit module."""
    import json

    sys.path.insert(0, str(BENCH))
    try:
        import bench_imports
    finally:
        sys.path.remove(str(BENCH))
    r = subprocess.run([sys.executable, "-X", "importtime", "-c", SCRIPT, str(BENCH),
                        str(template_copy(tmp_path))], capture_output=True, text=True,
                       timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    line = [ln for ln in r.stdout.splitlines() if ln.startswith("BENCH_RESULT ")]
    assert line, (r.stdout[-2000:], r.stderr[-3000:])
    out = json.loads(line[-1][len("BENCH_RESULT "):])
    assert out["stopped_at"] == "first component launch", out
    loaded = set(out["loaded"])
    assert {"tensorflow", "tfx"} <= loaded and not loaded & set(NEVER), out
    entries = bench_imports.parse_importtime(r.stderr)
    tfma = importers(entries, "tensorflow_model_analysis")
    assert not [m for m in tfma if m.startswith("tfxkit")], tfma
    assert set(importers(entries, "tfx.types.standard_component_specs")) <= {
        "tfx.components.example_gen.driver", "tfxkit.components.example_gen.component",
        "tfxkit.components.example_gen.executor"}
