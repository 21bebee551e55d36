"""The model registry's faults (issue 13): a serving folder deleted or changed by hand, a
deleted, truncated or wrong-shaped index, an index naming a version that is not there.
Plain Registry calls, push.push (what the RegistryPusher runs for `tfxkit run --from
Pusher`) and `tfxkit models` / `tfxkit rollback` through click's CliRunner."""
import json
import os
import shutil

import pytest
from click.testing import CliRunner

from tfxkit.components.registry import push
from tfxkit.components.registry import filesystem
from tfxkit.components.registry.errors import IndexBroken, RegistryError
from tfxkit.components.registry.hashing import content_hash
from tfxkit.components.registry.registry import Registry
from tests.unit.components.registry.test_registry import model

OK = push.Gate(True, "fine")
TEMPLATE_CONFIG = os.path.join(os.path.dirname(__file__), "..", "..", "..", "..", "templates",
                               "multiclass", "config.yaml")


def tfxkit(tmp_path, *args):
    from tfxkit.infra.cli import main

    return CliRunner().invoke(main, [args[0], TEMPLATE_CONFIG, *args[1:], "--set",
                                     f"push.registry={tmp_path}/models"])


def three_versions(tmp_path):
    """v1, v2, v3 published with metrics and config hashes, then a rollback to v2."""
    r = Registry(str(tmp_path / "models"))
    vs = [r.publish(model(tmp_path, f"m{i}", f"w{i}".encode()),
                    {"metrics": {"accuracy": 0.8 + i / 100}, "config_hash": f"cfg{i}",
                     "git_commit": f"c{i}"}, by="ci")[0] for i in range(3)]
    r.set_serving(vs[1], reason="v3 misbehaves", by="ops")
    return r, vs


# -- fault 1: a serving folder deleted or changed by hand ---------------------------------

def test_identical_push_restores_a_deleted_serving_folder(tmp_path):
    path = str(tmp_path / "models")
    first = push.push(path, model(tmp_path, "a", b"A"), {"metrics": {"a": 1}}, OK, OK)
    shutil.rmtree(first.path)
    again = push.push(path, model(tmp_path, "a-again", b"A"), {"metrics": {"a": 1}}, OK, OK)
    assert again.pushed and again.action == "restore", again.reason
    assert again.version == first.version and "identical to" not in again.reason
    assert f"restored the serving version {first.version}" in again.reason
    assert f"{first.path} was missing" in again.reason
    assert content_hash(first.path) == first.sha256
    r = Registry(path)
    assert r.versions() == [first.version] and r.serving().version == first.version
    h = r.history()[-1]
    assert h["action"] == "restore" and h["version"] == first.version
    assert r.check() == []
    # intact now: the next identical push is not pushed
    third = push.push(path, model(tmp_path, "a-3", b"A"), {}, OK, OK)
    assert not third.pushed and "identical to the serving version" in third.reason


def test_identical_push_restores_a_changed_serving_folder_keeping_the_damaged_one(tmp_path):
    r = Registry(str(tmp_path / "models"))
    v, _ = r.publish(model(tmp_path, "a", b"A"), {})
    os.remove(os.path.join(r.version_path(v), "variables", "variables.data-1"))
    done = push.push(r.path, model(tmp_path, "a2", b"A"), {}, OK, OK)
    assert done.pushed and (done.version, done.action) == (v, "restore"), done.reason
    assert "content hash differs" in done.reason
    assert content_hash(r.version_path(v)) == r.get(v)["sha256"]
    [aside] = [n for n in os.listdir(r.path) if n.startswith(".broken-")]
    assert aside.startswith(f".broken-{v}-") and aside in done.reason
    assert sorted(os.listdir(os.path.join(r.path, aside, "variables"))) == [
        "variables.data-0", "variables.data-2"]  # kept as it was found
    # the next writer leaves it alone (only .tmp-/.trash- are leftovers)
    r.publish(model(tmp_path, "b", b"B"), {})
    assert aside in os.listdir(r.path)


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


def test_each_version_has_a_record_beside_its_folder(tmp_path):
    r, (v1, v2, v3) = three_versions(tmp_path)
    names = os.listdir(r.path)
    assert {f"{v}.meta.json" for v in (v1, v2, v3)} <= set(names)
    for v, src in ((v1, "m0"), (v2, "m1"), (v3, "m2")):  # the folder is the SavedModel only
        assert content_hash(r.version_path(v)) == content_hash(str(tmp_path / "src" / src))
        assert sorted(os.listdir(r.version_path(v))) == ["saved_model.pb", "variables"]
    meta = r.version_record(v2)
    assert meta["record"] == r.index()["versions"][v2]
    assert meta["record"]["metrics"] == {"accuracy": 0.81}
    assert [(h["action"], h["version"]) for h in meta["history"]] == [("push", v2),
                                                                     ("rollback", v2)]
    # TF Serving reads only numeric names under the base path
    assert [n for n in names if n.isdigit()] and all(
        not n.isdigit() for n in names if n.endswith(".meta.json"))
    # trimmed versions lose their record with their folder
    r.trim(1)
    assert f"{v1}.meta.json" not in os.listdir(r.path) and r.versions() == [v2, v3]


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


def test_a_push_writes_the_records_a_registry_lacks(tmp_path):
    r, (v1, v2, v3) = three_versions(tmp_path)
    for v in (v1, v2, v3):
        os.remove(r.meta_path(v))
    r.publish(model(tmp_path, "m4", b"w4"), {})
    assert all(r.version_record(v)["record"]["config_hash"] for v in (v1, v2, v3))


def test_the_same_faults_through_the_bucket_file_system(tmp_path, monkeypatch):
    """The gs:// code path (GfileFS, tf.io.gfile) on a local folder."""
    fs = filesystem.GfileFS()
    monkeypatch.setattr(filesystem, "fs_for", lambda path: fs)
    monkeypatch.setattr(fs, "lock", filesystem.LocalFS().lock)  # no 0.2 s lock waits
    r = Registry(str(tmp_path / "models"))
    assert isinstance(r.fs, filesystem.GfileFS)
    v1, _ = r.publish(model(tmp_path, "a", b"A"), {"metrics": {"a": 1}})
    v2, _ = r.publish(model(tmp_path, "b", b"B"), {"metrics": {"a": 2}})
    r.set_serving(v1, reason="back")
    shutil.rmtree(r.version_path(v1))
    done = r.publish_detailed(model(tmp_path, "a2", b"A"), {})
    assert (done.version, done.action) == (v1, "restore")
    assert content_hash(r.version_path(v1)) == r.get(v1)["sha256"]
    (tmp_path / "models" / "registry.json").write_text("[1, 2")
    with pytest.raises(IndexBroken):
        r.versions()
    rep = r.repair()
    assert rep["serving"] == v1 and rep["versions"] == [v1, v2]
    assert r.get(v2)["metrics"] == {"a": 2} and r.check() == []
    os.remove(tmp_path / "models" / "registry.json")
    assert r.publish(model(tmp_path, "a3", b"A"), {}) == (v1, False)
    assert r.get(v2)["metrics"] == {"a": 2}
    with pytest.raises(RegistryError):
        content_hash(str(tmp_path / "nothing"))
