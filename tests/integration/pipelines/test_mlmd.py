"""tfxkit.pipelines.mlmd on MLMD in MySQL with processes of its own: six that create the
schema at once, and a real runner killed with -9 (the rest of the module's tests are in
tests/unit/pipelines/test_mlmd.py)."""
import subprocess
import sys
import uuid

from tests.unit.pipelines.test_mlmd import TEMPLATE, _require_mysql
from tfxkit.pipelines import mlmd
from tfxkit.pipelines.config import load_config


def test_concurrent_schema_creation_on_a_fresh_database():
    """Six processes open one fresh database at once: MLMD's schema creation races and
    asks to retry; mlmd.prepare retries, so all succeed."""
    _require_mysql()
    db = f"tfxkit_unit_{uuid.uuid4().hex[:10]}"
    code = ("from tfxkit.pipelines.config import load_config\n"
            "from tfxkit.pipelines import mlmd\n"
            f"c = load_config({str(TEMPLATE)!r}, profile='mysql', "
            f"overrides=['metadata.mysql.database={db}'])\n"
            "mlmd.prepare(c); print('ok')\n")
    try:
        procs = [subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True) for _ in range(6)]
        outs = [p.communicate(timeout=120) for p in procs]
        assert all(p.returncode == 0 for p in procs), [o[1][-500:] for o in outs]
        assert all(o[0].strip() == "ok" for o in outs)
    finally:
        subprocess.run(["mariadb", "-uroot", "-h127.0.0.1", "-e",
                        f"DROP DATABASE IF EXISTS `{db}`"], check=False, timeout=60)


def test_a_runner_killed_with_9_is_marked_failed_in_mysql(tmp_path):
    """infra.run.state on MLMD in MySQL: a real runner killed with -9 inside its
    component leaves its execution RUNNING; the report's reconciliation (what
    ``tfxkit report`` does first, and ``tfxkit run`` before it starts) marks it FAILED."""
    import signal

    from tests.integration.stale_runs_pipeline import PIPELINE, start_holding_runner
    from tfxkit.infra.metadata.report import reconcile
    from tfxkit.infra.metadata.report.gather import gather

    _require_mysql()
    db = f"tfxkit_unit_{uuid.uuid4().hex[:10]}"
    cfg = load_config(TEMPLATE, profile="mysql", overrides=[f"metadata.mysql.database={db}"])
    try:
        mlmd.prepare(cfg)
        proc = start_holding_runner(tmp_path, db)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=60)
        proc.stdout.close()
        store = mlmd.open_store(cfg)
        [execution] = store.get_executions()
        assert execution.last_known_state == execution.RUNNING
        stale = []
        reconcile(cfg, [PIPELINE], stale.append)
        assert [(s.node, s.execution_id) for s in stale] == [("Step", execution.id)]
        [execution] = store.get_executions()
        assert execution.last_known_state == execution.FAILED
        rep = gather(mlmd.open_store(cfg, readonly=True), PIPELINE)
        assert rep.status == "failed" and rep.failed.node_id == "Step"
        assert f"pid {proc.pid}" in rep.failed.error
    finally:
        subprocess.run(["mariadb", "-uroot", "-h127.0.0.1", "-e",
                        f"DROP DATABASE IF EXISTS `{db}`"], check=False, timeout=60)
