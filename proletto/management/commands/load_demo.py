import importlib
import os

from django.core.management.base import BaseCommand
from django.db import transaction

from proletto import demo
from proletto.models import User

# Apps that add their own demo data, in order: each has demo.load(users) -> summary lines.
DEMO_APPS = ["billing", "outreach", "digests"]


class Command(BaseCommand):
    help = "Load the demo data set (artists, plans, subscriptions, sources) and an admin login."

    def handle(self, *args, **options):
        password = os.environ.get("DEMO_ADMIN_PASSWORD", "proletto-admin")
        with transaction.atomic():
            admin, _ = User.objects.get_or_create(
                username="admin",
                defaults={"email": "admin@proletto.local", "display_name": "Admin"},
            )
            admin.is_staff = admin.is_superuser = True
            admin.set_password(password)
            admin.save()
            users, summary = demo.load()
            for app in DEMO_APPS:
                try:
                    module = importlib.import_module(f"{app}.demo")
                except ModuleNotFoundError as exc:
                    if exc.name != f"{app}.demo":
                        raise
                    continue
                summary += module.load(users)
        for line in summary:
            self.stdout.write(f"  {line}")
        self.stdout.write(self.style.SUCCESS(f"Demo data loaded. Admin login: admin / {password}"))
