"""`make test` stops with one clear line naming a service that does not answer."""
import os
import socket
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "services.py"


def closed_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # closed again when the socket goes


def run(**env):
    return subprocess.run([sys.executable, str(SCRIPT)], capture_output=True, text=True,
                          env=dict(os.environ, **env), timeout=60)


def test_all_services_answer_here():
    r = run()
    assert r.returncode == 0, r.stderr
    assert "PostgreSQL, MariaDB and Redis answer" in r.stdout


def test_a_service_down_is_one_line_naming_it():
    port = closed_port()
    r = run(TFXKIT_TEST_REDIS=f"redis://127.0.0.1:{port}/0",
            TFXKIT_TEST_MYSQL=f"127.0.0.1:{port}")
    assert r.returncode == 1
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 2, r.stderr
    assert lines[0].startswith(f"services: MariaDB at 127.0.0.1:{port} does not answer")
    assert lines[1].startswith(f"services: Redis at redis://127.0.0.1:{port}/0 does not answer")
    assert "Traceback" not in r.stderr


def test_something_else_on_the_port_is_not_taken_for_mysql():
    """A server that speaks another protocol (Redis sends no greeting) is not MariaDB."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)
    port = srv.getsockname()[1]
    try:
        # accepts (the kernel's backlog) but never greets, then the check times out
        r = run(TFXKIT_TEST_MYSQL=f"127.0.0.1:{port}")
    finally:
        srv.close()
    assert r.returncode == 1
    assert f"MariaDB at 127.0.0.1:{port} does not answer" in r.stderr


def test_a_password_in_a_url_is_not_printed():
    port = closed_port()
    r = run(TFXKIT_TEST_POSTGRES=f"postgresql://u:hunter2@127.0.0.1:{port}/test")
    assert r.returncode == 1
    assert "hunter2" not in r.stderr + r.stdout
    assert f"PostgreSQL at postgresql://u@127.0.0.1:{port}/test does not answer" in r.stderr
