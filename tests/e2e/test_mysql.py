"""MLMD in MySQL/MariaDB (127.0.0.1:3306): a whole pipeline run with the template's
``mysql`` profile, read back over MySQL; a password that reaches no log, file or MLMD
record; two pipelines running at the same time on one fresh database; an unreachable
server failing fast. Each test uses its own database (and user), dropped afterwards."""
import os
import re
import socket
import subprocess
import time
import uuid

import pytest

from tests.e2e.helpers import BIN, STATE, node_states, registry_versions, tfxkit

pytestmark = pytest.mark.e2e

HOST, PORT = "127.0.0.1", 3306
COMPONENTS = {"ExampleGen", "StatisticsGen", "SchemaGen", "ExampleValidator", "ValidationGate",
              "Transform", "Trainer", "Evaluator", "Pusher"}


def _reachable() -> bool:
    try:
        with socket.create_connection((HOST, PORT), timeout=2):
            return True
    except OSError:
        return False



def sql(statement: str) -> str:
    r = subprocess.run(["mariadb", "-uroot", f"-h{HOST}", f"-P{PORT}", "-N", "-e", statement],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    return r.stdout


@pytest.fixture
def database():
    """A fresh database name, dropped afterwards. Without a server the test fails (it never
    skips: CI must not pass with the MySQL tests silently left out)."""
    if not _reachable():
        pytest.fail(f"no MySQL/MariaDB at {HOST}:{PORT} (user root, no password): start it "
                    "(DEVELOPERS.md, Services); the MySQL e2e tests need it", pytrace=False)
    name = f"tfxkit_e2e_{uuid.uuid4().hex[:10]}"
    yield name
    sql(f"DROP DATABASE IF EXISTS `{name}`")


def mysql_store(database, user="root", password=None):
    from ml_metadata.metadata_store import metadata_store
    from ml_metadata.proto import metadata_store_pb2

    c = metadata_store_pb2.ConnectionConfig()
    c.mysql.host, c.mysql.port, c.mysql.database, c.mysql.user = HOST, PORT, database, user
    c.mysql.skip_db_creation = True
    if password:
        c.mysql.password = password
    return metadata_store.MetadataStore(c)


def run_of(s, pipeline):
    """The pipeline's one pipeline_run context."""
    ctx = s.get_context_by_type_and_name("pipeline", pipeline)
    assert ctx is not None, f"no pipeline context {pipeline}"
    [run] = s.get_children_contexts_by_context(ctx.id)
    return run


def mysql_args(database, **extra):
    args = ["--profile", "mysql", "--set", f"metadata.mysql.database={database}"]
    for k, v in extra.items():
        args += ["--set", f"metadata.mysql.{k}={v}"]
    return args


def test_pipeline_on_mysql_keeps_the_password_secret(template_copy, database):
    """A whole run with MLMD in MySQL as a user with a password (from password_env):
    every component COMPLETE and the pushed model in MLMD; the password is in none of the
    run's output (with -v), the pipeline root's files, or any MLMD table."""
    user = f"tfxkit_{uuid.uuid4().hex[:8]}"
    secret = f"S3cr3t-{uuid.uuid4().hex}"
    for host in ("%", "localhost"):
        sql(f"CREATE USER '{user}'@'{host}' IDENTIFIED BY '{secret}'; "
            f"GRANT ALL ON `{database}`.* TO '{user}'@'{host}'")
    try:
        case = template_copy("multiclass")
        env = {**os.environ, "TFXKIT_TEST_MLMD_PASSWORD": secret}
        cmd = [str(BIN), "run", str(case / "config.yaml"), "-v",
               *mysql_args(database, user=user, password_env="TFXKIT_TEST_MLMD_PASSWORD")]
        r = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=900)
        print(r.stdout[-3000:])
        print(r.stderr[-3000:])
        assert r.returncode == 0, r.stderr[-3000:]
        assert "BLESSED" in r.stdout and "Pushed version" in r.stdout
        assert not (case / ".tfxkit" / "metadata.sqlite").exists()  # MLMD is in MySQL

        s = mysql_store(database, user, secret)
        run = run_of(s, "penguin-species")
        states = node_states(s, "penguin-species", run)
        assert COMPONENTS <= set(states), states
        assert all(states[c] == "COMPLETE" for c in COMPONENTS), states
        [pushed] = s.get_artifacts_by_type("PushedModel")
        assert pushed.custom_properties["pushed"].int_value == 1
        [version] = registry_versions(case / "models")
        dest = pushed.custom_properties["pushed_destination"].string_value
        assert dest == str(case / "models" / version)
        assert os.path.isfile(os.path.join(dest, "saved_model.pb"))

        # The secret is nowhere: the run's output (verbose), the files, MLMD.
        assert secret not in r.stdout and secret not in r.stderr
        checked = 0
        for root, _, files in os.walk(case):
            for f in files:
                with open(os.path.join(root, f), "rb") as fh:
                    assert secret.encode() not in fh.read(), os.path.join(root, f)
                checked += 1
        assert checked > 50
        dump = subprocess.run(["mariadb-dump", "-uroot", f"-h{HOST}", f"-P{PORT}",
                               "--skip-extended-insert", database],
                              capture_output=True, timeout=120)
        assert dump.returncode == 0, dump.stderr
        assert b"INSERT INTO `Execution`" in dump.stdout  # the dump holds the records
        assert b"INSERT INTO `ContextProperty`" in dump.stdout
        assert secret.encode() not in dump.stdout
        assert secret.encode() not in dump.stdout.replace(b"\\", b"")  # escaped forms
    finally:
        for host in ("%", "localhost"):
            sql(f"DROP USER IF EXISTS '{user}'@'{host}'")


