import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from proletto import config

BASE_DIR = Path(__file__).resolve().parents[2]


def run_check(env_overrides):
    env = {
        "PATH": "/usr/bin:/bin",
        "DJANGO_SETTINGS_MODULE": "proletto.settings",
        "SECRET_KEY": "x" * 50,
        **env_overrides,
    }
    return subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_it_reads_a_postgres_url():
    db = config.database_from_url("postgres://app:pw@db.internal:5433/proletto", base_dir=BASE_DIR)
    assert db["ENGINE"] == "django.db.backends.postgresql"
    assert (db["NAME"], db["USER"], db["HOST"], db["PORT"]) == (
        "proletto",
        "app",
        "db.internal",
        5433,
    )


def test_postgres_sessions_compress_stored_values_with_lz4_by_default():
    db = config.database_from_url("postgres://app@db/proletto", base_dir=BASE_DIR)
    assert db["OPTIONS"]["options"] == "-c default_toast_compression=lz4"


def test_options_given_in_the_url_are_kept_after_the_toast_compression():
    db = config.database_from_url(
        "postgres://app@db/proletto?options=-c%20search_path%3Dart", base_dir=BASE_DIR
    )
    assert db["OPTIONS"]["options"] == "-c default_toast_compression=lz4 -c search_path=art"


def test_an_unknown_toast_compression_is_rejected_with_sqlite_too():
    with pytest.raises(ImproperlyConfigured, match="DATABASE_TOAST_COMPRESSION='zstd'"):
        config.database_from_url(
            "sqlite:///var/x.sqlite3", base_dir=BASE_DIR, toast_compression="zstd"
        )


def test_an_empty_toast_compression_leaves_the_servers_default():
    db = config.database_from_url(
        "postgres://app@db/proletto", base_dir=BASE_DIR, toast_compression=""
    )
    assert "options" not in db["OPTIONS"]


def test_it_rejects_an_unknown_toast_compression():
    with pytest.raises(ImproperlyConfigured, match="DATABASE_TOAST_COMPRESSION='zstd'"):
        config.database_from_url(
            "postgres://app@db/proletto", base_dir=BASE_DIR, toast_compression="zstd"
        )


def test_it_puts_a_relative_sqlite_path_under_the_project(tmp_path):
    db = config.database_from_url("sqlite:///var/test-settings.sqlite3", base_dir=tmp_path)
    assert db["NAME"] == str(tmp_path / "var" / "test-settings.sqlite3")
    assert db["ENGINE"] == "django.db.backends.sqlite3"


def test_it_keeps_an_absolute_sqlite_path(tmp_path):
    db = config.database_from_url(f"sqlite:///{tmp_path}/abs.sqlite3", base_dir=BASE_DIR)
    assert db["NAME"] == str(tmp_path / "abs.sqlite3")


@pytest.mark.parametrize("url", ["mysql://x@y/z", "not a url", "", "postgres://host:5432/"])
def test_it_rejects_an_unsupported_database_url(url):
    with pytest.raises(ImproperlyConfigured, match="DATABASE_URL"):
        config.database_from_url(url, base_dir=BASE_DIR)


def test_it_rejects_an_unknown_time_zone():
    with pytest.raises(ImproperlyConfigured, match="TIME_ZONE='Mars/Olympus'"):
        config.time_zone_name("Mars/Olympus", variable="TIME_ZONE")


def test_it_rejects_an_unknown_log_level():
    with pytest.raises(ImproperlyConfigured, match="LOG_LEVEL"):
        config.log_level("LOUD")


def test_it_refuses_a_missing_secret_key_in_production():
    with pytest.raises(ImproperlyConfigured, match="SECRET_KEY"):
        config.secret_key(None, debug=False)


def test_it_refuses_a_short_secret_key_in_production():
    with pytest.raises(ImproperlyConfigured, match="SECRET_KEY"):
        config.secret_key("short", debug=False)


def test_it_allows_a_missing_secret_key_in_debug():
    assert config.secret_key(None, debug=True)


def test_manage_py_fails_with_one_line_for_a_bad_database_url():
    result = run_check({"DATABASE_URL": "mysql://root@localhost/proletto"})
    assert result.returncode != 0
    assert "DATABASE_URL='mysql://root@localhost/proletto' is not supported" in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_manage_py_refuses_to_start_without_secret_key_when_not_debug():
    result = run_check({"SECRET_KEY": "", "DEBUG": "false"})
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


def test_check_deploy_is_clean_with_production_like_env(tmp_path):
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=BASE_DIR,
        env={
            "PATH": "/usr/bin:/bin",
            "DJANGO_SETTINGS_MODULE": "proletto.settings",
            "SECRET_KEY": "k3y-" + "a8Zq" * 15,
            "DEBUG": "false",
            "ALLOWED_HOSTS": "proletto.example",
            "SITE_URL": "https://proletto.example",
            "DATABASE_URL": f"sqlite:///{tmp_path}/deploy.sqlite3",
            "SENDGRID_API_KEY": "SG.test",
            "ANYMAIL_WEBHOOK_SECRET": "hook:" + "w3bh00k" * 5,
            "STRIPE_SECRET_KEY": "rk_live_" + "s7r1p3" * 5,
            "STRIPE_WEBHOOK_SECRET": "whsec_" + "y" * 24,
        },
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr + result.stdout


def test_from_email_is_accepted_under_the_seeds_name():
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "import django; django.setup(); from django.conf import settings; "
            "print(settings.DEFAULT_FROM_EMAIL)",
        ],
        cwd=BASE_DIR,
        env={
            "PATH": "/usr/bin:/bin",
            "DJANGO_SETTINGS_MODULE": "proletto.settings",
            "DEBUG": "true",
            "FROM_EMAIL": "hello@chaosvenice.com",
        },
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.stdout.strip() == "hello@chaosvenice.com", result.stderr


def test_a_duration_setting_reads_iso_8601():
    import datetime as dt

    assert config.duration("P1D", variable="X") == dt.timedelta(days=1)
    assert config.duration("PT6H", variable="X") == dt.timedelta(hours=6)


def test_a_bad_duration_setting_names_the_variable():
    with pytest.raises(ImproperlyConfigured, match="UPSELL_MIN_STEP_GAP='one day'"):
        config.duration("one day", variable="UPSELL_MIN_STEP_GAP")
