"""components/registry/registry.py: atomic publish, idempotence, trim, rollback,
concurrent publishers (plain Python, no TFX)."""
import json
import multiprocessing
import os

import pytest

from tfxkit.components.registry import layout
from tfxkit.components.registry.errors import RegistryError, UnknownVersion
from tfxkit.components.registry.hashing import content_hash
from tfxkit.components.registry.registry import Registry


def model(tmp_path, name, payload=b"weights", files=3):
    d = tmp_path / "src" / name
    (d / "variables").mkdir(parents=True)
    (d / "saved_model.pb").write_bytes(b"graph-" + payload)
    for i in range(files):
        (d / "variables" / f"variables.data-{i}").write_bytes(payload * (i + 1))
    return str(d)


def numeric(path):
    return sorted(n for n in os.listdir(path) if n.isdigit())


def test_publish_then_idempotent(tmp_path):
    r = Registry(str(tmp_path / "models"))
    assert not r.exists() and r.versions() == [] and r.serving() is None
    m = model(tmp_path, "a")
    v, pushed = r.publish(m, {"metrics": {"accuracy": 0.9}, "config_hash": "abc"}, by="t")
    assert pushed and v.isdigit()
    assert r.versions() == [v] and r.serving().version == v
    assert r.serving().path == str(tmp_path / "models" / v)
    assert content_hash(r.serving().path) == content_hash(m)
    rec = r.get(v)
    assert rec["metrics"] == {"accuracy": 0.9} and rec["config_hash"] == "abc"
    assert rec["sha256"] == content_hash(m) and rec["created_at"] and rec["serving"]
    index = json.loads((tmp_path / "models" / "registry.json").read_text())
    assert index["serving"] == v and index["history"][-1]["action"] == "push"
    assert index["history"][-1]["by"] == "t"
    # the same content again (another copy of it): not pushed
    again = model(tmp_path, "a-copy")
    assert r.publish(again, {"metrics": {}}) == (v, False)
    assert r.versions() == [v] and numeric(tmp_path / "models") == [v]
    # TF Serving follows the pointer through serving.config
    text = (tmp_path / "models" / "serving.config").read_text()
    assert f"versions: {v}" in text and str(tmp_path / "models") in text


def test_versions_increase_and_rollback(tmp_path):
    r = Registry(str(tmp_path / "models"))
    v1, _ = r.publish(model(tmp_path, "a", b"1"), {})
    v2, _ = r.publish(model(tmp_path, "b", b"2"), {})
    v3, _ = r.publish(model(tmp_path, "c", b"3"), {})
    assert int(v1) < int(v2) < int(v3)
    assert r.versions() == [v1, v2, v3] and r.serving().version == v3
    s = r.set_serving(v1, reason="v3 is bad", by="ops")
    assert s.version == v1 and r.serving().version == v1
    h = r.history()[-1]
    assert h["action"] == "rollback" and h["version"] == v1 and h["previous"] == v3
    assert h["reason"] == "v3 is bad" and h["by"] == "ops"
    with pytest.raises(UnknownVersion, match=r"'123'.*" + v1):
        r.set_serving("123")
    assert r.serving().version == v1
    # after a rollback, the same content as the serving version is still not re-pushed,
    # and a model equal to a non-serving version is pushed as a new version
    assert r.publish(model(tmp_path, "a2", b"1"), {}) == (v1, False)
    v4, pushed = r.publish(model(tmp_path, "c2", b"3"), {})
    assert pushed and int(v4) > int(v3)


def test_trim_keeps_newest_and_serving(tmp_path):
    r = Registry(str(tmp_path / "models"))
    vs = [r.publish(model(tmp_path, str(i), str(i).encode()), {})[0] for i in range(5)]
    r.set_serving(vs[0], reason="rollback")
    removed = r.trim(2)
    assert removed == vs[1:3]
    assert r.versions() == [vs[0], vs[3], vs[4]]
    assert numeric(tmp_path / "models") == sorted([vs[0], vs[3], vs[4]])
    assert r.serving().version == vs[0]
    assert [h["version"] for h in r.history() if h["action"] == "trim"] == vs[1:3]
    assert r.trim(2) == []
    with pytest.raises(ValueError):
        r.trim(0)


