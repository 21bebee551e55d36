"""components/registry/layout.py: what counts as a version name, and the leftovers of a
writer that died (what write_atomic leaves, and nothing else of the registry's)."""
import os

from tfxkit.components.registry import filesystem
from tfxkit.components.registry.layout import META_NAME, PARTIAL_WRITE, is_version, vkey


def test_version_names():
    assert all(is_version(v) for v in ("17", 17, "0001"))
    assert not any(is_version(v) for v in (True, "1a", "", None, 1.5, "-3"))
    assert sorted(["9", "10", "100"], key=vkey) == ["9", "10", "100"]
    assert META_NAME.match("1712.meta.json").group(1) == "1712"
    assert not META_NAME.match("x.meta.json")


def test_partial_writes_are_what_write_atomic_leaves(tmp_path, monkeypatch):
    """A writer that dies between writing its tmp file and the rename leaves a name the
    next writer removes; the registry's own files never match."""
    left = []
    monkeypatch.setattr(os, "replace", lambda src, dst: left.append(os.path.basename(src)))
    for name in ("registry.json", "serving.config", "1712.meta.json"):
        filesystem.LocalFS().write_atomic(str(tmp_path / name), b"{}")
    assert len(left) == 3 and all(PARTIAL_WRITE.search(n) for n in left), left
    for name in ("registry.json", "serving.config", "1712.meta.json", "1712",
                 "registry.json.broken-20260101T000000Z", ".tmp-1712", "notes.txt.tmp-abc"):
        assert not PARTIAL_WRITE.search(name), name
