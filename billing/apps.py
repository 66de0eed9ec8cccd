from django.apps import AppConfig


class BillingConfig(AppConfig):
    name = "billing"

    def ready(self):
        # Registers the system checks; no other side effect.
        from billing import checks  # noqa: F401
