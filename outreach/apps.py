from django.apps import AppConfig


class OutreachConfig(AppConfig):
    name = "outreach"

    def ready(self):
        # Connects the ESP tracking receiver; no database access and no threads here.
        from outreach import signals  # noqa: F401