def _crash_during_publish(path, src, where):
    """Child process: publishes and dies (os._exit) at ``where``."""
    r = Registry(path)
    if where == "copy":
        real = r.fs.copytree

        def copy_half(a, b):
            real(a, b)
            os.remove(os.path.join(b, "saved_model.pb"))  # a partial copy
            os._exit(3)
        r.fs.copytree = copy_half
    elif where == "index":
        r.fs.write_atomic = lambda p, data: os._exit(3)
    r.publish(src, {})


@pytest.mark.parametrize("where", ["copy", "index"])
def test_publish_crash_leaves_registry_consistent(tmp_path, where):
    path = str(tmp_path / "models")
    r = Registry(path)
    v1, _ = r.publish(model(tmp_path, "good", b"good"), {"metrics": {"a": 1}})
    before = (tmp_path / "models" / "registry.json").read_bytes()
    ctx = multiprocessing.get_context("fork")
    p = ctx.Process(target=_crash_during_publish,
                    args=(path, model(tmp_path, "new", b"new"), where))
    p.start()
    p.join(30)
    assert p.exitcode == 3
    # readers: the index is untouched, the serving model complete
    assert (tmp_path / "models" / "registry.json").read_bytes() == before
    assert r.versions() == [v1] and r.serving().version == v1
    assert content_hash(r.serving().path) == content_hash(model(tmp_path, "g2", b"good"))
    left = os.listdir(path)
    if where == "copy":
        assert any(n.startswith(".tmp-") for n in left)
    # the lock died with the publisher; the next writer cleans up and publishes
    v2, pushed = r.publish(model(tmp_path, "new2", b"new"), {})
    assert pushed and r.versions() == [v1, v2]
    assert numeric(path) == [v1, v2]
    assert not any(n.startswith((".tmp-", ".trash-")) for n in os.listdir(path))


def test_publish_failure_cleans_tmp(tmp_path):
    r = Registry(str(tmp_path / "models"))

    def boom(a, b):
        os.makedirs(b)
        raise OSError("disk full")
    r.fs.copytree = boom
    with pytest.raises(OSError, match="disk full"):
        r.publish(model(tmp_path, "a"), {})
    assert os.listdir(tmp_path / "models") == [".registry.lock"]
    assert r.versions() == []


def _publisher(path, src, q):
    v, pushed = Registry(path).publish(src, {"src": src})
    q.put((v, pushed))


def test_concurrent_publishers(tmp_path):
    path = str(tmp_path / "models")
    srcs = [model(tmp_path, f"m{i}", f"content-{i}".encode(), files=20) for i in range(6)]
    ctx = multiprocessing.get_context("fork")
    q = ctx.Queue()
    procs = [ctx.Process(target=_publisher, args=(path, s, q)) for s in srcs]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    assert all(p.exitcode == 0 for p in procs)
    results = [q.get(timeout=5) for _ in procs]
    versions = [v for v, pushed in results]
    assert all(pushed for _, pushed in results) and len(set(versions)) == 6
    r = Registry(path)
    assert r.versions() == sorted(versions, key=int)
    assert numeric(path) == sorted(versions)
    for v in versions:  # every index entry matches its folder's content
        assert content_hash(r.get(v)["path"]) == r.get(v)["sha256"]
    assert r.serving().version == max(versions, key=int)
    assert len([h for h in r.history() if h["action"] == "push"]) == 6


def test_adopts_a_stock_pusher_registry(tmp_path):
    import shutil

    base = tmp_path / "models"
    base.mkdir()
    shutil.copytree(model(tmp_path, "old", b"old"), base / "1700000000")
    r = Registry(str(base))
    assert not r.exists()
    v, pushed = r.publish(model(tmp_path, "old2", b"old"), {})
    assert (v, pushed) == ("1700000000", False)  # the same model: adopted, not re-pushed
    assert r.exists() and r.get(v)["adopted"]
    v2, pushed = r.publish(model(tmp_path, "new", b"new"), {})
    assert pushed and int(v2) > 1700000000


