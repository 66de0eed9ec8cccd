"""Proletto settings, read from the environment (12-factor). See README.md for the table."""

import datetime as dt
from pathlib import Path

import environ

from proletto import config

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"

env = environ.Env()

DEBUG = env.bool("DEBUG", default=False)
SECRET_KEY = config.secret_key(env.str("SECRET_KEY", default=None), debug=DEBUG)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

SITE_URL = env.str("SITE_URL", default="http://127.0.0.1:8000").rstrip("/")
# The seeds call it FROM_EMAIL; DEFAULT_FROM_EMAIL wins when both are set.
DEFAULT_FROM_EMAIL = env.str(
    "DEFAULT_FROM_EMAIL", default=env.str("FROM_EMAIL", default="Proletto <hello@proletto.local>")
)
SERVER_EMAIL = env.str("SERVER_EMAIL", default=DEFAULT_FROM_EMAIL)
# "Ada Admin <ada@example.com>, bob@example.com" -> [("Ada Admin", "ada@..."), ("", "bob@...")]
ADMINS = [
    (name.strip(), address.strip("<> "))
    for name, _, address in (
        item.strip().rpartition(" ") for item in env.list("ADMINS", default=[])
    )
]

TIME_ZONE = config.time_zone_name(env.str("TIME_ZONE", default="UTC"), variable="TIME_ZONE")
USE_TZ = True
# One date format everywhere ("2026-03-02 10:05:00 UTC"): proletto/formats/en/formats.py.
FORMAT_MODULE_PATH = ["proletto.formats"]
USE_I18N = True
LANGUAGE_CODE = "en-us"

ENABLE_SCHEDULER = env.bool("ENABLE_SCHEDULER", default=True)

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_apscheduler",
    "anymail",
    "axes",
    "proletto",
    "billing",
    "outreach",
    "digests",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as django-axes asks: it turns a locked-out login into its 429 answer.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "proletto.urls"
WSGI_APPLICATION = "proletto.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {
    "default": config.database_from_url(
        env.str("DATABASE_URL", default="sqlite:///var/proletto.sqlite3"),
        base_dir=BASE_DIR,
        toast_compression=env.str("DATABASE_TOAST_COMPRESSION", default="lz4"),
    )
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "proletto.User"

# Login throttling by django-axes: after AXES_FAILURE_LIMIT failed logins in a row from one
# address, that address is refused (429) for AXES_COOLOFF_MINUTES, right password or not.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_ENABLED = env.bool("AXES_ENABLED", default=True)
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = dt.timedelta(minutes=env.float("AXES_COOLOFF_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = ["ip_address"]
AXES_RESET_ON_SUCCESS = True
# Behind N reverse proxies (AXES_PROXY_COUNT=N), the client's address is read from
# X-Forwarded-For by django-ipware; with 0, REMOTE_ADDR (a forged header changes nothing).
AXES_IPWARE_PROXY_COUNT = env.int("AXES_PROXY_COUNT", default=0) or None
AXES_IPWARE_META_PRECEDENCE_ORDER = (
    ["HTTP_X_FORWARDED_FOR", "REMOTE_ADDR"] if AXES_IPWARE_PROXY_COUNT else ["REMOTE_ADDR"]
)

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}

# Production hardening, on whenever the site is served over https (SITE_URL says so);
# `manage.py check --deploy` is clean with DEBUG off and an https SITE_URL.
if not DEBUG and SITE_URL.startswith("https://"):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=60 * 60 * 24 * 365)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    # /healthz is probed over plain HTTP by load balancers and orchestrators.
    SECURE_REDIRECT_EXEMPT = [r"^healthz$"]

