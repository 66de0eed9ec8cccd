from django.apps import AppConfig


class OutreachConfig(AppConfig):
    name = "outreach"

    def ready(self):
        # Connects the ESP tracking receiver and the system checks; no database access here.
        from outreach import checks, signals  # noqa: F401
