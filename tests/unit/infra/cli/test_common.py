"""What the commands share (``infra/cli/common.py``): the config options, a bad config or
bad data exiting 2 naming the field, a use case without ML Metadata exiting 1, a node's
progress line, a run report that cannot be written being a warning only."""
from types import SimpleNamespace

import click
from click.testing import CliRunner

from tfxkit.infra.cli import common
from tests.unit.infra.serving.test_online_service import TEMPLATE_CONFIG


@click.command()
@common.config_options
@click.option("--no-check", is_flag=True)
def show(config, profile, sets, no_check):
    cfg, info = common.load_or_exit(config, profile, sets, check=not no_check)
    click.echo(f"{cfg.name} epochs={cfg.model.epochs} rows={info and info['rows']}")


@click.command()
@common.config_options
def reader(config, profile, sets):
    cfg = common.load_with_metadata(config, profile, sets)
    click.echo(cfg.name)


def test_config_options_apply_the_profile_and_the_sets_and_check_the_data():
    r = CliRunner().invoke(show, [TEMPLATE_CONFIG])
    assert r.exit_code == 0 and r.output == "penguin-species epochs=30 rows=344\n", r.output
    r = CliRunner().invoke(show, [TEMPLATE_CONFIG, "-p", "quick", "--no-check"])
    assert r.output == "penguin-species epochs=5 rows=None\n", r.output
    r = CliRunner().invoke(show, [TEMPLATE_CONFIG, "--profile", "quick",
                                  "--set", "model.epochs=3", "--set", "model.batch_size=8"])
    assert r.exit_code == 0 and "epochs=3 " in r.output, r.output


def test_a_bad_config_or_bad_data_exits_2_naming_the_field(tmp_path):
    r = CliRunner().invoke(show, [TEMPLATE_CONFIG, "--set", "model.epochs=-3"])
    assert r.exit_code == 2 and r.stdout == ""
    assert r.stderr.startswith("config error: ") and "model.epochs" in r.stderr
    empty = tmp_path / "empty.csv"
    empty.write_text("species,island\n")
    r = CliRunner().invoke(show, [TEMPLATE_CONFIG, "--set", f"data.source={{csv: '{empty}'}}"])
    assert r.exit_code == 2 and "data.source.csv" in r.stderr and "empty" in r.stderr, r.stderr
    r = CliRunner().invoke(show, [TEMPLATE_CONFIG, "--no-check",
                                  "--set", f"data.source={{csv: '{empty}'}}"])
    assert r.exit_code == 0, r.output  # the data is not read without the check


def test_a_reader_of_a_use_case_that_never_ran_exits_1_saying_so(tmp_path):
    r = CliRunner().invoke(reader, [TEMPLATE_CONFIG, "--set", f"root={tmp_path}/root",
                                    "--set", f"metadata.sqlite={tmp_path}/m.sqlite"])
    assert r.exit_code == 1, r.output
    assert "no ML Metadata for penguin-species yet" in r.stderr
    assert f"run tfxkit run {TEMPLATE_CONFIG} first" in r.stderr
    r = CliRunner().invoke(reader, [TEMPLATE_CONFIG, "--set", "name=Bad_Name"])
    assert r.exit_code == 2 and "name" in r.stderr


def test_a_nodes_progress_line():
    @click.command()
    def line():
        common.print_node(SimpleNamespace(node_id="Trainer", state="cached", elapsed=1.25))
        common.print_node(SimpleNamespace(node_id="Evaluator", state="failed", elapsed=12.0),
                          width=10)

    r = CliRunner().invoke(line, [])
    assert r.output.splitlines() == ["  Trainer            cached      1.2 s",
                                     "  Evaluator  failed     12.0 s"]


def test_a_run_report_that_cannot_be_written_is_a_warning(monkeypatch):
    from tfxkit.infra.metadata import report

    def broken(*a, **kw):
        raise OSError("disk full")

    monkeypatch.setattr(report, "write_report", broken)

    @click.command()
    def run():
        common.write_run_report(None, "p", SimpleNamespace(run_id="r1"), [])

    r = CliRunner().invoke(run, [])
    assert r.exit_code == 0, r.output
    assert r.stderr == "warning: the run report could not be written: OSError: disk full\n"
    monkeypatch.setattr(report, "write_report", lambda *a, **kw: "/x/report.html")
    r = CliRunner().invoke(run, [])
    assert r.output == "Report: /x/report.html\n"


NOISE = ("Unable to register", "FutureWarning", "cuda_", "You are using a Python version")
TF_COMMAND = """
import sys, click
from tfxkit.infra.cli import common, main

@main.command("import-tf")
@click.option("-v", "verbose", is_flag=True)
def import_tf(verbose):
    common.quiet_logs(verbose)
    import tensorflow
    import google.api_core
    print("imported", tensorflow.__version__)

main(sys.argv[1:])
"""


def _tf_command(*args, **env):
    import os
    import subprocess
    import sys

    base = {k: v for k, v in os.environ.items()
            if k not in ("TF_CPP_MIN_LOG_LEVEL", "PYTHONWARNINGS")}
    return subprocess.run([sys.executable, "-c", TF_COMMAND, "import-tf", *args],
                          capture_output=True, text=True, env={**base, **env}, timeout=300)


def test_a_command_that_imports_tensorflow_prints_no_library_noise():
    """No cuFFT/cuDNN/cuBLAS registration errors (TF's C++ logs at import on a CPU
    machine) and no google-api-core support notice: the tfxkit command's environment and
    warning filters (``infra/cli/__init__.py``), unless -v."""
    r = _tf_command()
    assert r.returncode == 0 and "imported" in r.stdout, r.stderr
    assert not [n for n in NOISE if n in r.stderr], r.stderr
    # -v lowers TensorFlow's C++ log level to 0 (shows everything), unless the user set it
    import os
    import subprocess
    import sys

    probe = TF_COMMAND.replace(
        "    import tensorflow\n    import google.api_core\n    print(\"imported\", "
        "tensorflow.__version__)\n",
        "    import os; print('level', os.environ['TF_CPP_MIN_LOG_LEVEL'])\n")
    assert probe != TF_COMMAND
    base = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    for env, flag, level in (({}, "-v", "0"), ({"TF_CPP_MIN_LOG_LEVEL": "1"}, "-v", "1"),
                             ({}, None, "3")):
        out = subprocess.run([sys.executable, "-c", probe, "import-tf",
                              *([flag] if flag else [])], capture_output=True, text=True,
                             env={**base, **env}, timeout=300).stdout
        assert f"level {level}" in out, (env, flag, out)