LOG_LEVEL = config.log_level(env.str("LOG_LEVEL", default="INFO"))
LOG_FORMAT = config.log_format(env.str("LOG_FORMAT", default="text"))
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "line": {
            "format": "%(asctime)s %(levelname)s %(name)s [%(process)d] %(message)s",
            "datefmt": "%Y-%m-%dT%H:%M:%S%z",
        },
        # One JSON object per line; a record's extra fields (a job run's job_id,
        # execution_id, trigger, counts, duration_seconds) become keys of their own.
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "format": "%(asctime)s %(levelname)s %(name)s %(process)d %(message)s",
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
            "datefmt": "%Y-%m-%dT%H:%M:%S%z",
        },
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        # APScheduler logs every wake-up at INFO; its own lines add nothing to ours.
        "apscheduler": {"level": env.str("APSCHEDULER_LOG_LEVEL", default="WARNING")},
        "django.db.backends": {"level": "INFO"},
        # django-axes announces itself at INFO in every process; lockouts are WARNINGs.
        "axes": {"level": "WARNING"},
    },
}

# --- scheduling runtime (proletto/scheduling) --------------------------------------------
# How long the leader's lease lasts without renewal; a standby takes over after it expires.
SCHEDULER_LEASE_SECONDS = env.int("SCHEDULER_LEASE_SECONDS", default=15)
# How often the leader looks for run-now requests, pauses and schedule changes.
SCHEDULER_POLL_SECONDS = env.float("SCHEDULER_POLL_SECONDS", default=2.0)
# How long SIGTERM waits for running jobs before marking them interrupted.
SCHEDULER_SHUTDOWN_GRACE_SECONDS = env.int("SCHEDULER_SHUTDOWN_GRACE_SECONDS", default=30)
SCHEDULER_HEARTBEAT_STALE_SECONDS = env.int("SCHEDULER_HEARTBEAT_STALE_SECONDS", default=60)
# How long a job's thread keeps its database session between runs (health-checked before
# reuse); a job idle that long holds none (proletto/scheduling/job_threads.py).
SCHEDULER_CONNECTION_MAX_AGE_SECONDS = env.float(
    "SCHEDULER_CONNECTION_MAX_AGE_SECONDS", default=300.0
)
# Job runs and handled run-now requests older than this are deleted by prune_job_history.
JOB_EXECUTION_RETENTION_DAYS = env.int("JOB_EXECUTION_RETENTION_DAYS", default=30)
# Per-job schedule overrides: SCHEDULE_<JOB_ID_UPPER>="cron: 0 8 * * mon" or "interval: 15m".
SCHEDULE_OVERRIDES = {
    key[len("SCHEDULE_") :].lower(): value
    for key, value in env.ENVIRON.items()
    if key.startswith("SCHEDULE_") and value.strip()
}
# Job modules to use instead of every installed app's jobs.py (tests point it at theirs).
SCHEDULER_JOB_MODULES = env.list("SCHEDULER_JOB_MODULES", default=[])
# django-apscheduler's own admin formats times with this.
APSCHEDULER_DATETIME_FORMAT = "Y-m-d H:i:s"
APSCHEDULER_RUN_NOW_TIMEOUT = 25

# --- email (outreach) ----------------------------------------------------------------------
# Which Anymail ESP sends: sendgrid (the seeds' choice), postmark, mailgun, amazon_ses,
# brevo, ... or "file" (written under var/mail, the demo) / "console" for development.
EMAIL_ESP = env.str("EMAIL_ESP", default="file" if DEBUG else "sendgrid").lower()
EMAIL_FILE_PATH = env.str("EMAIL_FILE_PATH", default=str(VAR_DIR / "mail"))
ANYMAIL = {
    "SENDGRID_API_KEY": env.str("SENDGRID_API_KEY", default=""),
    "SENDGRID_API_URL": env.str("SENDGRID_API_URL", default="https://api.sendgrid.com/v3/"),
    "WEBHOOK_SECRET": env.str("ANYMAIL_WEBHOOK_SECRET", default="") or None,
    # SendGrid's signed event webhook (public key from SendGrid's settings page); when set,
    # unsigned or badly signed events are refused in addition to the basic-auth secret.
    "SENDGRID_TRACKING_WEBHOOK_VERIFICATION_KEY": env.str(
        "SENDGRID_TRACKING_WEBHOOK_VERIFICATION_KEY", default=""
    )
    or None,
    "REQUESTS_TIMEOUT": env.float("EMAIL_TIMEOUT", default=20),
}
if EMAIL_ESP == "file":
    EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
