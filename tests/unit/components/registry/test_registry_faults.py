"""The model registry's faults (issue 13): a serving folder deleted or changed by hand,
restored by the next identical push (push.push, what the RegistryPusher runs for `tfxkit
run --from Pusher`). The index's faults are in test_index.py, the version records' in
test_records.py, the bucket file system's in test_filesystem.py, what `tfxkit models` /
`tfxkit rollback` say in tests/unit/infra/cli/test_models.py; they share the helpers here."""
import os
import shutil

from click.testing import CliRunner

from tfxkit.components.registry import push
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
