"""The tfxkit command: fast help, templates, new, validate, generate."""
import os
import subprocess
import sys
import time
from pathlib import Path

BIN = Path(sys.executable).parent / "tfxkit"
ROOT = Path(__file__).resolve().parents[4]


def run(*args, cwd=None):
    return subprocess.run([str(BIN), *args], capture_output=True, text=True, cwd=cwd)


def test_help_is_fast_and_imports_no_tensorflow():
    t = time.monotonic()
    r = run("--help")
    assert r.returncode == 0 and "run" in r.stdout and "validate" in r.stdout
    assert time.monotonic() - t < 2.0
    probe = subprocess.run(
        [sys.executable, "-c", "import sys; from tfxkit.infra import cli; "
         "sys.argv=['tfxkit','--help']\ntry: cli.main()\nexcept SystemExit: pass\n"
         "print('tensorflow' in sys.modules, 'tfx' in sys.modules)"],
        capture_output=True, text=True)
    assert probe.stdout.strip().endswith("False False")


def test_templates_lists_all():
    r = run("templates")
    assert r.returncode == 0
    for name in ("multiclass", "binary", "regression", "bandit"):
        assert name in r.stdout


def test_new_copies_template(tmp_path):
    r = run("new", "my-penguins", "--template", "multiclass", "--dir", str(tmp_path))
    assert r.returncode == 0, r.stderr
    cfg = tmp_path / "my-penguins" / "config.yaml"
    assert "name: my-penguins" in cfg.read_text()
    assert (tmp_path / "my-penguins" / "data" / "penguins.csv").is_file()
    assert (tmp_path / "my-penguins" / "tests" / "test_preprocessing.py").is_file()
    r = run("validate", str(cfg))
    assert r.returncode == 0 and "OK" in r.stdout
    again = run("new", "my-penguins", "--template", "multiclass", "--dir", str(tmp_path))
    assert again.returncode != 0 and "already exists" in again.stderr


def test_new_from_template_is_cleaned_of_the_template(tmp_path):
    r = run("new", "my-penguins", "-t", "multiclass", "--dir", str(tmp_path))
    assert r.returncode == 0, r.stderr
    text = (tmp_path / "my-penguins" / "config.yaml").read_text()
    assert "penguin-species" not in text and "tfxkit_penguin" not in text
    assert "database: tfxkit_my_penguins" in text and "gs://my-bucket/my-penguins/" in text
    assert text.startswith("# my-penguins (multiclass): made from the multiclass template")


def _csv(tmp_path, label="target", values=lambda i: "ab"[i % 3 == 0]):
    lines = [f"row_key,x,color,{label}"] + [
        f"k{i},{'' if i == 5 else i * 0.7},{'rgb'[i % 3]},{values(i)}" for i in range(40)]
    (tmp_path / "d.csv").write_text("\n".join(lines) + "\n")
    return str(tmp_path / "d.csv")


def test_new_from_data_writes_a_valid_use_case(tmp_path):
    r = run("new", "mine", "--data", _csv(tmp_path), "--dir", str(tmp_path / "cases"))
    assert r.returncode == 0, r.stderr
    assert "label: target (the only column with a usual label name ('target'))" in r.stdout
    assert "task: binary (the label has 2 distinct values (a, b))" in r.stdout
    assert "key: row_key" in r.stdout and "feature x: numeric" in r.stdout
    assert "gate: accuracy >= 0.7 (majority class 'a' is 0.65 of rows, +0.05)" in r.stdout
    v = run("validate", str(tmp_path / "cases" / "mine" / "config.yaml"))
    assert v.returncode == 0 and "OK" in v.stdout, v.stdout + v.stderr