elif EMAIL_ESP == "console":
    EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
elif EMAIL_ESP == "locmem":
    EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
elif EMAIL_ESP == "sendgrid":
    # Anymail's SendGrid backend over one urllib3 pool per sender (outreach/sendgrid_backend.py).
    EMAIL_BACKEND = "outreach.sendgrid_backend.SendGridBackend"
else:
    EMAIL_BACKEND = f"anymail.backends.{EMAIL_ESP}.EmailBackend"
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=20)
# Anymail dropped official support for SendGrid in 2025 (anymail.W003). SendGrid stays the
# seeds' default and still works; README.md says how to switch ESP with EMAIL_ESP.
SILENCED_SYSTEM_CHECKS = env.list("SILENCED_SYSTEM_CHECKS", default=["anymail.W003"])

# The outbox relay (outreach): retries wait base * factor**(attempt-1) seconds, capped, with
# jitter; after EMAIL_MAX_ATTEMPTS sends a row is dead.
EMAIL_RETRY_BASE_SECONDS = env.float("EMAIL_RETRY_BASE_SECONDS", default=60)
EMAIL_RETRY_FACTOR = env.float("EMAIL_RETRY_FACTOR", default=2.0)
EMAIL_RETRY_CAP_SECONDS = env.float("EMAIL_RETRY_CAP_SECONDS", default=6 * 60 * 60)
EMAIL_MAX_ATTEMPTS = env.int("EMAIL_MAX_ATTEMPTS", default=8)
# A row left in "sending" this long belongs to a relay that died; it is retried. A live relay
# renews its claims every quarter of it, so it must outlast four ESP deadlines (EMAIL_TIMEOUT;
# system check outreach.E003 says so).
EMAIL_CLAIM_TIMEOUT_SECONDS = env.int("EMAIL_CLAIM_TIMEOUT_SECONDS", default=900)
# The most rows one claim statement takes (a relay never holds more than concurrency + prefetch).
EMAIL_RELAY_BATCH_SIZE = env.int("EMAIL_RELAY_BATCH_SIZE", default=100)
# Sends in flight per relay (threads, each with its own ESP connection).
EMAIL_RELAY_CONCURRENCY = env.int("EMAIL_RELAY_CONCURRENCY", default=8)
# Rows a relay claims ahead of its free senders, so a sender never waits on the database; they
# are claimed half of it at a time (32: one claim and one consent check per 16 emails, about
# 0.1 ms less CPU per email than 16, of ~1.2 ms). A relay holds at most concurrency +
# prefetch rows in "sending". A kill -9 resends at most the concurrency (sends whose result
# was not recorded); the prefetched rows no sender started go out once after the claim
# timeout, with no attempt used.
EMAIL_RELAY_PREFETCH = env.int("EMAIL_RELAY_PREFETCH", default=32)
# A send that timed out or was dropped may have reached the ESP: its row is resent only after
# this long without an ESP event for it (the outbox id travels in the message's metadata).
EMAIL_AMBIGUOUS_SETTLE_SECONDS = env.float("EMAIL_AMBIGUOUS_SETTLE_SECONDS", default=900)
# A relay told to stop while the database is away keeps trying to record its results this long.
EMAIL_RELAY_SHUTDOWN_GRACE_SECONDS = env.float("EMAIL_RELAY_SHUTDOWN_GRACE_SECONDS", default=20)
# process_email_retries runs every minute: it stops taking new batches after this long.
EMAIL_RELAY_JOB_MAX_SECONDS = env.int("EMAIL_RELAY_JOB_MAX_SECONDS", default=50)
# Sent/dead/cancelled outbox rows: bodies are dropped after the first, rows after the second.
EMAIL_OUTBOX_BODY_RETENTION_DAYS = env.int("EMAIL_OUTBOX_BODY_RETENTION_DAYS", default=14)
EMAIL_OUTBOX_RETENTION_DAYS = env.int("EMAIL_OUTBOX_RETENTION_DAYS", default=180)
# Rows per DELETE in cleanup_expired_sessions, so a backlog never locks a table for long.
CLEANUP_BATCH_SIZE = env.int("CLEANUP_BATCH_SIZE", default=1000)

