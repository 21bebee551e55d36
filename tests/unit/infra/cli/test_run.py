"""``tfxkit run`` (``infra/cli/run.py``): a bad config stops it before any component."""
from tests.unit.infra.cli.test_use_case import run


def test_run_bad_config_fails_before_any_component(tmp_path):
    cfg = tmp_path / "config.yaml"
    (tmp_path / "d.csv").write_text("a,y\n")
    cfg.write_text("name: x\ntask: regression\nlabel: y\ndata: {source: {csv: d.csv}}\n"
                   "features: {dense: [a]}\neval: {metrics: [{name: mae, upper_bound: 1}]}\n")
    r = run("run", str(cfg))
    assert r.returncode == 2 and "data.source.csv: the data is empty" in r.stderr
    assert not (tmp_path / ".tfxkit").exists()
