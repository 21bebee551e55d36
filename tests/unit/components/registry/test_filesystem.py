"""The registry's file systems (``filesystem.py``): LocalFS, and GfileFS (the gs:// code
path, tf.io.gfile) on a local folder."""
import os
import shutil

import pytest

from tfxkit.components.registry import filesystem
from tfxkit.components.registry.errors import IndexBroken, RegistryError
from tfxkit.components.registry.hashing import content_hash
from tfxkit.components.registry.registry import Registry
from tests.unit.components.registry.test_registry import model


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


def test_local_write_atomic_replaces_the_file_whole_and_leaves_no_partial_file(tmp_path,
                                                                             monkeypatch):
    fs = filesystem.LocalFS()
    p = str(tmp_path / "registry.json")
    fs.write_atomic(p, b"first")
    fs.write_atomic(p, b"second")
    assert fs.read(p) == b"second" and os.listdir(tmp_path) == ["registry.json"]

    # a writer that dies before the rename: the old file stays whole, the partial one is
    # named so that the registry's cleanup (layout.PARTIAL_WRITE) recognises it
    def die(src, dst):
        raise OSError("killed before the rename")

    monkeypatch.setattr(filesystem.os, "replace", die)
    with pytest.raises(OSError, match="killed"):
        fs.write_atomic(p, b"third, never visible")
    monkeypatch.undo()
    assert fs.read(p) == b"second"
    [partial] = [n for n in os.listdir(tmp_path) if n != "registry.json"]
    from tfxkit.components.registry.layout import PARTIAL_WRITE

    assert PARTIAL_WRITE.match(partial), partial
    assert (tmp_path / partial).read_bytes() == b"third, never visible"


def test_the_next_writer_removes_a_partial_index_write(tmp_path):
    r = Registry(str(tmp_path / "models"))
    v1, _ = r.publish(model(tmp_path, "a", b"A"), {})
    partial = tmp_path / "models" / "registry.json.tmp-123-abcdef"
    partial.write_text('{"versions": ')  # what a writer killed mid-write leaves
    r.publish(model(tmp_path, "b", b"B"), {})
    assert not partial.exists() and r.versions()[0] == v1


def test_local_rename_refuses_to_overwrite_and_listdir_of_nothing_is_empty(tmp_path):
    fs = filesystem.LocalFS()
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    with pytest.raises(RegistryError, match="already exists"):
        fs.rename(str(tmp_path / "a"), str(tmp_path / "b"))
    assert (tmp_path / "a").is_dir()
    assert fs.listdir(str(tmp_path / "nothing")) == []
    fs.remove(str(tmp_path / "nothing"))  # removing what is not there is no error


def test_local_walk_files_lists_relative_posix_paths_sorted(tmp_path):
    (tmp_path / "m" / "variables").mkdir(parents=True)
    for rel in ("saved_model.pb", "variables/variables.index", "variables/b.data", "a.txt"):
        (tmp_path / "m" / rel).write_text(rel)
    got = list(filesystem.LocalFS().walk_files(str(tmp_path / "m")))
    assert [rel for rel, _ in got] == ["a.txt", "saved_model.pb", "variables/b.data",
                                       "variables/variables.index"]
    assert all(open(full).read() == rel for rel, full in got)


def test_fs_for_picks_gfile_for_a_bucket_uri_and_local_otherwise():
    assert isinstance(filesystem.fs_for("/tmp/models"), filesystem.LocalFS)
    assert isinstance(filesystem.fs_for("relative/models"), filesystem.LocalFS)
    assert isinstance(filesystem.fs_for("gs://bucket/models"), filesystem.GfileFS)
