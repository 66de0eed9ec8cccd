import importlib
import os
import signal
import socket
import subprocess
import sys
import time

from django.core.management.base import BaseCommand, CommandError

from proletto.management.commands.load_demo import DEMO_APPS
from proletto.models import User
from proletto.preferences_link import preferences_token

# How long the web server may take to start listening before the demo gives up.
WEB_START_SECONDS = 60


def parse_addr(addr: str) -> tuple[str, int]:
    host, _, port = addr.rpartition(":")
    host = host.strip("[]") or "127.0.0.1"
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise CommandError(f"--addr {addr!r}: give HOST:PORT with a port from 1 to 65535")
    return host, int(port)


def port_free_check(host: str, port: int) -> None:
    """CommandError if something already listens on host:port (checked before any output)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        # As runserver binds: a port left in TIME_WAIT is free, one someone listens on is not.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise CommandError(
                f"cannot use {host}:{port}: {exc.strerror}. Choose another port: "
                "make demo PORT=8001 (or rundemo --addr 127.0.0.1:8001)"
            ) from None


def _listening(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


class Command(BaseCommand):
    help = (
        "Run the web server, the scheduler and the apps' demo processes (the local Stripe "
        "stand-in) together for the demo; one Ctrl-C stops them all. Exits non-zero, "
        "before printing anything, if the port is taken, and non-zero if a process dies."
    )

    def add_arguments(self, parser):
        parser.add_argument("--addr", default="127.0.0.1:8000", help="runserver address")
        parser.add_argument(
            "--check", action="store_true", help="Only check that the port is free, then exit."
        )

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

    def handle(self, *args, addr, check=False, **options):
        host, port = parse_addr(addr)
        port_free_check(host, port)
        if check:
            return
        processes, environment = self.processes(addr)
        children = {
            name: subprocess.Popen(argv, env=environment) for name, argv in processes.items()
        }
        stopping = False

        def stop(signum, frame):
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        failure = None
        try:
            failure = self.wait_for_web(children, host, port)
            if failure is None:
                self.stdout.write(
                    self.style.SUCCESS(
                        f"Proletto demo: http://{addr}/admin/ (processes: "
                        f"{', '.join(children)}). Ctrl-C stops everything."
                    )
                )
                self.artist_links(addr)
            while failure is None and not stopping:
                exited = {
                    name: p.returncode for name, p in children.items() if p.poll() is not None
                }
                if exited:
                    failure = f"stopped: {exited}; stopped the rest"
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
        if failure:
            raise CommandError(failure)
        self.stdout.write("Demo stopped.")

    def artist_links(self, addr: str) -> None:
        artist = User.objects.filter(is_staff=False).order_by("pk").first()
        if artist is not None:
            self.stdout.write(
                f"Go Pro: http://{addr}/pro/ (payments go to the local Stripe stand-in). "
                f"{artist.username}'s preferences, as linked from every email: "
                f"http://{addr}/preferences/{preferences_token(artist.pk)}/"
            )

    def wait_for_web(self, children, host: str, port: int) -> str | None:
        """None once the web server answers on its port; why not, if it exits or never does."""
        deadline = time.monotonic() + WEB_START_SECONDS
        while time.monotonic() < deadline:
            code = children["web"].poll()
            if code is not None:
                return f"the web server exited with code {code} before listening on {port}"
            if _listening(host, port):
                return None
            time.sleep(0.2)
        return f"the web server did not listen on {host}:{port} within {WEB_START_SECONDS} s"
