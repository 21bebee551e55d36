"""The version records (``records.py``): one ``<version>.meta.json`` beside each version
folder, written again by a push when a registry lacks them, and the next version number."""
import os

from tfxkit.components.registry.hashing import content_hash
from tfxkit.components.registry.registry import Registry
from tests.unit.components.registry.test_registry import model
from tests.unit.components.registry.test_registry_faults import three_versions


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


def test_a_push_writes_the_records_a_registry_lacks(tmp_path):
    r, (v1, v2, v3) = three_versions(tmp_path)
    for v in (v1, v2, v3):
        os.remove(r.meta_path(v))
    r.publish(model(tmp_path, "m4", b"w4"), {})
    assert all(r.version_record(v)["record"]["config_hash"] for v in (v1, v2, v3))


def test_the_next_version_passes_every_version_folder_and_record_already_there(tmp_path,
                                                                                monkeypatch):
    """Seconds since the epoch, bumped past the newest version the index, a folder or a
    record names (an unindexed folder, a record whose folder is gone), never reused."""
    from tfxkit.components.registry import records

    r = Registry(str(tmp_path / "models"))
    (tmp_path / "models").mkdir()
    monkeypatch.setattr(records.time, "time", lambda: 1000.5)
    assert r._next_version({"versions": {}}) == "1000"
    assert r._next_version({"versions": {"999": {}}}) == "1000"
    assert r._next_version({"versions": {"1000": {}}}) == "1001"
    (tmp_path / "models" / "1500").mkdir()  # a folder the index does not name
    assert r._next_version({"versions": {"1000": {}}}) == "1501"
    (tmp_path / "models" / "2000.meta.json").write_text("{}")  # a record without a folder
    (tmp_path / "models" / "3000.tmp-1-abcdef").write_text("")  # not a version
    (tmp_path / "models" / ".tmp-4000").mkdir()
    assert r._next_version({"versions": {}}) == "2001"
    monkeypatch.setattr(records.time, "time", lambda: 5000.0)
    assert r._next_version({"versions": {"1000": {}}}) == "5000"  # the clock is ahead


def test_two_publishes_in_one_second_get_increasing_versions(tmp_path, monkeypatch):
    from tfxkit.components.registry import records

    monkeypatch.setattr(records.time, "time", lambda: 1234.0)
    r = Registry(str(tmp_path / "models"))
    v1, _ = r.publish(model(tmp_path, "a", b"A"), {})
    v2, _ = r.publish(model(tmp_path, "b", b"B"), {})
    assert (v1, v2) == ("1234", "1235") and r.versions() == ["1234", "1235"]