def test_new_from_data_refuses_bad_input_and_writes_nothing(tmp_path):
    data = _csv(tmp_path, label="outcome_code", values=lambda i: i % 3)
    cases = tmp_path / "cases"
    for args, message in [
            (("--data", str(tmp_path / "nope.csv")), "nope.csv: no such file or folder"),
            (("--data", data), "which column is the label?"),
            (("--data", data, "--label", "outcome"),
             "--label 'outcome': not a column of " + data + "; did you mean 'outcome_code'?"),
            (("--data", data, "--label", "outcome_code"),
             "3 distinct values (0, 1, 2): classes or a quantity? Give --task multiclass"),
            (("--data", data, "--label", "color", "--key", "x"), "--key 'x': not a row id")]:
        r = run("new", "mine", *args, "--dir", str(cases))
        assert r.returncode == 2, (args, r.stdout, r.stderr)
        assert message in r.stderr, (args, r.stderr)
        assert not cases.exists() or not list(cases.iterdir())
    r = run("new", "mine", "--data", data, "-t", "multiclass", "--dir", str(cases))
    assert r.returncode == 2 and "not both" in r.stderr
    ok = run("new", "mine", "--data", data, "--label", "outcome_code", "--task", "multiclass",
             "--dir", str(cases))
    assert ok.returncode == 0, ok.stderr
    again = run("new", "mine", "--data", data, "--label", "outcome_code", "--dir", str(cases))
    assert again.returncode == 2 and "already exists" in again.stderr


def test_new_rejects_unknown_template(tmp_path):
    r = run("new", "x", "--template", "nope", "--dir", str(tmp_path))
    assert r.returncode != 0 and "unknown template" in r.stderr


def test_validate_bad_config_exits_nonzero_naming_field(tmp_path):
    cfg = tmp_path / "config.yaml"
    (tmp_path / "d.csv").write_text("a,y\n1,2\n")
    cfg.write_text("name: x\ntask: regression\nlabel: y\ndata: {source: {csv: d.csv}}\n"
                   "features: {dense: [a, b]}\neval: {metrics: [{name: mae, upper_bound: 1}]}\n")
    r = run("validate", str(cfg))
    assert r.returncode == 2
    assert "config.yaml: features.dense: column 'b' is not in the data" in r.stderr


def test_validate_lists_every_problem_of_data_and_inference(tmp_path):
    """The issue's new user: a misspelt label key is shown with the other problems; then a
    dirty number, a renamed column, and inference still on the template's data."""
    cfg = tmp_path / "config.yaml"
    (tmp_path / "d.csv").write_text("id,flipper_mm,mass,y\n1,1.0,3000,2.5\n2,2.0,3100,3.5\n"
                                    "3,3.0,3200,4.5\n4,4.0,3300,5.5\n5,5.0,heavy,6.5\n")
    (tmp_path / "new.csv").write_text("penguin_id,bill\n1,2.0\n")
    body = ("name: x\ntask: regression\nlabel: y\ndata: {source: {csv: d.csv}}\n"
            "features: {dense: [flipper_length_mm, mass]}\n"
            "eval: {metrics: [{name: mae, upper_bound: 1}]}\n"
            "inference: {source: {csv: new.csv}, key: id}\n")
    cfg.write_text(body.replace("label: y", "lable: y"))
    r = run("validate", str(cfg))
    assert r.returncode == 2
    assert f"{cfg}: label: required but missing" in r.stderr
    assert f"{cfg}: lable: unknown key (did you mean label?)" in r.stderr
    cfg.write_text(body)
    r = run("validate", str(cfg))
    lines = r.stderr.strip().splitlines()
    assert r.returncode == 2 and len(lines) == 4, r.stderr
    assert lines[0].startswith(f"config error: {cfg}: features.dense: column "
                               "'flipper_length_mm' is not in the data; did you mean "
                               "'flipper_mm'?")
    assert lines[1].startswith(f"{cfg}: features.dense: {tmp_path / 'd.csv'}, data row 5: "
                               "column 'mass' is 'heavy', not a number (1 row like it); fix "
                               "the data, or set data.on_bad_value: reject")
    assert lines[2].startswith(f"{cfg}: inference.key: column 'id' is not in the inference "
                               "data")
    assert lines[3].startswith(f"{cfg}: inference.source.csv: the inference data lacks "
                               "column(s) 'flipper_length_mm', 'mass' that model 'x' reads")
    (tmp_path / "new.csv").write_text("id,flipper_mm,mass\n1,2.0,3000\n")
    cfg.write_text(body.replace("flipper_length_mm", "flipper_mm").replace(
        "data: {source: {csv: d.csv}}", "data: {source: {csv: d.csv}, on_bad_value: reject}"))
    r = run("validate", str(cfg))
    assert r.returncode == 0, r.stderr
    assert "1 row(s) with a value that is not a number will be rejected " \
           "(data.on_bad_value: reject): mass 1" in r.stdout
    assert "inference: 1 rows in 1 file(s) (new.csv), key id; model x reads 2 column(s): " \
           "all present" in r.stdout
    assert "store: sqlite .tfxkit/predictions.sqlite (address parses; not connected)" \
        in r.stdout


