"""``tfxkit choices export`` (``infra/cli/choices.py``): what it prints and its refusals."""
from click.testing import CliRunner

from tfxkit.infra.cli import main
from tests.unit.infra.serving.test_choice_export import cfg  # noqa: F401  (fixture)


def test_export_prints_what_went_in(cfg, tmp_path):  # noqa: F811
    (tmp_path / "data.csv").write_text("user_id,age,country,recommender,propensity,reward,"
                                       "week\n1,31,ch,r01,0.5,1,2026-01-01\n")
    out = tmp_path / "week.csv"
    r = CliRunner().invoke(main, ["choices", "export", cfg.config_path, "--out", str(out)])
    assert r.exit_code == 0, r.output
    assert f"wrote 3 rows to {out} from 3 choices in {tmp_path}/models/choices (models 4)" \
        in r.output
    assert "rewards: 2 fed back, 1 without feedback (reward 0), 0 left out" in r.output
    assert "column week: not in the log, left empty in 3 rows" in r.output
    r = CliRunner().invoke(main, ["choices", "export", cfg.config_path, "--out",
                                  str(tmp_path / "w2.csv"), "--fill", "week=2026-01-08",
                                  "--drop-unrewarded"])
    assert r.exit_code == 0 and "wrote 2 rows" in r.output and "column week" not in r.output


def test_refusals_exit_2_naming_the_reason(cfg, tmp_path):  # noqa: F811
    run = CliRunner().invoke
    r = run(main, ["choices", "export", cfg.config_path, "--out", str(tmp_path / "data.csv")])
    assert r.exit_code == 2 and "data.csv exists" in r.output
    r = run(main, ["choices", "export", cfg.config_path, "--out", str(tmp_path / "x.csv"),
                   "--fill", "week"])
    assert r.exit_code == 2 and "give COLUMN=VALUE" in r.output
    r = run(main, ["choices", "export", cfg.config_path, "--out", str(tmp_path / "x.csv"),
                   "--until", "2025-12-31"])
    assert r.exit_code == 2 and "no choices logged" in r.output
