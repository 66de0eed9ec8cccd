from django.apps import AppConfig


class DigestsConfig(AppConfig):
    name = "digests"

    def ready(self):
        # Registers the system checks; no other side effect.
        from digests import checks  # noqa: F401
