"""The metadata config and tfxkit.pipelines.mlmd: SQLite by default, MySQL in a profile,
the password only from the environment and never in the Pipeline's compiled IR."""
import socket
from pathlib import Path

import pytest

from tfxkit.pipelines import mlmd
from tfxkit.pipelines.config import ConfigError, load_config

TEMPLATE = Path(__file__).resolve().parents[3] / "templates" / "multiclass" / "config.yaml"


def _require_mysql() -> None:
    """Fails (never skips) without MySQL, as the PostgreSQL and Redis tests do."""
    try:
        with socket.create_connection(("127.0.0.1", 3306), timeout=2):
            return
    except OSError as e:
        pytest.fail(f"no MySQL at 127.0.0.1:3306 ({e}): the MLMD-in-MySQL tests need "
                    "MariaDB running there (root, empty password; see DEVELOPERS.md)",
                    pytrace=False)


def test_sqlite_is_the_default():
    cfg = load_config(TEMPLATE)
    assert cfg.metadata.kind == "sqlite"
    conn = mlmd.connection_config(cfg)
    assert conn.WhichOneof("config") == "sqlite"
    assert conn.sqlite.filename_uri.endswith(".tfxkit/metadata.sqlite")
    mlmd.check(cfg)  # nothing to check


def test_mysql_profile():
    cfg = load_config(TEMPLATE, profile="mysql")
    my = cfg.metadata.mysql
    assert (my.host, my.port, my.database, my.user) == ("127.0.0.1", 3306, "tfxkit_penguin",
                                                        "root")
    assert cfg.metadata.sqlite is None
    assert cfg.metadata_path == "mysql://root@127.0.0.1:3306/tfxkit_penguin"
    conn = mlmd.connection_config(cfg)
    assert conn.WhichOneof("config") == "mysql"
    assert conn.mysql.database == "tfxkit_penguin" and not conn.mysql.skip_db_creation
    assert mlmd.connection_config(cfg, readonly=True).mysql.skip_db_creation


def test_password_comes_from_the_environment(monkeypatch):
    cfg = load_config(TEMPLATE, profile="mysql",
                      overrides=["metadata.mysql.password_env=TFXKIT_UNIT_PW"])
    monkeypatch.setenv("TFXKIT_UNIT_PW", "hunter2-unit")
    assert mlmd.connection_config(cfg).mysql.password == "hunter2-unit"
    # what the Pipeline object (and so the IR) carries has no password
    assert mlmd.connection_config(cfg, secrets=False).mysql.password == ""
    assert "hunter2" not in cfg.metadata_path
    monkeypatch.delenv("TFXKIT_UNIT_PW")
    with pytest.raises(mlmd.MetadataError, match="TFXKIT_UNIT_PW is not set"):
        mlmd.connection_config(cfg)


def test_a_password_in_the_yaml_is_refused():
    with pytest.raises(ConfigError, match="password_env") as e:
        load_config(TEMPLATE, profile="mysql", overrides=["metadata.mysql.password=x"])
    assert e.value.field == "metadata.mysql"


@pytest.mark.parametrize("sets,field,reason", [
    (["metadata.sqlite=m.sqlite", "metadata.mysql={database: x}"], "metadata",
     "exactly one of sqlite, mysql"),
    (["metadata.mysql={host: h}"], "metadata.mysql.database", "required"),
    (["metadata.mysql={database: 'a-b; drop'}"], "metadata.mysql.database", "pattern"),
    (["metadata.mysql={database: x, port: 0}"], "metadata.mysql.port", "greater"),
])
def test_bad_metadata(sets, field, reason):
    with pytest.raises(ConfigError) as e:
        load_config(TEMPLATE, overrides=sets)
    assert e.value.field == field and reason in e.value.reason


def test_unreachable_server_fails_fast_naming_the_address():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cfg = load_config(TEMPLATE, profile="mysql", overrides=[f"metadata.mysql.port={port}"])
    with pytest.raises(mlmd.MetadataError, match=f"127.0.0.1:{port}"):
        mlmd.check(cfg)


def test_pipeline_ir_holds_no_password(monkeypatch, tmp_path):
    """The compiled IR's deployment config (what TFX runs from) has no password; the
    local runner gets it from the pipeline's runtime_connection."""
    from tfx.dsl.compiler import compiler

    from tfxkit.pipelines import factory

    monkeypatch.setattr(mlmd, "prepare", lambda cfg: None)  # no server needed
    monkeypatch.setenv("TFXKIT_UNIT_PW", "hunter2-ir")
    cfg = load_config(TEMPLATE, profile="mysql",
                      overrides=["metadata.mysql.password_env=TFXKIT_UNIT_PW",
                                 f"root={tmp_path}"])
    p = factory.create_pipeline(cfg)
    ir = compiler.Compiler().compile(p)
    assert b"hunter2-ir" not in ir.SerializeToString()
    assert b"tfxkit_penguin" in ir.SerializeToString()
    assert p.runtime_connection().mysql.password == "hunter2-ir"
