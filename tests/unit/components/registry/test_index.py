"""The registry's index (``index.py``): a deleted index rebuilt by the next writer, a
version the index lost taken back, a truncated or wrong-shaped index refused with one clear
line, and ``repair`` rebuilding it from the version folders and their records."""
import json
import os
import shutil

import pytest

from tfxkit.components.registry import push
from tfxkit.components.registry.errors import IndexBroken
from tests.unit.components.registry.test_registry import model
from tests.unit.components.registry.test_registry_faults import (OK, TEMPLATE_CONFIG,
                                                                  three_versions, tfxkit)


def test_a_deleted_index_is_rebuilt_keeping_metrics_and_history(tmp_path):
    r, (v1, v2, v3) = three_versions(tmp_path)
    before = r.index()
    os.remove(tmp_path / "models" / "registry.json")
    # the next push of what serves (v2, by the latest event: the rollback): identical
    done = push.push(r.path, model(tmp_path, "m1-again", b"w1"), {}, OK, OK)
    assert (done.version, done.pushed) == (v2, False)
    assert "identical to the serving version" in done.reason
    assert "registry.json was missing: rebuilt from 3 version record(s)" in done.reason
    after = r.index()
    assert after["serving"] == v2
    for v in (v1, v2, v3):
        rec = after["versions"][v]
        assert rec == before["versions"][v] and "adopted" not in rec
        assert rec["config_hash"] and rec["metrics"]["accuracy"] >= 0.8
    assert after["history"][:len(before["history"])] == before["history"]
    assert after["history"][-1]["action"] == "rebuild"
    # a new model afterwards is a new version; nothing was dropped
    v4, pushed = r.publish(model(tmp_path, "m4", b"w4"), {"metrics": {"accuracy": 0.9}})
    assert pushed and r.versions() == [v1, v2, v3, v4]
    assert [h["action"] for h in r.history()].count("push") == 4


def test_a_version_the_index_lost_is_taken_back_not_deleted(tmp_path):
    r, (v1, v2, v3) = three_versions(tmp_path)
    index = json.loads((tmp_path / "models" / "registry.json").read_text())
    del index["versions"][v1]  # an index edited by hand
    (tmp_path / "models" / "registry.json").write_text(json.dumps(index))
    r.publish(model(tmp_path, "m4", b"w4"), {})
    assert os.path.isdir(r.version_path(v1)) and v1 in r.versions()
    assert r.get(v1)["config_hash"] == "cfg0"


# -- fault 8: a truncated or wrong-shaped index ------------------------------------------

