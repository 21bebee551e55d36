"""``tfxkit models`` and ``tfxkit rollback`` (``infra/cli/models.py``) on a registry changed
by hand: missing and changed folders, a serving pointer naming no version, a folder the
index does not name; through click's CliRunner."""
import json
import shutil

from tests.unit.components.registry.test_registry import model
from tests.unit.components.registry.test_registry_faults import (TEMPLATE_CONFIG,
                                                                  three_versions, tfxkit)


def test_models_warns_for_missing_and_changed_folders(tmp_path):
    r, (v1, v2, v3) = three_versions(tmp_path)
    (tmp_path / "models" / v3 / "saved_model.pb").write_bytes(b"edited")
    ok = tfxkit(tmp_path, "models")
    assert ok.exit_code == 0, ok.output  # a broken version that does not serve: a warning
    assert f"WARNING: folder {r.version_path(v3)} is changed" in ok.output
    assert "WARNING" not in ok.output.split(f"* {v2}")[1].split(f"  {v1}")[0]
    shutil.rmtree(r.version_path(v2))  # the serving one
    bad = tfxkit(tmp_path, "models")
    assert bad.exit_code == 1, bad.output
    assert f"* {v2}" in bad.output
    assert f"WARNING: folder {r.version_path(v2)} is missing: the serving version is " \
           "broken (nothing can be served from it); the next push of this model restores " \
           "it" in bad.output
    assert "Traceback" not in bad.output
    quick = tfxkit(tmp_path, "models", "--no-verify")  # no hashing: the missing one only
    assert quick.exit_code == 1 and "is changed" not in quick.output
    assert f"{r.version_path(v2)} is missing" in quick.output


def test_models_flags_a_serving_pointer_naming_no_version(tmp_path):
    r, (v1, v2, v3) = three_versions(tmp_path)
    index = json.loads((tmp_path / "models" / "registry.json").read_text())
    index["serving"] = "123"
    (tmp_path / "models" / "registry.json").write_text(json.dumps(index))
    out = tfxkit(tmp_path, "models")
    assert out.exit_code == 1, out.output
    assert (f"WARNING: the index's serving version 123 is not one of its versions "
            f"({v1}, {v2}, {v3})") in out.output
    assert "* " not in out.output  # nothing is shown as serving


def test_models_flags_a_folder_the_index_does_not_name(tmp_path):
    r, (v1, v2, v3) = three_versions(tmp_path)
    shutil.copytree(model(tmp_path, "stray", b"S"), tmp_path / "models" / "1")
    out = tfxkit(tmp_path, "models")
    assert out.exit_code == 0
    assert (f"WARNING: version 1: folder {r.version_path('1')} is not in the index (it has "
            "no record: the next push or rollback removes it") in out.output
    assert f"tfxkit models {TEMPLATE_CONFIG} --repair takes it in" in out.output


def test_rollback_refuses_a_changed_or_missing_folder(tmp_path):
    r, (v1, v2, v3) = three_versions(tmp_path)
    (tmp_path / "models" / v1 / "saved_model.pb").write_bytes(b"edited")
    out = tfxkit(tmp_path, "rollback", "--to", v1)
    assert out.exit_code == 1 and "content hash differs" in out.stderr
    shutil.rmtree(r.version_path(v3))
    out = tfxkit(tmp_path, "rollback", "--to", v3)
    assert out.exit_code == 1 and "is gone" in out.stderr
    assert r.serving().version == v2


def test_models_alias_set_list_remove(tmp_path):
    r, (v1, v2, v3) = three_versions(tmp_path)
    out = tfxkit(tmp_path, "models", "--help")
    assert "models alias" in out.output
    from click.testing import CliRunner

    from tfxkit.infra.cli import main

    def alias(*args):
        return CliRunner().invoke(main, ["models", "alias", TEMPLATE_CONFIG, *args, "--set",
                                         f"push.registry={tmp_path}/models"])

    ok = alias("champion", v1, "--reason", "best on slices")
    assert ok.exit_code == 0, ok.output
    assert f"penguin-species: alias champion -> version {v1}" in ok.output
    assert alias("challenger", v3).exit_code == 0
    moved = alias("champion", v3)
    assert f"alias champion -> version {v3} (was {v1})" in moved.output
    assert r.aliases() == {"champion": v3, "challenger": v3}
    assert r.serving().version == v2  # aliases never move the serving pointer
    listing = tfxkit(tmp_path, "models")
    assert listing.exit_code == 0, listing.output
    assert f"aliases: challenger -> {v3}, champion -> {v3}" in listing.output
    assert "[challenger, champion]" in listing.output.split(f"  {v3}")[1].split("\n")[0]
    assert f"alias    {v3} as champion from {v1}" in listing.output
    gone = alias("--remove", "challenger")
    assert gone.exit_code == 0 and f"removed alias challenger (was version {v3})" in gone.output
    assert r.aliases() == {"champion": v3}
    bad = alias("Champion", v1)
    assert bad.exit_code == 2 and "alias 'Champion' is not a valid name" in bad.output
    unknown = alias("x", "42")
    assert unknown.exit_code == 2 and "unknown model version '42'" in unknown.output
    nobody = alias("--remove", "nobody")
    assert nobody.exit_code == 2 and "unknown model alias 'nobody'" in nobody.output
    assert f"champion -> {v3}" in nobody.output
    assert alias("champion").exit_code == 2


def test_models_shows_each_versions_model_card(tmp_path):
    """A version pushed with a model card shows its path; one without shows none; the
    card does not make the folder look changed."""
    from tfxkit.components.registry.registry import Registry

    r, (v1, v2, v3) = three_versions(tmp_path)

    def card(version, record):
        record["model_card"] = "model_card/model_card.html"
        return {"model_card/model_card.html": b"<html></html>"}

    v4 = Registry(str(tmp_path / "models")).publish_detailed(
        model(tmp_path, "m4", b"w4"), {"metrics": {"accuracy": 0.9}}, extra=card).version
    out = tfxkit(tmp_path, "models")
    assert out.exit_code == 0, out.output
    assert f"card {r.version_path(v4)}/model_card/model_card.html" in out.output
    assert out.output.count("      card ") == 1 and "WARNING" not in out.output


def test_models_shows_each_versions_tflite_model(tmp_path):
    """A version pushed with push.tflite shows its .tflite, size, signature and the
    check's figure; the tflite/ folder does not make the folder look changed."""
    from tfxkit.components.registry.registry import Registry
    from tfxkit.components.tflite.files import info_record

    r, _ = three_versions(tmp_path)

    def tflite(version, record):
        record["tflite"] = info_record({"signature": "serving_raw", "size_bytes": 4,
                                        "sha256": "ab" * 32, "max_abs_diff": 3.7e-07,
                                        "rows": 70})
        return {"tflite/model.tflite": b"TFL3", "tflite/tflite.json": b"{}"}

    v4 = Registry(str(tmp_path / "models")).publish_detailed(
        model(tmp_path, "m4", b"w4"), {"metrics": {"accuracy": 0.9}}, extra=tflite).version
    out = tfxkit(tmp_path, "models")
    assert out.exit_code == 0, out.output
    assert (f"tflite {r.version_path(v4)}/tflite/model.tflite  4 bytes  serving_raw  max abs "
            "diff 3.7e-07 on 70 eval rows") in out.output
    assert out.output.count("      tflite ") == 1 and "WARNING" not in out.output
