"""``tfxkit compile`` and ``tfxkit deploy`` (``infra/cli/deploy.py``): the spec written and
what is printed, a config that cannot compile, the schedule and parameters handed to
the submission (the client call is patched, nothing leaves this machine)."""
import json
import subprocess
import sys
from pathlib import Path
from unittest import mock

from tfxkit.infra.deploy import submit
from tests.unit.infra.deploy.test_compiler import IMAGE, ROOT

BIN = Path(sys.executable).parent / "tfxkit"


def test_cli_compile(tmp_path):
    out = tmp_path / "spec.json"
    r = subprocess.run([str(BIN), "compile", str(ROOT / "configs/penguin-species.yaml"),
                        "--profile", "vertex", "--target", "vertex", "--set",
                        f"deploy.image={IMAGE}", "--output", str(out)],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-2000:]
    assert "epochs=30" in r.stdout and str(out) in r.stdout
    d = json.loads(out.read_text())
    assert d["pipelineSpec"]["pipelineInfo"]["name"] == "penguin-species"
    bad = subprocess.run([str(BIN), "compile", str(ROOT / "configs/penguin-species.yaml"),
                          "--target", "kubeflow", "--output", str(tmp_path / "bad.json")],
                         capture_output=True, text=True)
    assert bad.returncode == 2 and "deploy" in bad.stderr, bad.stderr[-2000:]
    assert not (tmp_path / "bad.json").exists()


def test_cli_deploy_passes_schedule_and_params():
    from click.testing import CliRunner

    from tfxkit.infra import cli

    cfg_path = str(ROOT / "configs/penguin-species.yaml")
    res = mock.Mock(resource_name="projects/p/locations/l/schedules/9")
    with mock.patch.object(submit, "deploy", return_value=("/x/spec.json", res)) as d:
        r = CliRunner().invoke(cli.main, ["deploy", cfg_path, "--profile", "vertex",
                                          "--schedule", "--param", "epochs=7"])
    assert r.exit_code == 0, r.output
    assert "submitted schedule projects/p/locations/l/schedules/9" in r.output
    assert d.call_args.kwargs == {"schedule": True, "parameters": {"epochs": "7"}}
    r = CliRunner().invoke(cli.main, ["deploy", cfg_path, "--profile", "vertex",
                                      "--set", "deploy.project=null"])
    assert r.exit_code == 2 and "deploy.project" in r.output