BROKEN = [
    ("truncated", lambda text: text[:len(text) // 2], "not valid JSON, truncated or damaged"),
    ("empty", lambda text: "", "the file is empty"),
    ("a list", lambda text: "[]", "the top level is an array, not an object"),
    ("versions a list", lambda text: '{"versions": [], "serving": null}',
     '"versions" is an array, not an object'),
    ("history a dict", lambda text: '{"versions": {}, "history": {}}',
     '"history" is an object, not an array'),
    ("serving an object", lambda text: '{"versions": {}, "serving": {"v": 1}}',
     '"serving" is {"v": 1}, not a version number or null'),
]


@pytest.mark.parametrize("what,damage,reason", BROKEN, ids=[b[0] for b in BROKEN])
def test_broken_index_is_one_clear_line_in_models_and_rollback(tmp_path, what, damage,
                                                               reason):
    r, (v1, v2, v3) = three_versions(tmp_path)
    index = tmp_path / "models" / "registry.json"
    index.write_text(damage(index.read_text()))
    with pytest.raises(IndexBroken) as e:
        r.index()
    assert reason in e.value.reason and e.value.path == str(index)
    for args in (("models",), ("rollback", "--to", v1)):
        out = tfxkit(tmp_path, *args)
        assert out.exit_code == 1, (args, out.output)
        assert isinstance(out.exception, SystemExit), out.exception
        assert "Traceback" not in out.output and out.stdout == ""
        [line] = out.stderr.strip().splitlines()
        assert f"broken model registry index {index}: " in line and reason in line
        assert f"tfxkit models {TEMPLATE_CONFIG} --repair" in line


def test_writes_refuse_a_broken_index_and_change_nothing(tmp_path):
    r, (v1, v2, v3) = three_versions(tmp_path)
    index = tmp_path / "models" / "registry.json"
    index.write_text("[]")
    listing = sorted(os.listdir(r.path))
    with pytest.raises(IndexBroken, match="--repair"):
        push.push(r.path, model(tmp_path, "m4", b"w4"), {}, OK, OK)
    with pytest.raises(IndexBroken):
        r.set_serving(v1)
    with pytest.raises(IndexBroken):
        r.trim(1)
    assert index.read_text() == "[]" and sorted(os.listdir(r.path)) == listing


def test_repair_rebuilds_the_index_from_the_version_records(tmp_path):
    r, (v1, v2, v3) = three_versions(tmp_path)
    before = r.index()
    index = tmp_path / "models" / "registry.json"
    broken = index.read_text()[:100]
    index.write_text(broken)
    out = tfxkit(tmp_path, "models", "--repair")
    assert out.exit_code == 0, out.output
    [backup] = [n for n in os.listdir(r.path) if n.startswith("registry.json.broken-")]
    assert (tmp_path / "models" / backup).read_text() == broken  # kept as it was
    assert f"rebuilt {index} from 3 version folder(s)" in out.output and backup in out.output
    assert f"serving {v2}: the latest history event that set it: rollback" in out.output
    assert f"* {v2}" in out.output and "accuracy 0.8100" in out.output
    after = r.index()
    assert after["serving"] == v2
    assert {v: after["versions"][v] for v in (v1, v2, v3)} == before["versions"]
    assert after["history"][:len(before["history"])] == before["history"]
    assert after["history"][-1]["action"] == "repair"
    assert r.check() == []
    assert "tfxkit rollback" not in out.output  # nothing left to warn about
    # and the registry works again
    assert tfxkit(tmp_path, "rollback", "--to", v3).exit_code == 0
    assert r.serving().version == v3


def test_repair_skips_a_serving_version_whose_folder_is_gone_and_keeps_its_record(tmp_path):
    r, (v1, v2, v3) = three_versions(tmp_path)
    shutil.rmtree(r.version_path(v2))  # what the latest event serves
    (tmp_path / "models" / "registry.json").write_text('{"versions": [')
    done = r.repair(by="ops")
    assert done["versions"] == [v1, v3] and done["was"].startswith("not valid JSON")
    assert done["serving"] == v3  # served before the rollback to v2 (the push of v3)
    assert f"version(s) {v2}, served after it, have no folder or a changed one" in done["how"]
    assert any(f"version(s) {v2} are recorded but their folders are gone" in n
               for n in done["notes"])
    assert os.path.exists(r.meta_path(v2))  # nothing stored is removed
    assert [h["action"] for h in r.history() if h["version"] == v2] == ["push", "rollback"]


def test_repair_does_not_serve_a_changed_folder(tmp_path):
    r, (v1, v2, v3) = three_versions(tmp_path)
    (tmp_path / "models" / v2 / "saved_model.pb").write_bytes(b"edited")  # serving
    (tmp_path / "models" / "registry.json").write_text("")
    done = r.repair()
    assert done["versions"] == [v1, v2, v3] and done["serving"] == v3
    assert [p.kind for p in r.check()] == ["changed"]  # v2 stays listed, with its warning


def test_missing_index_with_folders_suggests_repair_and_repair_rebuilds_it(tmp_path):
    r, (v1, v2, v3) = three_versions(tmp_path)
    os.remove(tmp_path / "models" / "registry.json")
    out = tfxkit(tmp_path, "models")
    assert out.exit_code == 1
    assert "registry.json is missing but the registry has 3 version folder(s)" in out.stderr
    assert "--repair" in out.stderr
    out = tfxkit(tmp_path, "models", "--repair")
    assert out.exit_code == 0, out.output
    assert "there was none" in out.output and f"* {v2}" in out.output
    assert r.get(v1)["metrics"] == {"accuracy": 0.8}


def test_repair_of_a_registry_without_records_adopts_the_folders(tmp_path):
    """A registry written before version records existed (or by the stock Pusher): repair
    keeps what a readable index has and adopts the rest; the records are written."""
    r, (v1, v2, v3) = three_versions(tmp_path)
    for v in (v1, v2, v3):
        os.remove(r.meta_path(v))
    done = r.repair()
    assert done["was"] is None and ".before-repair-" in done["backup"]
    assert r.get(v1)["config_hash"] == "cfg0" and r.serving().version == v2
    assert all(os.path.exists(r.meta_path(v)) for v in (v1, v2, v3))
    for v in (v1, v2, v3):
        os.remove(r.meta_path(v))
    (tmp_path / "models" / "registry.json").write_text("{")
    done = r.repair()
    assert done["versions"] == [v1, v2, v3] and r.get(v1)["adopted"]
    assert r.serving().version == v3  # no history to go by: the newest
