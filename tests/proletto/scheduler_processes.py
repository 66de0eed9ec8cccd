"""Helpers to run real `manage.py runapscheduler` processes against the test database."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from django.db import connection

BASE_DIR = Path(__file__).resolve().parents[2]


def database_url() -> str:
    settings = connection.settings_dict
    if connection.vendor == "postgresql":
        user = settings["USER"] or "postgres"
        return f"postgres://{user}@{settings['HOST']}:{settings['PORT']}/{settings['NAME']}"
    return f"sqlite:///{Path(settings['NAME']).resolve()}"


class Schedulers:
    """Starts scheduler processes; stops every one of them at teardown."""

    def __init__(self, tmp_path: Path):
        self.tmp_path = tmp_path
        self.processes: list[subprocess.Popen] = []
        self.tick_log = tmp_path / "ticks.log"
        self.tick_log.touch()

    def start(self, **env_overrides) -> subprocess.Popen:
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "proletto.settings_test",
            "DATABASE_URL": database_url(),
            "ENABLE_SCHEDULER": "true",
            "SCHEDULER_JOB_MODULES": "tests.proletto.scheduler_jobs_live",
            "SCHEDULER_LEASE_SECONDS": "4",
            "SCHEDULER_POLL_SECONDS": "0.5",
            "SCHEDULER_SHUTDOWN_GRACE_SECONDS": "2",
            "SCHEDULER_HEARTBEAT_STALE_SECONDS": "10",
            "TICK_LOG": str(self.tick_log),
            "LOG_LEVEL": "INFO",
            **{key: str(value) for key, value in env_overrides.items()},
        }
        log = open(self.tmp_path / f"scheduler-{len(self.processes)}.log", "w")
        process = subprocess.Popen(
            [sys.executable, "manage.py", "runapscheduler"],
            cwd=BASE_DIR,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        self.processes.append(process)
        return process

    def logs(self) -> str:
        return "\n".join(p.read_text() for p in sorted(self.tmp_path.glob("scheduler-*.log")))

    def ticks(self) -> list[str]:
        return self.tick_log.read_text().split()

    def stop_all(self) -> list[int]:
        for process in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        codes = []
        for process in self.processes:
            try:
                codes.append(process.wait(timeout=20))
            except subprocess.TimeoutExpired:
                process.kill()
                codes.append(process.wait())
        return codes


def wait_for(predicate, *, timeout: float, what: str):
    """Poll a condition that another process makes true (never a clock)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")
