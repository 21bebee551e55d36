"""``tfxkit report`` imports TFMA (and with it TensorFlow and Beam) only to read a run's
evaluation, inside the function that reads it, never at a module's top (issue 18,
start-up): every module of the command and of the report, imported in a fresh process."""
import json
import subprocess
import sys

SCRIPT = r'''
import importlib, json, pkgutil, sys
import tfxkit.infra.cli.report
import tfxkit.infra.metadata.report as report
names = [m.name for m in pkgutil.walk_packages(report.__path__, report.__name__ + ".")]
for name in names:
    importlib.import_module(name)
heavy = ("tensorflow", "tensorflow_model_analysis", "apache_beam", "tfx")
print("RESULT " + json.dumps({"modules": names, "loaded": [
    h for h in heavy if any(m == h or m.startswith(h + ".") for m in sys.modules)]}))
'''


def test_the_report_command_imports_no_tfma_at_module_top():
    r = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True,
                       timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    out = json.loads(next(ln for ln in r.stdout.splitlines()
                          if ln.startswith("RESULT "))[len("RESULT "):])
    assert "tfxkit.infra.metadata.report.evaluation" in out["modules"], out
    assert out["loaded"] == [], out
