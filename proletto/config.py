"""Reading settings from the environment, with one-line errors for bad values.

settings.py calls these; they raise ImproperlyConfigured naming the variable, so a typo in
production fails at start-up with a message an operator can act on.
"""

import datetime as dt
import zoneinfo
from pathlib import Path
from urllib.parse import urlsplit

import environ
from django.core.exceptions import ImproperlyConfigured

DATABASE_SCHEMES = {"postgres", "postgresql", "pgsql", "psql", "sqlite"}
TOAST_COMPRESSIONS = {"lz4", "pglz", ""}

# Values Django or tutorials ship; any of them in production means "not configured".
INSECURE_SECRET_KEYS = {"", "change-me", "changeme", "secret", "insecure-dev-key"}


def database_from_url(url: str, *, base_dir: Path, toast_compression: str = "lz4") -> dict:
    """A DATABASES['default'] dict for `url`, or ImproperlyConfigured saying what is wrong.

    `toast_compression` is PostgreSQL's default_toast_compression for this app's sessions
    ("" leaves the server's own default).
    """
    if toast_compression not in TOAST_COMPRESSIONS:
        raise ImproperlyConfigured(
            f"DATABASE_TOAST_COMPRESSION={toast_compression!r} is not supported: use lz4, pglz "
            "or an empty value for the server's default"
        )
    url = url.strip()
    scheme = urlsplit(url).scheme if "://" in url else ""
    if scheme not in DATABASE_SCHEMES:
        raise ImproperlyConfigured(
            f"DATABASE_URL={url!r} is not supported: use postgres://user@host:5432/name "
            "or sqlite:///path/to/file.sqlite3"
        )
    if scheme == "sqlite":
        path = url[len("sqlite://") :]
        if path in ("", "/"):
            raise ImproperlyConfigured("DATABASE_URL: a sqlite:/// URL needs a file path")
        # sqlite:///var/x.sqlite3 is relative to the project; sqlite:////abs/x is absolute.
        path = path[1:] if path.startswith("//") else path.lstrip("/")
        file = Path(path) if Path(path).is_absolute() else base_dir / path
        return sqlite_database(file)

    config = environ.Env.db_url_config(url)
    if not config.get("NAME"):
        raise ImproperlyConfigured(f"DATABASE_URL={url!r} names no database")
    config["ENGINE"] = "django.db.backends.postgresql"
    # Short-lived connections: the scheduler and relays are long-running processes that
    # must survive a database restart, so they never hold on to a connection between jobs.
    config.setdefault("CONN_MAX_AGE", 0)
    config.setdefault("OPTIONS", {}).setdefault("connect_timeout", 10)
    if toast_compression:
        # Every queued email is ~10 KB of HTML and text, stored compressed (TOAST). The
        # server's default, pglz, made compressing them about a sixth of a digest run; lz4
        # (PostgreSQL 14+) compresses several times faster. The server picks the method
        # when a value is stored, so the session setting covers every table, temporary
        # staging tables included; values stored before keep theirs and read back the same.
        # Options from the URL (?options=...) come after, so theirs win.
        given = config["OPTIONS"].get("options", "")
        config["OPTIONS"]["options"] = (
            f"-c default_toast_compression={toast_compression} {given}".strip()
        )
    return config


def sqlite_database(file: Path) -> dict:
    file.parent.mkdir(parents=True, exist_ok=True)
    return {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": str(file),
        "OPTIONS": {
            # The web server, the scheduler and a relay share the file: WAL lets readers
            # and one writer work together, IMMEDIATE takes the write lock up front so two
            # writers queue (for `timeout` seconds) instead of failing with "locked".
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
        },
        "TEST": {"NAME": str(file.with_name(file.stem + "-test.sqlite3"))},
    }


def time_zone_name(value: str, *, variable: str) -> str:
    if value not in zoneinfo.available_timezones() and value != "UTC":
        raise ImproperlyConfigured(
            f"{variable}={value!r} is not an IANA time zone name (e.g. Europe/Rome)"
        )
    return value


def log_level(value: str) -> str:
    level = value.strip().upper()
    if level not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
        raise ImproperlyConfigured(
            f"LOG_LEVEL={value!r} is not one of DEBUG, INFO, WARNING, ERROR, CRITICAL"
        )
    return level


LOG_FORMATS = {"text": "line", "json": "json"}


def log_format(value: str) -> str:
    """The formatter LOG_FORMAT names: `text` (one readable line) or `json` (one object)."""
    name = value.strip().lower()
    if name not in LOG_FORMATS:
        raise ImproperlyConfigured(f"LOG_FORMAT={value!r} is not one of text, json")
    return LOG_FORMATS[name]


def secret_key(value: str | None, *, debug: bool) -> str:
    if value and value not in INSECURE_SECRET_KEYS and len(value) >= 32:
        return value
    if debug:
        return value or "insecure-dev-key-only-for-debug-mode-000000000000000"
    raise ImproperlyConfigured(
        "SECRET_KEY must be set to a random string of 32+ characters when DEBUG is off "
        '(python -c "import secrets; print(secrets.token_urlsafe(50))")'
    )


def time_of_day(value: str) -> dt.time:
    try:
        return dt.time.fromisoformat(value.strip())
    except ValueError:
        raise ImproperlyConfigured(f"{value!r} is not a time of day like 08:00") from None


def duration(value: str, *, variable: str, minimum: dt.timedelta = dt.timedelta(0)) -> dt.timedelta:
    """An ISO 8601 duration ("P1D", "PT6H") or Django's "1 00:00:00"; ImproperlyConfigured
    naming the variable otherwise."""
    from django.utils.dateparse import parse_duration

    parsed = parse_duration(value.strip())
    if parsed is None or parsed < minimum:
        raise ImproperlyConfigured(
            f"{variable}={value!r} is not a duration of at least {minimum}: "
            'use ISO 8601, e.g. "P1D" (one day) or "PT6H" (six hours)'
        )
    return parsed