# Soft bounces (SendGrid "blocked", deferrals): EMAIL_SOFT_BOUNCE_LIMIT of them for one address
# within EMAIL_SOFT_BOUNCE_WINDOW suppress it for EMAIL_SOFT_BOUNCE_SUPPRESSION, then it lifts
# by itself. Hard bounces and complaints suppress for good.
EMAIL_SOFT_BOUNCE_LIMIT = env.int("EMAIL_SOFT_BOUNCE_LIMIT", default=5)
EMAIL_SOFT_BOUNCE_WINDOW = config.duration(
    env.str("EMAIL_SOFT_BOUNCE_WINDOW", default="P7D"),
    variable="EMAIL_SOFT_BOUNCE_WINDOW",
    minimum=dt.timedelta(minutes=1),
)
EMAIL_SOFT_BOUNCE_SUPPRESSION = config.duration(
    env.str("EMAIL_SOFT_BOUNCE_SUPPRESSION", default="P7D"),
    variable="EMAIL_SOFT_BOUNCE_SUPPRESSION",
    minimum=dt.timedelta(minutes=1),
)
# Two upsell steps of one sequence are never queued closer than this, whatever the step
# delays and however long the scheduler or the relay was down.
UPSELL_MIN_STEP_GAP = config.duration(
    env.str("UPSELL_MIN_STEP_GAP", default="P1D"), variable="UPSELL_MIN_STEP_GAP"
)

# Postal address / footer line every marketing email carries (CAN-SPAM, GDPR).
EMAIL_FOOTER_ADDRESS = env.str(
    "EMAIL_FOOTER_ADDRESS", default="Proletto, Fondamenta Nove 1, 30121 Venezia, Italy"
)

# --- billing ---------------------------------------------------------------------------------
STRIPE_WEBHOOK_SECRET = env.str("STRIPE_WEBHOOK_SECRET", default="")
STRIPE_WEBHOOK_TOLERANCE_SECONDS = env.int("STRIPE_WEBHOOK_TOLERANCE_SECONDS", default=300)
# Checkout and the customer portal (/pro/): without the secret key the page says how to set it.
STRIPE_SECRET_KEY = env.str("STRIPE_SECRET_KEY", default="")
# Where the stripe library sends API calls: empty for Stripe itself; `make demo` and the tests
# point it at the local stand-in (billing/testing/fake_stripe.py).
STRIPE_API_BASE = env.str("STRIPE_API_BASE", default="").rstrip("/")
STRIPE_TIMEOUT_SECONDS = env.float("STRIPE_TIMEOUT_SECONDS", default=10)

# --- webhook inbox (proletto/inbox) -----------------------------------------------------------
# Applied, rejected events are deleted this long after they arrived (failed/held ones are kept).
INBOX_RETENTION_DAYS = env.int("INBOX_RETENTION_DAYS", default=30)
INBOX_BATCH_SIZE = env.int("INBOX_BATCH_SIZE", default=100)
# After this many failed attempts an event is held until an operator replays it.
INBOX_MAX_ATTEMPTS = env.int("INBOX_MAX_ATTEMPTS", default=8)
INBOX_RETRY_BASE_SECONDS = env.float("INBOX_RETRY_BASE_SECONDS", default=60)
INBOX_RETRY_CAP_SECONDS = env.float("INBOX_RETRY_CAP_SECONDS", default=6 * 60 * 60)
# A claimed event not finished within this long (its process died) is picked up again.
INBOX_CLAIM_SECONDS = env.int("INBOX_CLAIM_SECONDS", default=300)
# One process_inbox run stops taking new batches after this long (the next run continues).
INBOX_JOB_MAX_SECONDS = env.float("INBOX_JOB_MAX_SECONDS", default=50)
HEALTH_INBOX_BACKLOG_WARNING_SECONDS = env.int("HEALTH_INBOX_BACKLOG_WARNING_SECONDS", default=300)
HEALTH_INBOX_BACKLOG_FAILING_SECONDS = env.int("HEALTH_INBOX_BACKLOG_FAILING_SECONDS", default=1800)
# --- the artists' pages ---------------------------------------------------------------------
# How long the "manage preferences" link of an email works (a weekly email carries a new one).
PREFERENCES_LINK_MAX_AGE_DAYS = env.int("PREFERENCES_LINK_MAX_AGE_DAYS", default=30)

