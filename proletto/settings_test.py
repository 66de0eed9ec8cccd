"""Settings for the test suite: the real settings, with test-only defaults in the environment."""

import os

os.environ.setdefault("SECRET_KEY", "test-secret-key-not-for-production-0123456789abcdef")
os.environ.setdefault("EMAIL_ESP", "locmem")
os.environ.setdefault("STRIPE_WEBHOOK_SECRET", "whsec_test_secret")
os.environ.setdefault("ANYMAIL_WEBHOOK_SECRET", "hook:test-secret")

from proletto.settings import *  # noqa: E402,F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
STORAGES["staticfiles"]["BACKEND"] = "django.contrib.staticfiles.storage.StaticFilesStorage"  # noqa: F405
# Static files are served from the finders in tests; there is no collectstatic output.
WHITENOISE_AUTOREFRESH = True
# Login throttling is off in tests (client.login has no request for django-axes to key on);
# tests/proletto/test_login_throttling.py turns it on to prove it.
AXES_ENABLED = False
