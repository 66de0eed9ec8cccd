"""Django set up for the bench scripts that build their own throwaway database.

Each script puts the repository root on sys.path, then calls `bench_django_setup()` before
importing any model: the scripts run as `python bench/<name>.py`, outside manage.py.
"""

import os

import django


def bench_django_setup() -> None:
    """Point Django at BENCH_DATABASE_URL (PostgreSQL by default) with the test settings."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "proletto.settings_test")
    os.environ["DATABASE_URL"] = os.environ.get(
        "BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/proletto_bench"
    )
    django.setup()
