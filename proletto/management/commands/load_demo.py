import importlib
import os
import secrets

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from proletto import demo
from proletto.models import User

# Apps that add their own demo data, in order: each has demo.load(users) -> summary lines.
DEMO_APPS = ["billing", "outreach", "digests"]
DEMO_PASSWORD = "proletto-admin"


class Command(BaseCommand):
    help = (
        "Load the demo data set (artists, plans, subscriptions, sources) and an admin login. "
        "Refuses unless DEBUG is on or --force is given: it writes users and a superuser."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--force",
            action="store_true",
            help="Load even with DEBUG off; the admin password is then DEMO_ADMIN_PASSWORD "
            "or a random one, printed once.",
        )

    def handle(self, *args, force=False, **options):
        if not settings.DEBUG and not force:
            raise CommandError(
                "DEBUG is off, so this may be a real site: load_demo would add demo users and "
                "a superuser 'admin'. Run it with DEBUG=true, or pass --force."
            )
        password = os.environ.get("DEMO_ADMIN_PASSWORD") or (
            DEMO_PASSWORD if settings.DEBUG else secrets.token_urlsafe(16)
        )
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
