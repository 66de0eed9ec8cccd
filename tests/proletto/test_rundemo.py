"""`rundemo` / `make demo`: a taken port fails before any banner; a dead process is an error."""

import os
import socket
import subprocess
import sys
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from proletto.management.commands import rundemo

ROOT = Path(__file__).resolve().parent.parent.parent


@pytest.fixture
def taken_port():
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        yield listener.getsockname()[1]


def test_a_taken_port_fails_before_any_banner(taken_port):
    out = StringIO()
    with pytest.raises(CommandError, match=f"cannot use 127.0.0.1:{taken_port}") as failure:
        call_command("rundemo", "--addr", f"127.0.0.1:{taken_port}", stdout=out)
    assert failure.value.returncode == 1
    assert "PORT=8001" in str(failure.value)
    assert out.getvalue() == ""


def test_check_passes_on_a_free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    out = StringIO()
    call_command("rundemo", "--addr", f"127.0.0.1:{port}", "--check", stdout=out)
    assert out.getvalue() == ""


@pytest.mark.parametrize("addr", ["127.0.0.1:http", "127.0.0.1:70000", "127.0.0.1:"])
def test_a_bad_address_is_a_one_line_error(addr):
    with pytest.raises(CommandError, match="give HOST:PORT"):
        call_command("rundemo", "--addr", addr, stdout=StringIO())


class DyingWebDemo(rundemo.Command):
    def processes(self, addr):
        return {
            "web": [sys.executable, "-c", "import sys; sys.exit(3)"],
            "scheduler": [sys.executable, "-c", "import time; time.sleep(60)"],
        }, dict(os.environ)


def test_a_web_server_that_dies_at_start_fails_the_demo_without_a_banner():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    out = StringIO()
    with pytest.raises(CommandError, match="the web server exited with code 3"):
        call_command(DyingWebDemo(), "--addr", f"127.0.0.1:{port}", stdout=out)
    assert "Proletto demo:" not in out.getvalue()


@pytest.mark.slow
def test_make_demo_on_a_taken_port_exits_non_zero_before_loading(taken_port, tmp_path):
    database = tmp_path / "demo.sqlite3"
    env = {**os.environ, "DEMO_DATABASE_URL": f"sqlite:///{database}"}
    result = subprocess.run(
        ["make", "-s", "demo", f"PORT={taken_port}", f"DEMO_DATABASE_URL=sqlite:///{database}"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode != 0
    assert f"cannot use 127.0.0.1:{taken_port}" in result.stderr
    assert "Proletto demo:" not in result.stdout and "Demo data loaded" not in result.stdout
    assert not database.exists()