# --- maintenance bot and system status (proletto/monitoring) -------------------------------------
HEALTH_RESULT_RETENTION_DAYS = env.int("HEALTH_RESULT_RETENTION_DAYS", default=14)
# After an alert about a check, the next one waits this long (a flapping check stays quiet).
HEALTH_ALERT_MIN_INTERVAL_SECONDS = env.int("HEALTH_ALERT_MIN_INTERVAL_SECONDS", default=1800)
HEALTH_DB_LATENCY_WARNING_MS = env.float("HEALTH_DB_LATENCY_WARNING_MS", default=250)
# A job is overdue when a fire time of its own trigger passed this long ago with no success.
HEALTH_JOB_OVERDUE_GRACE_SECONDS = env.int("HEALTH_JOB_OVERDUE_GRACE_SECONDS", default=600)
HEALTH_OUTBOX_BACKLOG_WARNING_SECONDS = env.int(
    "HEALTH_OUTBOX_BACKLOG_WARNING_SECONDS", default=600
)
HEALTH_OUTBOX_BACKLOG_FAILING_SECONDS = env.int(
    "HEALTH_OUTBOX_BACKLOG_FAILING_SECONDS", default=3600
)
HEALTH_DEAD_EMAILS_FAILING = env.int("HEALTH_DEAD_EMAILS_FAILING", default=10)
# Outbox relay health: rows in "sending" past their claim (a relay died or hangs), retry rows
# due but not taken (no relay running), and the ESP's share of ambiguous (timed out, dropped)
# and failed sends over the last HEALTH_ESP_WINDOW_MINUTES, judged from HEALTH_ESP_MIN_SENDS.
HEALTH_OUTBOX_STUCK_SENDING_FAILING = env.int("HEALTH_OUTBOX_STUCK_SENDING_FAILING", default=1)
HEALTH_OUTBOX_DUE_RETRY_WARNING = env.int("HEALTH_OUTBOX_DUE_RETRY_WARNING", default=100)
HEALTH_OUTBOX_DUE_RETRY_FAILING = env.int("HEALTH_OUTBOX_DUE_RETRY_FAILING", default=1000)
HEALTH_ESP_WINDOW_MINUTES = env.int("HEALTH_ESP_WINDOW_MINUTES", default=15)
HEALTH_ESP_MIN_SENDS = env.int("HEALTH_ESP_MIN_SENDS", default=20)
HEALTH_ESP_ERROR_RATE_WARNING = env.float("HEALTH_ESP_ERROR_RATE_WARNING", default=0.05)
HEALTH_ESP_ERROR_RATE_FAILING = env.float("HEALTH_ESP_ERROR_RATE_FAILING", default=0.25)
# Bounce + complaint rate of the last day; judged only once this many emails went out.
HEALTH_BOUNCE_MIN_SENT = env.int("HEALTH_BOUNCE_MIN_SENT", default=50)
HEALTH_BOUNCE_RATE_WARNING = env.float("HEALTH_BOUNCE_RATE_WARNING", default=0.02)
HEALTH_BOUNCE_RATE_FAILING = env.float("HEALTH_BOUNCE_RATE_FAILING", default=0.05)
HEALTH_DIGEST_FAILED_SHARE_FAILING = env.float("HEALTH_DIGEST_FAILED_SHARE_FAILING", default=0.05)
HEALTH_SOURCE_FAILURES_FAILING = env.int("HEALTH_SOURCE_FAILURES_FAILING", default=3)
# A source with no successful fetch for this many of its fetch intervals is "silent".
HEALTH_SOURCE_SILENT_INTERVALS = env.int("HEALTH_SOURCE_SILENT_INTERVALS", default=4)
HEALTH_DISK_FREE_WARNING = env.float("HEALTH_DISK_FREE_WARNING", default=0.10)
HEALTH_DISK_FREE_FAILING = env.float("HEALTH_DISK_FREE_FAILING", default=0.05)

