"""``tfxkit report`` and ``tfxkit lineage`` (``infra/cli/report.py``): over an ML Metadata
that exists but holds nothing yet, one line saying so (exit 1); what the command does with
a report written or a lineage read (the renderers are tested in tests/unit/infra/metadata)."""
import os
from types import SimpleNamespace

import pytest
from click.testing import CliRunner

from tfxkit.infra.cli import main
from tfxkit.pipelines import mlmd
from tfxkit.pipelines.config import load_config
from tests.unit.infra.serving.test_online_service import TEMPLATE_CONFIG


@pytest.fixture
def empty_metadata(tmp_path):
    """The use case's ML Metadata, created and empty (no run has written to it)."""
    sets = ["--set", f"root={tmp_path}/root", "--set", f"metadata.sqlite={tmp_path}/m.sqlite"]
    cfg = load_config(TEMPLATE_CONFIG, overrides=sets[1::2])
    assert cfg.metadata_path == f"{tmp_path}/m.sqlite"
    os.makedirs(os.path.dirname(cfg.metadata_path), exist_ok=True)
    mlmd.open_store(cfg)
    assert mlmd.exists(cfg)
    return sets


def tfxkit(*args):
    return CliRunner().invoke(main, [args[0], TEMPLATE_CONFIG, *args[1:]])


def test_report_and_lineage_of_a_use_case_with_nothing_in_its_metadata(empty_metadata):
    r = tfxkit("report", *empty_metadata)
    assert r.exit_code == 1 and r.stdout == ""
    assert r.stderr == "pipeline penguin-species has no run in ML Metadata yet\n"
    r = tfxkit("lineage", *empty_metadata)
    assert r.exit_code == 1 and r.stdout == ""
    assert r.stderr == ("pipeline penguin-species has pushed no model yet (nothing in its "
                        "ML Metadata)\n")


def test_report_prints_the_path_and_warns_of_a_stale_run(empty_metadata, monkeypatch):
    from tfxkit.infra.metadata import report

    seen = {}

    def write_report(cfg, run_id=None, output=None, on_stale=None):
        seen.update(run_id=run_id, output=output)
        on_stale([SimpleNamespace()])
        return "/x/run-7.html"

    monkeypatch.setattr(report, "write_report", write_report)
    monkeypatch.setattr("tfxkit.infra.run.state.stale_text", lambda stale: "run 7 was killed")
    r = tfxkit("report", *empty_metadata, "--run", "7", "-o", "/x/run-7.html")
    assert r.exit_code == 0, r.output
    assert r.stdout == "Report: /x/run-7.html\n" and r.stderr == "run 7 was killed\n"
    assert seen == {"run_id": "7", "output": "/x/run-7.html"}


@pytest.mark.parametrize("fmt,text", [("text", "line 1\nline 2\n"), ("json", '{"v": "3"}\n'),
                                      ("svg", "<svg/>")])
def test_lineage_prints_or_writes_the_format_asked_for(empty_metadata, monkeypatch, tmp_path,
                                                       fmt, text):
    from tfxkit.infra.metadata.lineage import render, walk

    result = SimpleNamespace(model_version="3")
    asked = []
    monkeypatch.setattr(walk, "model_lineage",
                        lambda store, name, version: asked.append((name, version)) or result)
    monkeypatch.setattr(render, "render_text", lambda r: ["line 1", "line 2"])
    monkeypatch.setattr(render, "to_json", lambda r: '{"v": "3"}')
    monkeypatch.setattr(render, "render_svg", lambda r: "<svg/>")
    r = tfxkit("lineage", *empty_metadata, "--format", fmt, "--model", "3")
    assert r.exit_code == 0 and r.stdout == text, r.output
    out = tmp_path / "lineage.out"
    r = tfxkit("lineage", *empty_metadata, "--format", fmt, "-o", str(out))
    assert r.exit_code == 0, r.output
    assert r.stdout == f"wrote the lineage of penguin-species model 3 to {out}\n"
    assert out.read_text() == text and os.listdir(tmp_path).count("lineage.out.tmp") == 0
    assert asked == [("penguin-species", "3"), ("penguin-species", None)]