def test_unknown_version_message(tmp_path):
    r = Registry(str(tmp_path / "models"))
    v, _ = r.publish(model(tmp_path, "a"), {})
    with pytest.raises(UnknownVersion) as e:
        r.get("42")
    assert str(e.value) == f"unknown model version '42'; the registry has {v}"


def test_tf_serving_config():
    text = layout.tf_serving_config("penguin", "/srv/models", "17")
    assert 'name: "penguin"' in text and 'base_path: "/srv/models"' in text
    assert "specific { versions: 17 }" in text


# -- aliases ---------------------------------------------------------------------------

def test_aliases_set_move_resolve_remove(tmp_path):
    from tfxkit.components.registry.errors import RegistryError, UnknownAlias

    r = Registry(str(tmp_path / "models"), name="penguin")
    v1, _ = r.publish(model(tmp_path, "a", b"1"), {})
    v2, _ = r.publish(model(tmp_path, "b", b"2"), {})
    assert r.aliases() == {} and "aliases" not in r.index()
    assert r.set_alias("champion", v1, reason="best on slices", by="ops") == v1
    assert r.set_alias("challenger", v2, by="ops") == v2
    assert r.aliases() == {"champion": v1, "challenger": v2}
    assert r.resolve("champion") == v1 and r.resolve(v2) == v2
    # an alias may name another alias: it takes its version
    assert r.set_alias("backup", "champion") == v1
    # the serving pointer is not moved by aliases
    assert r.serving().version == v2
    ev = r.history()[-3]
    assert ev["action"] == "alias" and ev["alias"] == "champion" and ev["version"] == v1
    assert ev["reason"] == "best on slices" and ev["by"] == "ops"
    # moved: the event says from where
    r.set_alias("champion", v2)
    assert r.aliases()["champion"] == v2 and r.history()[-1]["previous"] == v1
    assert r.remove_alias("backup") == v1 and "backup" not in r.aliases()
    assert r.history()[-1]["action"] == "unalias"
    with pytest.raises(UnknownAlias) as e:
        r.resolve("nobody")
    assert "'nobody'" in str(e.value) and f"champion -> {v2}" in str(e.value)
    assert v1 in str(e.value)
    with pytest.raises(UnknownAlias):
        r.remove_alias("nobody")
    with pytest.raises(UnknownVersion) as e:
        r.set_alias("x", "42")
    assert "'42'" in str(e.value)
    for bad in ("Champion", "1234", "9lives", "", "a b", "x" * 64):
        with pytest.raises(RegistryError) as e:
            r.set_alias(bad, v1)
        assert repr(bad) in str(e.value)


def test_aliases_in_serving_config_and_index_file(tmp_path):
    r = Registry(str(tmp_path / "models"), name="penguin")
    v1, _ = r.publish(model(tmp_path, "a", b"1"), {})
    v2, _ = r.publish(model(tmp_path, "b", b"2"), {})
    r.set_alias("champion", v1)
    index = json.loads((tmp_path / "models" / "registry.json").read_text())
    assert index["aliases"] == {"champion": v1}
    text = (tmp_path / "models" / "serving.config").read_text()
    assert f"specific {{ versions: {v1} versions: {v2} }}" in text
    assert f'version_labels {{ key: "champion" value: {v1} }}' in text
    assert f'version_labels {{ key: "serving" value: {v2} }}' in text
    r.remove_alias("champion")
    text = (tmp_path / "models" / "serving.config").read_text()
    assert "version_labels" not in text and f"versions: {v1}" not in text
    assert "aliases" not in json.loads((tmp_path / "models" / "registry.json").read_text())


def test_trim_keeps_aliased_versions(tmp_path):
    r = Registry(str(tmp_path / "models"))
    vs = [r.publish(model(tmp_path, n, n.encode()), {})[0] for n in "abcd"]
    r.set_alias("champion", vs[0])
    removed = r.trim(1)
    assert removed == vs[1:3]
    assert r.versions() == [vs[0], vs[3]] and numeric(tmp_path / "models") == [vs[0], vs[3]]


