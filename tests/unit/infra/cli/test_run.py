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


def test_the_first_line_counts_the_rows_on_bad_value_rejects(tmp_path):
    from tfxkit.infra.cli.run import header
    from tfxkit.pipelines.config import check_data, load_config

    (tmp_path / "d.csv").write_text("a,y\n1,2\nheavy,3\n4,5\n")
    cfg = tmp_path / "config.yaml"
    cfg.write_text("name: x\ntask: regression\nlabel: y\n"
                   "data: {source: {csv: d.csv}, on_bad_value: reject}\n"
                   "features: {dense: [a]}\neval: {metrics: [{name: mae, upper_bound: 1}]}\n")
    c = load_config(cfg)
    line = header(c, check_data(c))
    assert line.startswith("tfxkit run x: 3 rows (1 rejected by data.on_bad_value: reject, "
                           "a value that is not a number: a 1), pipeline root "), line
    c = load_config(cfg, overrides=["data.on_bad_value=fail"])
    (tmp_path / "d.csv").write_text("a,y\n1,2\n4,5\n")
    assert header(c, check_data(c)).startswith("tfxkit run x: 2 rows, pipeline root ")
