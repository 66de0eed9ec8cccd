from django.apps import AppConfig


class BillingConfig(AppConfig):
    name = "billing"

    def ready(self):
        # Registers the system checks; no database access here.
        from billing import checks  # noqa: F401
