"""Outbox relay throughput against a local SendGrid-compatible server with fixed latency.

    .venv/bin/python bench/outbox_relay.py [--emails 10000] [--latency 0.05] [--concurrency 8]

The ceiling for one relay is concurrency / latency emails per second (every send waits one
round trip). Reported: emails/s of one relay process as a share of that ceiling (target
>= 80 %), and two relay processes against one (target >= 1.8x). Throughput is measured at the
server, first request to last accepted email, so process start-up is not counted; wall time
including start-up is reported too. Uses a fresh SQLite file unless DATABASE_URL is set (then
that database's outbox is emptied first: never point it at production).
"""

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
RESULTS = ROOT / "bench" / "results"


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
        prepare(args.emails)

        ceiling = args.concurrency / args.latency
        one = run_relays(esp, env, args, relays=1)
        prepare(args.emails)
        two = run_relays(esp, env, args, relays=2)

    result = {
        "emails": args.emails,
        "latency_s": args.latency,
        "concurrency": args.concurrency,
        "batch_size": args.batch_size,
        "database": env["DATABASE_URL"].split(":")[0],
        "ceiling_one_relay_per_s": ceiling,
        "one_relay": one,
        "two_relays": two,
        "one_relay_share_of_ceiling": round(one["emails_per_s"] / ceiling, 3),
        "two_relays_vs_one": round(two["emails_per_s"] / one["emails_per_s"], 3),
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    output = RESULTS / f"outbox_relay-{result['database']}.json"
    output.write_text(json.dumps(result, indent=2))
    print(f"emails {args.emails}, latency {args.latency * 1000:.0f} ms, ", end="")
    print(f"{args.concurrency} in flight per relay")
    print(f"ceiling for one relay: {ceiling:.0f} emails/s")
    print(
        f"one relay:  {one['emails_per_s']:.0f} emails/s = "
        f"{result['one_relay_share_of_ceiling']:.0%} of the ceiling (target >= 80 %), "
        f"wall {one['wall_s']:.1f} s"
    )
    print(
        f"two relays: {two['emails_per_s']:.0f} emails/s = "
        f"{result['two_relays_vs_one']:.2f}x one relay (target >= 1.8x), wall {two['wall_s']:.1f} s"
    )
    print(f"written to {output}")


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


def run_relays(esp, env, args, *, relays):
    from outreach.models import EmailOutbox

    with esp._lock:
        esp.accepted.clear()
    started = time.monotonic()
    processes = [
        subprocess.Popen(
            [
                sys.executable,
                "manage.py",
                "process_outbox",
                f"--batch-size={args.batch_size}",
                f"--concurrency={args.concurrency}",
            ],
            cwd=ROOT,
            env={**os.environ, **env},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(relays)
    ]
    for process in processes:
        out, err = process.communicate()
        if process.returncode != 0:
            sys.exit(f"relay failed:\n{err}")
    wall = time.monotonic() - started
    accepted = list(esp.accepted)
    ids = [item["outbox_id"] for item in accepted]
    if len(ids) != args.emails or len(set(ids)) != args.emails:
        unsent = list(
            EmailOutbox.objects.exclude(status="sent").values_list("id", "status", "last_error")[:5]
        )
        sys.exit(
            f"expected {args.emails} distinct emails, got {len(ids)} ({len(set(ids))} unique); "
            f"not sent: {unsent}"
        )
    unsent = EmailOutbox.objects.exclude(status="sent").count()
    if unsent:
        sys.exit(f"{unsent} emails were not sent")
    # From the first request's arrival (its acceptance minus the latency) to the last acceptance.
    span = max(item["at"] for item in accepted) - min(item["at"] for item in accepted)
    span += args.latency
    return {
        "relays": relays,
        "emails_per_s": round(len(ids) / span, 1),
        "span_s": round(span, 2),
        "wall_s": round(wall, 2),
    }


if __name__ == "__main__":
    main()