def _counts(s, pipeline):
    run = run_of(s, pipeline)
    in_run = s.get_executions_by_context(run.id)
    return run, in_run


def test_two_pipelines_at_once_on_one_database(template_copy, database):
    """Two pipelines (multiclass and binary) start at the same moment on one fresh
    database: MLMD's schema is created once (tfxkit retries MLMD's "subset of tables" race),
    both runs succeed and every execution of each run is in MLMD."""
    multi, binary = template_copy("multiclass"), template_copy("binary")
    cmds = [
        [str(BIN), "run", str(multi / "config.yaml"), *mysql_args(database)],
        [str(BIN), "run", str(binary / "config.yaml"),
         "--set", f"metadata.mysql={{host: {HOST}, port: {PORT}, database: {database}, "
                  "user: root}"],
    ]
    t0 = time.monotonic()
    procs = [subprocess.Popen(c, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for c in cmds]
    outs = [p.communicate(timeout=1200) for p in procs]
    print(f"both runs: {time.monotonic() - t0:.0f} s")
    for p, (out, err) in zip(procs, outs):
        print(out[-2500:])
        print(err[-2500:])
        assert p.returncode == 0, err[-3000:]
        assert "Pushed version" in out

    s = mysql_store(database)
    all_ids = set()
    for pipeline, out in (("penguin-species", outs[0][0]), ("breast-cancer", outs[1][0])):
        run, in_run = _counts(s, pipeline)
        states = node_states(s, pipeline, run)
        assert COMPONENTS <= set(states), (pipeline, states)
        assert all(states[c] == "COMPLETE" for c in COMPONENTS), (pipeline, states)
        # every execution the CLI reported ran is in MLMD, in this run
        ran = int(re.search(r"^Run \S+: (\d+) ran", out, re.M).group(1))
        complete = [e for e in in_run if e.last_known_state == STATE.COMPLETE]
        assert len(complete) >= ran >= len(COMPONENTS), (pipeline, ran, len(complete))
        ids = {e.id for e in in_run}
        assert not ids & all_ids  # the runs' executions are distinct
        all_ids |= ids
        [pushed] = [a for a in s.get_artifacts_by_context(run.id)
                    if s.get_artifact_types_by_id([a.type_id])[0].name == "PushedModel"]
        assert pushed.custom_properties["pushed"].int_value == 1
    # nothing else (lost or half-written) in the store: every execution belongs to a run
    assert {e.id for e in s.get_executions()} == all_ids
    assert len(s.get_artifacts_by_type("PushedModel")) == 2
    assert os.listdir(multi / "models") and os.listdir(binary / "models")


def test_unreachable_mysql_fails_fast(template_copy):
    """A closed port: `tfxkit run` exits 1 naming host:port before it loads TFX (needs no
    server)."""
    with socket.socket() as sock:  # a port that nothing listens on
        sock.bind((HOST, 0))
        port = sock.getsockname()[1]
    case = template_copy("multiclass")
    t0 = time.monotonic()
    r = tfxkit("run", case / "config.yaml", "--profile", "mysql",
               "--set", f"metadata.mysql.port={port}", timeout=120)
    elapsed = time.monotonic() - t0
    assert r.returncode == 1
    assert f"{HOST}:{port}" in r.stderr and "cannot reach MySQL" in r.stderr
    assert "loading TFX" not in r.stdout
    assert elapsed < 30, elapsed
    # batch inference checks the same before it looks for a pushed model in MLMD
    r = tfxkit("predict", case / "config.yaml", "--profile", "mysql",
               "--set", f"metadata.mysql.port={port}", timeout=120)
    assert r.returncode == 1
    assert f"{HOST}:{port}" in r.stderr and "cannot reach MySQL" in r.stderr
    assert "Traceback" not in r.stderr


def test_missing_password_variable_fails_naming_it(template_copy):
    case = template_copy("multiclass")
    env_name = f"TFXKIT_UNSET_{uuid.uuid4().hex[:6].upper()}"
    r = tfxkit("run", case / "config.yaml", "--profile", "mysql",
               "--set", f"metadata.mysql.password_env={env_name}", timeout=120)
    assert r.returncode == 1
    assert env_name in r.stderr and "not set" in r.stderr
