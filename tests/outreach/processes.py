"""Run manage.py commands as real processes against the test database."""

import os
import subprocess
import sys
from pathlib import Path

from django.db import connection

ROOT = Path(__file__).resolve().parents[2]


def database_url() -> str:
    config = connection.settings_dict
    if connection.vendor == "postgresql":
        user = config.get("USER") or "postgres"
        host = config.get("HOST") or "127.0.0.1"
        port = config.get("PORT") or 5432
        return f"postgres://{user}@{host}:{port}/{config['NAME']}"
    return f"sqlite:///{Path(config['NAME']).resolve()}"


def manage(*args, **env) -> subprocess.Popen:
    environment = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "proletto.settings_test",
        "DATABASE_URL": database_url(),
        "PYTHONUNBUFFERED": "1",
        **{key: str(value) for key, value in env.items()},
    }
    return subprocess.Popen(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
