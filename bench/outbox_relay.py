"""Outbox relay throughput and CPU per email, against django-post-office, on a local
SendGrid-compatible server with fixed latency.

    .venv/bin/python bench/outbox_relay.py [--emails 10000] [--latency 0.05] [--concurrency 8]

The ceiling for one relay is concurrency / latency emails per second (every send waits one
round trip). Reported, all measured in this run:
- one relay process's emails/s as a share of that ceiling (target >= 0.85) and two relay
  processes against one (target >= 1.8x). Throughput is measured at the server, first
  request to last accepted email, so process start-up is not counted; wall time including
  start-up is reported too;
- CPU per email of the relay process (getrusage of the process: user + system), less the
  CPU of the same command started with nothing to send (Django's start-up), over the emails;
- the same for django-post-office 3.12, the peer (bench/post_office_settings.py): its
  `send_queued_mail --processes 1` with 8 threads, the same emails through Anymail's stock
  SendGrid backend (the relay: the same backend over urllib3) to the same server; ratio of
  our CPU per email to its (target <= 0.8).
Uses a fresh SQLite file unless DATABASE_URL is set (then that database's outbox and
post-office's queue are emptied first: never point it at production).
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
RESULTS = ROOT / "bench" / "results"
PEER_SETTINGS = "bench.post_office_settings"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--emails", type=int, default=10_000)
    parser.add_argument("--latency", type=float, default=0.05, help="seconds per request")
    parser.add_argument("--concurrency", type=int, default=8, help="sends in flight per relay")
    parser.add_argument("--batch-size", type=int, default=100)
    args = parser.parse_args()

    from outreach.testing.fake_sendgrid import FakeSendGrid

    sqlite_file = ROOT / "var" / "bench-outbox.sqlite3"
    if "DATABASE_URL" not in os.environ:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{sqlite_file}{suffix}").unlink(missing_ok=True)
    env = {
        "DJANGO_SETTINGS_MODULE": "proletto.settings",
        "SECRET_KEY": "bench-secret-key-not-for-production-0123456789",
        "DATABASE_URL": os.environ.get("DATABASE_URL", f"sqlite:///{sqlite_file}"),
        "EMAIL_ESP": "sendgrid",
        "SENDGRID_API_KEY": "SG.bench",
        "LOG_LEVEL": "WARNING",
    }

    with FakeSendGrid(latency=args.latency) as esp:
        env["SENDGRID_API_URL"] = esp.api_url
        os.environ.update(env)
        import django

        django.setup()
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
        ceiling = args.concurrency / args.latency
        relay = [*relay_command(args)]
        peer = [sys.executable, "-m", "django", "send_queued_mail", "--processes=1"]
        peer_env = {**env, "DJANGO_SETTINGS_MODULE": PEER_SETTINGS, "PYTHONPATH": str(ROOT)}

        prepare(0)
        relay_idle_cpu = run(esp, [relay], env, emails=0)["cpu_s"]
        prepare(args.emails)
        one = run(esp, [relay], env, emails=args.emails, idle_cpu=relay_idle_cpu)
        check_all_sent()
        prepare_peer(0, peer_env)
        peer_idle_cpu = run(esp, [peer], peer_env, emails=0)["cpu_s"]
        prepare_peer(args.emails, peer_env)
        post_office = run(esp, [peer], peer_env, emails=args.emails, idle_cpu=peer_idle_cpu)
        prepare(args.emails)
        two = run(esp, [relay, relay], env, emails=args.emails, idle_cpu=relay_idle_cpu)
        check_all_sent()

    ours, theirs = one["cpu_ms_per_email"], post_office["cpu_ms_per_email"]
    result = {
        "emails": args.emails,
        "latency_s": args.latency,
        "concurrency": args.concurrency,
        "batch_size": args.batch_size,
        "database": env["DATABASE_URL"].split(":")[0],
        "load_average": [round(load, 2) for load in os.getloadavg()],
        "ceiling_one_relay_per_s": ceiling,
        "one_relay": one,
        "two_relays": two,
        "post_office": post_office,
        "one_relay_share_of_ceiling": round(one["emails_per_s"] / ceiling, 3),
        "two_relays_vs_one": round(two["emails_per_s"] / one["emails_per_s"], 3),
        "post_office_share_of_ceiling": round(post_office["emails_per_s"] / ceiling, 3),
        "cpu_per_email_vs_post_office": round(ours / theirs, 3) if theirs > 0 else None,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    output = RESULTS / f"outbox_relay-{result['database']}.json"
    output.write_text(json.dumps(result, indent=2))
    print(f"emails {args.emails}, latency {args.latency * 1000:.0f} ms, ", end="")
    print(f"{args.concurrency} in flight per relay, load average {result['load_average']}")
    print(f"ceiling for one relay: {ceiling:.0f} emails/s")
    print(
        f"one relay:   {one['emails_per_s']:.0f} emails/s = "
        f"{result['one_relay_share_of_ceiling']:.0%} of the ceiling (target >= 85 %), "
        f"{ours} ms CPU per email, wall {one['wall_s']:.1f} s"
    )
    print(
        f"post-office: {post_office['emails_per_s']:.0f} emails/s = "
        f"{result['post_office_share_of_ceiling']:.0%} of the ceiling, "
        f"{theirs} ms CPU per email, wall {post_office['wall_s']:.1f} s"
    )
    print(
        f"CPU per email, relay / post-office: {result['cpu_per_email_vs_post_office']}x "
        "(target <= 0.8x)"
    )
    print(
        f"two relays:  {two['emails_per_s']:.0f} emails/s = "
        f"{result['two_relays_vs_one']:.2f}x one relay (target >= 1.8x), wall {two['wall_s']:.1f} s"
    )
    print(f"written to {output}")


def relay_command(args):
    return [
        sys.executable,
        "manage.py",
        "process_outbox",
        f"--batch-size={args.batch_size}",
        f"--concurrency={args.concurrency}",
    ]


def prepare(count):
    from django.utils import timezone

    from outreach.models import EmailOutbox

    EmailOutbox.objects.all().delete()
    now = timezone.now()
    batch = []
    for i in range(count):
        batch.append(
            EmailOutbox(
                recipient=f"artist{i}@example.com",
                subject=f"Your weekly opportunities #{i}",
                body_text="Hello,\n\nThree open calls match your profile this week.\n",
                body_html="<p>Hello,</p><p>Three open calls match your profile this week.</p>",
                category="digest",
                idempotency_key=f"bench:{i}",
                next_attempt_at=now,
            )
        )
        if len(batch) == 1000:
            EmailOutbox.objects.bulk_create(batch)
            batch = []
    EmailOutbox.objects.bulk_create(batch)


def check_all_sent():
    from outreach.models import EmailOutbox

    unsent = list(
        EmailOutbox.objects.exclude(status="sent").values_list("id", "status", "last_error")[:5]
    )
    if unsent:
        sys.exit(f"emails not sent: {unsent}")


def prepare_peer(count, peer_env):
    subprocess.run(
        [sys.executable, "bench/post_office_queue.py", str(count)],
        cwd=ROOT,
        env={**os.environ, **peer_env},
        check=True,
    )


def run(esp, commands, env, *, emails, idle_cpu=0.0):
    """Run the sender processes to the end; what the server saw and the CPU they used."""
    with esp._lock:
        esp.accepted.clear()
    started = time.monotonic()
    cpu = 0.0
    with tempfile.TemporaryFile("w+") as errors:
        processes = [
            subprocess.Popen(
                command,
                cwd=ROOT,
                env={**os.environ, **env},
                stdout=subprocess.DEVNULL,
                stderr=errors,
            )
            for command in commands
        ]
        for process in processes:
            # wait4: the exit status and this process's own resource usage.
            _pid, status, usage = os.wait4(process.pid, 0)
            process.returncode = os.waitstatus_to_exitcode(status)
            cpu += usage.ru_utime + usage.ru_stime
            if process.returncode != 0:
                errors.seek(0)
                sys.exit(f"{' '.join(commands[0][1:3])} failed:\n{errors.read()[-3000:]}")
    wall = time.monotonic() - started
    accepted = list(esp.accepted)
    ids = [item["outbox_id"] for item in accepted]
    if len(ids) != emails or len(set(ids)) != emails:
        sys.exit(f"expected {emails} distinct emails, got {len(ids)} ({len(set(ids))} unique)")
    if not emails:
        return {"cpu_s": round(cpu, 3)}
    # From the first request's arrival (its acceptance minus the latency) to the last acceptance.
    span = max(item["at"] for item in accepted) - min(item["at"] for item in accepted)
    span += esp.latency
    return {
        "processes": len(commands),
        "emails_per_s": round(len(ids) / span, 1),
        "span_s": round(span, 2),
        "wall_s": round(wall, 2),
        "cpu_s": round(cpu, 3),
        "start_up_cpu_s": round(idle_cpu * len(commands), 3),
        "cpu_ms_per_email": round((cpu - idle_cpu * len(commands)) * 1000 / emails, 3),
    }


if __name__ == "__main__":
    main()
