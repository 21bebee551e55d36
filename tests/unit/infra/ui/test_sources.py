"""The use cases ``tfxkit ui`` shows: configs by path or found under a folder; bad ones
named with the reason."""
import pytest

from tfxkit.infra.ui.sources import SourceError, find_configs, load_use_cases
from tests.unit.infra.ui.ui_records import make_case


def test_sources_errors(tmp_path):
    with pytest.raises(SourceError, match="give one or more CONFIG"):
        load_use_cases([])
    with pytest.raises(SourceError, match="no config.yaml found"):
        load_use_cases([], str(tmp_path))
    bad = tmp_path / "bad" / "config.yaml"
    bad.parent.mkdir()
    bad.write_text("name: Bad Name\n")
    with pytest.raises(SourceError, match="config.yaml"):
        load_use_cases([str(bad)])
    assert find_configs(str(tmp_path)) == [str(bad)]


def test_dir_finds_configs_but_not_inside_pipeline_roots(tmp_path):
    a, _ = make_case(tmp_path / "cases", "case-a")
    b, _ = make_case(tmp_path / "cases" / "team", "case-b")
    hidden = tmp_path / "cases" / "case-a" / ".tfxkit" / "x"
    hidden.mkdir(parents=True)
    (hidden / "config.yaml").write_text("name: nope\n")
    assert find_configs(str(tmp_path / "cases")) == sorted([str(a), str(b)])
    names = [u.name for u in load_use_cases([], str(tmp_path / "cases"))]
    assert sorted(names) == ["case-a", "case-b"]
    with pytest.raises(SourceError, match="not a folder"):
        find_configs(str(tmp_path / "missing"))


def test_a_use_case_on_mysql(tmp_path):
    """MLMD in MySQL/MariaDB (the template's ``mysql`` profile): the dashboard opens it with
    skip_db_creation and reads the runs written there; pages answer."""
    import socket
    import subprocess
    import uuid

    from fastapi.testclient import TestClient

    from tfxkit.infra.ui import data
    from tfxkit.infra.ui.app import create_app
    from tfxkit.pipelines import mlmd
    from tests.unit.infra.ui.ui_records import write_runs

    try:
        socket.create_connection(("127.0.0.1", 3306), timeout=2).close()
    except OSError as e:
        pytest.fail(f"no MySQL at 127.0.0.1:3306 ({e}): start MariaDB (DEVELOPERS.md)",
                    pytrace=False)
    database = f"tfxkit_ui_{uuid.uuid4().hex[:10]}"
    path, _ = make_case(tmp_path)
    sets = [f"metadata.mysql.database={database}"]
    try:
        [uc] = load_use_cases([str(path)], profile="mysql", overrides=sets)
        assert uc.cfg.metadata.mysql.database == database
        written = write_runs(uc.cfg, 3, push_every=1, store=mlmd.open_store(uc.cfg))
        assert mlmd.connection_config(uc.cfg, readonly=True).mysql.skip_db_creation
        rows = data.runs(uc.store(), uc.name)
        assert [r.run_id for r in rows] == [rid for rid, _ in written]
        c = TestClient(create_app([uc]))
        page = c.get(f"/u/{uc.name}")
        assert page.status_code == 200 and page.text.count('<tr class="run"') == 3
        assert c.get(f"/u/{uc.name}/lineage").status_code == 200
    finally:
        subprocess.run(["mariadb", "-uroot", "-h127.0.0.1", "-P3306", "-e",
                        f"DROP DATABASE IF EXISTS `{database}`"], capture_output=True, timeout=60)