# --- weekly digest (digests) -------------------------------------------------------------------
# The digest goes out at this local time on this weekday (0 = Monday) in each user's time zone.
DIGEST_SEND_WEEKDAY = env.int("DIGEST_SEND_WEEKDAY", default=0)
DIGEST_SEND_LOCAL_TIME = config.time_of_day(env.str("DIGEST_SEND_LOCAL_TIME", default="08:00"))
DIGEST_OPPORTUNITY_COUNT = env.int("DIGEST_OPPORTUNITY_COUNT", default=5)
# Where an artist completes their profile; a digest of general picks links to it when set.
DIGEST_PROFILE_URL = env.str("DIGEST_PROFILE_URL", default="")
# Users per transaction of the digest run: a crash loses at most one batch's work.
DIGEST_BATCH_SIZE = env.int("DIGEST_BATCH_SIZE", default=1000)
# Off: picks follow the profile alone (what artists clicked, said and were shown is ignored).
# The offline evaluation (bench/recommender.py) compares the two; also an operator's switch.
DIGEST_LEARNING = env.bool("DIGEST_LEARNING", default=True)
# How far back what artists were shown, clicked and said is learned from.
DIGEST_LEARNING_WEEKS = env.int("DIGEST_LEARNING_WEEKS", default=26)

# --- opportunity scraping (digests) ------------------------------------------------------------
SCRAPE_USER_AGENT = env.str("SCRAPE_USER_AGENT", default=f"Proletto/1.0 (+{SITE_URL})")
# For a whole fetch: resolving, connecting, redirects, headers and body, however slowly the
# other side drips them.
SCRAPE_TIMEOUT_SECONDS = env.float("SCRAPE_TIMEOUT_SECONDS", default=20)
SCRAPE_MAX_BYTES = env.int("SCRAPE_MAX_BYTES", default=5 * 1024 * 1024)
SCRAPE_MAX_REDIRECTS = env.int("SCRAPE_MAX_REDIRECTS", default=5)
# Sources fetched at the same time (threads); writes stay on one thread.
SCRAPE_MAX_IN_FLIGHT = env.int("SCRAPE_MAX_IN_FLIGHT", default=8)
SCRAPE_MAX_ITEMS_PER_SOURCE = env.int("SCRAPE_MAX_ITEMS_PER_SOURCE", default=1000)
# Sources (and their redirects) that resolve to loopback, private, link-local, multicast or
# reserved addresses are refused: a source URL must not reach internal services. `make demo`
# turns this on to scrape its own local server; production leaves it off.
SCRAPE_ALLOW_PRIVATE_NETWORKS = env.bool("SCRAPE_ALLOW_PRIVATE_NETWORKS", default=False)
# Private networks fetched all the same, comma-separated CIDRs (an intranet feed you trust).
SCRAPE_ALLOWED_PRIVATE_NETWORKS = env.list("SCRAPE_ALLOWED_PRIVATE_NETWORKS", default=[])
# The admin's "scrape now" runs inside the request: a short timeout, a few sources at most.
SCRAPE_ADMIN_TIMEOUT_SECONDS = env.float("SCRAPE_ADMIN_TIMEOUT_SECONDS", default=8)
SCRAPE_ADMIN_MAX_SOURCES = env.int("SCRAPE_ADMIN_MAX_SOURCES", default=10)
# Test digests one staff user may send in an hour (admin API and admin action alike).
TEST_DIGEST_LIMIT_PER_HOUR = env.int("TEST_DIGEST_LIMIT_PER_HOUR", default=10)
