"""``SqliteStore`` (``sqlite_store.py``): a store file that cannot be opened or created is
named with its path and why (issue 13, fault 9)."""
import os

import pytest

from tfxkit.components.prediction_store.store import StoreUnavailable, open_store
from tests.unit.components.prediction_store.test_store_faults import rows


def test_sqlite_store_that_cannot_be_opened_is_named(tmp_path):
    folder = tmp_path / "a-folder.sqlite"
    folder.mkdir()
    s = open_store("sqlite", str(folder))
    for call in (lambda: s.runs("m"), lambda: s.get("m", "k1"), s.ping,
                 lambda: s.write_run("m", "r1", "v1", rows(3, "a"))):
        with pytest.raises(StoreUnavailable) as e:
            call()
        msg = str(e.value)
        assert msg.startswith(f"sqlite {folder}: ") and "unable to open database file" in msg
        assert "(the path is a folder)" in msg


def test_sqlite_store_in_an_unwritable_folder_is_named(tmp_path):
    if os.geteuid() == 0:  # root writes anywhere: a folder that cannot be made instead
        (tmp_path / "ro").write_text("a file, not a folder")
        path = tmp_path / "ro" / "predictions.sqlite"
        expect = f"cannot create its folder {tmp_path / 'ro'}"
    else:
        (tmp_path / "ro").mkdir()
        os.chmod(tmp_path / "ro", 0o500)
        path = tmp_path / "ro" / "predictions.sqlite"
        expect = f"(the folder {tmp_path / 'ro'} is not writable)"
    s = open_store("sqlite", str(path))
    with pytest.raises(StoreUnavailable) as e:
        s.write_run("m", "r1", "v1", rows(3, "a"))
    assert str(e.value).startswith(f"sqlite {path}: ") and expect in str(e.value)
