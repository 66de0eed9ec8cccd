import signal
import subprocess
import sys
import time

from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Run the web server and the scheduler together for the demo; one Ctrl-C stops both."

    def add_arguments(self, parser):
        parser.add_argument("--addr", default="127.0.0.1:8000", help="runserver address")

    def processes(self, addr: str) -> dict[str, list[str]]:
        manage = [sys.executable, "manage.py"]
        return {
            "web": [*manage, "runserver", addr, "--noreload"],
            "scheduler": [*manage, "runapscheduler"],
        }

    def handle(self, *args, addr, **options):
        children = {name: subprocess.Popen(argv) for name, argv in self.processes(addr).items()}
        self.stdout.write(
            self.style.SUCCESS(
                f"Proletto demo: http://{addr}/admin/ (processes: {', '.join(children)}). "
                "Ctrl-C stops everything."
            )
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
