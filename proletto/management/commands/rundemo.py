import importlib
import os
import signal
import subprocess
import sys
import time

from django.core.management.base import BaseCommand

from proletto.management.commands.load_demo import DEMO_APPS
from proletto.models import User
from proletto.preferences_link import preferences_token


class Command(BaseCommand):
    help = (
        "Run the web server, the scheduler and the apps' demo processes (the local Stripe "
        "stand-in) together for the demo; one Ctrl-C stops them all."
    )

    def add_arguments(self, parser):
        parser.add_argument("--addr", default="127.0.0.1:8000", help="runserver address")

    def processes(self, addr: str) -> tuple[dict[str, list[str]], dict[str, str]]:
        """Every demo process's argv, and the environment they all run with: the web server
        and the scheduler, then what each app adds (`demo_processes` in its demo module)."""
        manage = [sys.executable, "manage.py"]
        site_url = f"http://{addr}"
        processes = {
            "web": [*manage, "runserver", addr, "--noreload"],
            "scheduler": [*manage, "runapscheduler"],
        }
        environment = {**os.environ, "SITE_URL": site_url}
        for app in DEMO_APPS:
            module = importlib.import_module(f"{app}.demo")
            if hasattr(module, "demo_processes"):
                more, settings = module.demo_processes(site_url=site_url)
                processes.update(more)
                environment.update(settings)
        return processes, environment

    def handle(self, *args, addr, **options):
        processes, environment = self.processes(addr)
        children = {
            name: subprocess.Popen(argv, env=environment) for name, argv in processes.items()
        }
        self.stdout.write(
            self.style.SUCCESS(
                f"Proletto demo: http://{addr}/admin/ (processes: {', '.join(children)}). "
                "Ctrl-C stops everything."
            )
        )
        artist = User.objects.filter(is_staff=False).order_by("pk").first()
        if artist is not None:
            self.stdout.write(
                f"Go Pro: http://{addr}/pro/ (payments go to the local Stripe stand-in). "
                f"{artist.username}'s preferences, as linked from every email: "
                f"http://{addr}/preferences/{preferences_token(artist.pk)}/"
            )
        stopping = False

        def stop(signum, frame):
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        try:
            while not stopping:
                exited = {
                    name: p.returncode for name, p in children.items() if p.poll() is not None
                }
                if exited:
                    self.stderr.write(f"stopped: {exited}; stopping the rest")
                    break
                time.sleep(0.5)
        finally:
            for process in children.values():
                if process.poll() is None:
                    process.send_signal(signal.SIGTERM)
            for process in children.values():
                try:
                    process.wait(timeout=40)
                except subprocess.TimeoutExpired:
                    process.kill()
        self.stdout.write("Demo stopped.")
