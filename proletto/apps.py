from django.apps import AppConfig


class ProlettoConfig(AppConfig):
    name = "proletto"
    verbose_name = "Proletto"

    def ready(self):
        # System checks only: no scheduler and no database access here (ready() runs in
        # every process, including every web worker).
        from proletto import checks  # noqa: F401
