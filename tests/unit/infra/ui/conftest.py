"""A use case with a few training runs written into ML Metadata (``ui_records.py``),
made once per module; SQLite on /dev/shm where there is one (MLMD syncs every write)."""
import os
import shutil
import tempfile

import pytest

from tests.unit.infra.ui.ui_records import make_case, write_runs


@pytest.fixture(scope="module")
def ui_case():
    base = tempfile.mkdtemp(prefix="tfxkit-ui-", dir="/dev/shm" if os.path.isdir("/dev/shm")
                            else None)
    try:
        path, cfg = make_case(base)
        runs = write_runs(cfg, 8, fail_every=4, push_every=1)
        yield path, cfg, runs
    finally:
        shutil.rmtree(base, ignore_errors=True)