def test_aliases_survive_repair(tmp_path):
    r = Registry(str(tmp_path / "models"))
    v1, _ = r.publish(model(tmp_path, "a", b"1"), {})
    v2, _ = r.publish(model(tmp_path, "b", b"2"), {})
    r.set_alias("champion", v1)
    r.set_alias("challenger", v1)
    r.set_alias("challenger", v2)
    r.set_alias("gone", v2)
    r.remove_alias("gone")
    r.set_alias("late", v1)  # the latest event names v1: still no serving event
    (tmp_path / "models" / "registry.json").write_text("{not json")
    done = r.repair(by="t")
    assert done["was"] and r.aliases() == {"champion": v1, "challenger": v2, "late": v1}
    assert r.serving().version == v2  # alias events never move the serving pointer
    # a missing index is rebuilt by the next writer, aliases included
    (tmp_path / "models" / "registry.json").unlink()
    r.set_alias("third", v2)
    assert r.aliases() == {"champion": v1, "challenger": v2, "late": v1, "third": v2}
    assert r.serving().version == v2


def test_broken_aliases_in_index_are_reported(tmp_path):
    from tfxkit.components.registry.errors import IndexBroken

    r = Registry(str(tmp_path / "models"))
    v1, _ = r.publish(model(tmp_path, "a", b"1"), {})
    p = tmp_path / "models" / "registry.json"
    index = json.loads(p.read_text())
    index["aliases"] = {"champion": "latest"}
    p.write_text(json.dumps(index))
    with pytest.raises(IndexBroken) as e:
        r.aliases()
    assert '"aliases"."champion"' in str(e.value)


def test_alias_naming_a_version_the_index_lacks(tmp_path):
    from tfxkit.components.registry.errors import RegistryError

    r = Registry(str(tmp_path / "models"))
    v1, _ = r.publish(model(tmp_path, "a", b"1"), {})
    p = tmp_path / "models" / "registry.json"
    index = json.loads(p.read_text())
    index["aliases"] = {"champion": "42"}
    p.write_text(json.dumps(index))
    with pytest.raises(RegistryError) as e:
        r.resolve("champion")
    assert str(e.value) == f"alias 'champion' names version 42, which the registry does " \
                           f"not have (it has {v1})"


def test_publish_puts_the_extra_files_into_the_folder_before_it_appears(tmp_path):
    """``extra(version, record)`` (the model card) is written into the temp folder, so the
    version appears with it; the content hash and ``check`` ignore it; a restore writes it
    again; files outside ``model_card/`` are refused."""
    import shutil

    reg = Registry(str(tmp_path / "models"))
    seen = []

    def card(version, record):
        seen.append((version, sorted(record)))
        assert not os.path.exists(os.path.join(reg.path, version))  # not yet visible
        record["model_card"] = "model_card/model_card.html"
        return {"model_card/model_card.json": b'{"v": "%s"}' % version.encode(),
                "model_card/model_card.html": b"<html></html>"}

    src = model(tmp_path, "a")
    r = reg.publish_detailed(src, {"metrics": {"auc": 0.9}}, extra=card)
    v = r.version
    assert r.action == "push" and seen[0][0] == v and "sha256" in seen[0][1]
    folder = tmp_path / "models" / v
    assert (folder / "model_card" / "model_card.json").read_bytes() == b'{"v": "%s"}' % v.encode()
    assert reg.get(v)["sha256"] == content_hash(src)
    assert reg.get(v)["model_card"] == "model_card/model_card.html"
    assert reg.check() == []
    # identical model: nothing written again
    assert reg.publish_detailed(src, extra=card).action == "identical" and len(seen) == 1
    # the serving folder lost: restored with its card
    shutil.rmtree(folder)
    assert reg.publish_detailed(src, extra=card).action == "restore"
    assert (folder / "model_card" / "model_card.html").exists() and reg.check() == []
    with pytest.raises(RegistryError, match="model_card/"):
        reg.publish_detailed(model(tmp_path, "b", b"other"),
                             extra=lambda v, r: {"saved_model.pb": b"x"})
    assert numeric(reg.path) == [v]
