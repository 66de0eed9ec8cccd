"""Settings for django-post-office, the relay's peer in bench/outbox_relay.py.

The peer as its documentation sets it up, sending through Anymail's stock SendGrid backend
(requests; the relay uses the same backend over urllib3, outreach/sendgrid_backend.py) to the
same local stand-in as the relay: one process (`send_queued_mail --processes 1`) with 8
threads (THREADS_PER_PROCESS), as the relay's 8 senders; its own tables in the bench's
database; everything else at its defaults (batches of 100, a log row per email).
"""

import os
from pathlib import Path

import environ

ROOT = Path(__file__).resolve().parent.parent
SECRET_KEY = os.environ["SECRET_KEY"]
USE_TZ = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
INSTALLED_APPS = ["post_office"]

_url = os.environ.get("DATABASE_URL", f"sqlite:///{ROOT / 'var' / 'bench-outbox.sqlite3'}")
DATABASES = {"default": environ.Env.db_url_config(_url)}
if DATABASES["default"]["ENGINE"].endswith("postgresql"):
    # As the relay's own settings: a connection per process, no pooling.
    DATABASES["default"]["CONN_MAX_AGE"] = 0

POST_OFFICE = {
    "BACKENDS": {"default": "anymail.backends.sendgrid.EmailBackend"},
    "THREADS_PER_PROCESS": 8,
}
ANYMAIL = {
    "SENDGRID_API_KEY": os.environ["SENDGRID_API_KEY"],
    "SENDGRID_API_URL": os.environ["SENDGRID_API_URL"],
    "REQUESTS_TIMEOUT": float(os.environ.get("EMAIL_TIMEOUT", 20)),
}
DEFAULT_FROM_EMAIL = "Proletto <hello@proletto.local>"
# Anymail's notice that SendGrid is no longer officially supported (as in proletto.settings).
SILENCED_SYSTEM_CHECKS = ["anymail.W003"]
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": "WARNING"},
}