def test_generate_eta(tmp_path):
    r = run("generate", "eta", "--rows", "100", "--days", "3", "--out", str(tmp_path))
    assert r.returncode == 0
    files = sorted(os.listdir(tmp_path))
    assert files == ["eta-2026-01-01.csv", "eta-2026-01-02.csv", "eta-2026-01-03.csv"]
    lines = sum(len((tmp_path / f).read_text().splitlines()) - 1 for f in files)
    assert lines == 100


def test_generate_newsletter(tmp_path):
    from tfxkit.pipelines.datasets import newsletter

    out = tmp_path / "nl"
    r = run("generate", "newsletter", "--weeks", "3", "--users", "40", "--seed", "7",
            "--start", "2026-02-02", "--out", str(out))
    assert r.returncode == 0, r.stderr
    assert "wrote 3 week(s) of 40 users" in r.stdout and str(out / "users.csv") in r.stdout
    weeks = sorted(os.listdir(out / "weeks"))
    assert weeks == ["newsletter-2026-02-02.csv", "newsletter-2026-02-09.csv",
                     "newsletter-2026-02-16.csv"]
    assert sorted(os.listdir(out)) == ["users.csv", "weeks"]
    # the generator's own files for these options, byte for byte: seed, start, users passed
    ref = newsletter.write_weeks(str(tmp_path / "ref"), weeks=3, users_per_week=40,
                                 start="2026-02-02", seed=7)
    for name, path in zip(weeks, ref):
        assert (out / "weeks" / name).read_bytes() == Path(path).read_bytes()
    users = newsletter.write_users(str(tmp_path / "ref" / "users.csv"), n_users=40, seed=7,
                                   weeks=3)
    assert (out / "users.csv").read_bytes() == Path(users).read_bytes()
    lines = (out / "users.csv").read_text().splitlines()
    assert lines[0] == ",".join(newsletter.USER_COLUMNS) and len(lines) == 41
    other = run("generate", "newsletter", "--weeks", "1", "--users", "40", "--seed", "8",
                "--start", "2026-02-02", "--out", str(tmp_path / "other"))
    assert other.returncode == 0, other.stderr
    assert (tmp_path / "other" / "weeks" / weeks[0]).read_bytes() != \
        (out / "weeks" / weeks[0]).read_bytes()


def test_generate_newsletter_defaults(tmp_path):
    r = run("generate", "newsletter", "--users", "5", "--out", str(tmp_path))
    assert r.returncode == 0, r.stderr
    assert sorted(os.listdir(tmp_path / "weeks")) == [
        "newsletter-2026-01-05.csv", "newsletter-2026-01-12.csv",
        "newsletter-2026-01-19.csv", "newsletter-2026-01-26.csv"]


def test_generate_refuses_what_the_kind_does_not_take(tmp_path):
    for args, message in [
            (("newsletter", "--days", "2"), "--days is not an option of newsletter (it takes "
                                            "--weeks, --users, --start)"),
            (("eta", "--weeks", "2"), "--weeks is not an option of eta"),
            (("newsletter", "--users", "0"), "--users must be at least 1, got 0"),
            (("eta", "--rows", "0"), "--rows must be at least 1, got 0"),
            (("newsletter", "--start", "2026-01-06"), "2026-01-06 is a Tuesday; a newsletter "
                                                      "week starts on a Monday"),
            (("eta", "--start", "soon"), "--start 'soon' is not a date")]:
        r = run("generate", *args, "--out", str(tmp_path / "x"))
        assert r.returncode == 2 and message in r.stderr, (args, r.stderr)
    assert not (tmp_path / "x").exists()
