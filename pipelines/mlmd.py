"""The ML Metadata connection of a config, in one place.

Every reader and writer of MLMD (pipelines, the CLI's summaries, batch inference's model
lookup, lineage) gets its connection here, so a config's ``metadata:`` section decides
where metadata lives for all of them: a SQLite file (the default) or a MySQL/MariaDB
server. Imports ml_metadata only when called.

Secrets: a MySQL password comes from the environment variable named by
``metadata.mysql.password_env`` and only ``connection_config(cfg)`` puts it in a
ConnectionConfig. The ``tfx.dsl.Pipeline`` carries ``connection_config(cfg,
secrets=False)`` (what compiles into the IR) and the local runner asks ``runtime_connection``
for the full one when it runs, so the password is in no compiled spec and in no MLMD
record.
"""
from __future__ import annotations

import os
import random
import socket
import time

from tfxkit.pipelines.config import PipelineConfig

# MLMD's schema creation on an empty MySQL database is not atomic: a second process that
# connects meanwhile fails with "There are a subset of tables in MLMD instance ... Please
# retry the connection" or "MLMDEnv table exists but no schema_version can be found ...
# Please retry connection". Opening retries for this long.
SCHEMA_RACE_RETRY_S = 60.0


class MetadataError(RuntimeError):
    """MLMD cannot be reached or opened; the message names the address (never a password)."""


def password(cfg: PipelineConfig) -> str:
    """The MySQL password from the environment ('' without ``password_env``)."""
    my = cfg.metadata.mysql
    if my is None or not my.password_env:
        return ""
    value = os.environ.get(my.password_env)
    if value is None:
        raise MetadataError(f"metadata.mysql.password_env: the environment variable "
                            f"{my.password_env} is not set (the password of {my.address})")
    return value


def connection_config(cfg: PipelineConfig, readonly: bool = False, secrets: bool = True):
    """The ``metadata_store_pb2.ConnectionConfig`` of ``cfg`` (SQLite by default).

    ``secrets=False`` leaves the MySQL password out: that is the config a Pipeline object
    (and so its compiled IR) carries. A read-only MySQL connection never creates the
    database."""
    from ml_metadata.proto import metadata_store_pb2

    conn = metadata_store_pb2.ConnectionConfig()
    my = cfg.metadata.mysql
    if my is None:
        conn.sqlite.filename_uri = cfg.metadata_path
        conn.sqlite.connection_mode = (
            metadata_store_pb2.SqliteMetadataSourceConfig.READONLY if readonly
            else metadata_store_pb2.SqliteMetadataSourceConfig.READWRITE_OPENCREATE)
        return conn
    conn.mysql.host = my.host
    conn.mysql.port = my.port
    conn.mysql.database = my.database
    conn.mysql.user = my.user
    if my.socket:
        conn.mysql.socket = my.socket
    conn.mysql.skip_db_creation = readonly or not my.create_database
    if secrets:
        pw = password(cfg)
        if pw:
            conn.mysql.password = pw
    return conn


def runtime_connection(cfg: PipelineConfig):
    """A callable the local runner calls for the full connection (password included)."""
    return lambda: connection_config(cfg)


def check(cfg: PipelineConfig) -> None:
    """Fails fast (MetadataError naming the address) when MLMD is a MySQL server that is
    not reachable within ``connect_timeout_s`` or whose password variable is unset;
    nothing to check for SQLite. Needs neither TFX nor ml_metadata."""
    my = cfg.metadata.mysql
    if my is None:
        return
    password(cfg)
    if my.socket:
        if not os.path.exists(my.socket):
            raise MetadataError(f"cannot reach MySQL at {my.socket}: no such socket "
                                f"(MLMD {my.address})")
        return
    try:
        with socket.create_connection((my.host, my.port), timeout=my.connect_timeout_s):
            pass
    except OSError as e:
        reason = "timed out" if isinstance(e, socket.timeout) else (e.strerror or str(e))
        raise MetadataError(f"cannot reach MySQL at {my.host}:{my.port}: {reason} "
                            f"(MLMD {my.address}, timeout {my.connect_timeout_s:g} s)") from None


def exists(cfg: PipelineConfig) -> bool:
    """Whether the metadata store exists yet (a SQLite file; a server always does)."""
    if cfg.metadata.mysql:
        return True
    return os.path.isfile(cfg.metadata_path)


def prepare(cfg: PipelineConfig) -> None:
    """Whatever must exist before a pipeline writes metadata: the SQLite file's folder;
    for MySQL, the database and MLMD's schema (created once here, so that concurrent
    pipelines never race to create it; see ``open_store``)."""
    if cfg.metadata.mysql:
        open_store(cfg)
        return
    os.makedirs(os.path.dirname(cfg.metadata_path), exist_ok=True)


def _is_schema_race(e: Exception) -> bool:
    """MLMD's messages while another process creates the schema ("subset of tables",
    "MLMDEnv table exists but no schema_version", both ending in "retry")."""
    text = str(e)
    return any(m in text for m in ("concurrent connection", "subset of tables",
                                   "Table definition has changed", "Deadlock",
                                   "already exists", "Duplicate entry"))


def open_store(cfg: PipelineConfig, readonly: bool = False):
    """An ``ml_metadata`` MetadataStore on ``cfg``'s metadata.

    On MySQL, a first connection to an empty database creates MLMD's schema; when
    another process creates it at the same moment, MLMD reports a subset of tables and
    asks to retry: this retries (with jitter) for up to SCHEMA_RACE_RETRY_S. Any other
    failure raises MetadataError naming the address."""
    from ml_metadata.metadata_store import metadata_store

    conn = connection_config(cfg, readonly=readonly)
    my = cfg.metadata.mysql
    if my is None:
        return metadata_store.MetadataStore(conn)
    check(cfg)
    deadline = time.monotonic() + SCHEMA_RACE_RETRY_S
    while True:
        try:
            return metadata_store.MetadataStore(conn)
        except Exception as e:  # MLMD raises RuntimeError / errors.* with C++ messages
            if _is_schema_race(e) and time.monotonic() < deadline:
                time.sleep(0.2 + random.random() * 0.5)
                continue
            first = str(e).strip().splitlines()[0][:300] if str(e).strip() else type(e).__name__
            hint = ""
            if "mysql_real_connect failed" in first:
                hint = (" (wrong user or password, no grant on the database, or the "
                        "database does not exist and may not be created)")
            raise MetadataError(f"cannot open MLMD at {my.address}: {first}{hint}") from None
