"""Find what each app contributes to shared machinery (its jobs.py, its inbox.py), the way
admin.autodiscover() finds admin.py: the core imports no app by name."""

import importlib
from types import ModuleType

from django.apps import apps


def app_modules(submodule: str, *, explicit: list[str] | None = None) -> list[ModuleType]:
    """Every installed app's `<app>.<submodule>` that exists (or the `explicit` modules that
    tests and special deployments name instead)."""
    names = (
        list(explicit)
        if explicit
        else [f"{app_config.name}.{submodule}" for app_config in apps.get_app_configs()]
    )
    modules = []
    for module_name in names:
        try:
            modules.append(importlib.import_module(module_name))
        except ModuleNotFoundError as exc:
            if exc.name != module_name:
                raise
    return modules
