"""The integration tier: tests that start processes of their own (the real Airflow, a
`tfxkit serve` server, a redis-server, pipeline runners killed with -9). Every test
collected under this folder is marked ``integration`` (pytest.ini registers it), so
``-m integration`` and ``-m "not integration"`` pick them out of any run.
tests/unit/repo/test_tiers.py checks that tests/unit starts none of these."""
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(items):
    # this hook sees every item of the session (all folders): mark only this folder's
    for item in items:
        if HERE in Path(item.path).resolve().parents:
            item.add_marker(pytest.mark.integration)
