"""Scheduler benchmark: idle CPU, fire delay, run-now pickup, failover, new sessions a minute.

    .venv/bin/python bench/scheduler.py [--idle-seconds 60] [--fires 30] [--requests 10]
                                        [--kills 3] [--lease-seconds 6]
                                        [--sessions-seconds 60]

Runs real `manage.py runapscheduler` processes against a fresh SQLite file under var/ (or
DATABASE_URL if set). Baselines measured in the same run:
  - idle CPU: a bare Django process (`manage.py shell -c sleep`) over the same window;
  - fire delay: how late a plain threading.Event.wait() wakes up for the same targets;
  - run-now pickup: SCHEDULER_POLL_SECONDS, the designed bound of a poll;
  - failover (three schedulers, the leader killed with kill -9): the lease length, the time
    a dead leader's lease takes to expire;
  - new database sessions a minute with a job every second (one query a run): the stock
    django-apscheduler recipe (bench/stock_apscheduler.py: BlockingScheduler, DjangoJobStore,
    a job under @util.close_old_connections), run for the same window. Connections are
    counted in each process (Django's connection_created signal) and, on PostgreSQL, by the
    server (pg_stat_database.sessions, which also counts the bench's own reads).
Targets (issue #3): idle CPU < 1 %, p99 fire delay < 1 s, run-now pickup < 5 s; failover
within the lease plus one poll; issue #23: <= 2 new sessions a minute.
"""

import argparse
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
RESULTS = BASE_DIR / "bench" / "results"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime + stime


def percentile(values, fraction):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def child_env(**extra):
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "proletto.settings_test",
        "DATABASE_URL": os.environ["DATABASE_URL"],
        "ENABLE_SCHEDULER": "true",
        "LOG_LEVEL": "WARNING",
        **extra,
    }


def start(args, **env):
    return subprocess.Popen(
        [sys.executable, "manage.py", *args],
        cwd=BASE_DIR,
        env=child_env(**env),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def stop(process):
    process.send_signal(signal.SIGTERM)
    return process.wait(timeout=60)


def wait_for(predicate, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    raise SystemExit("benchmark: timed out waiting for the scheduler")


def idle_cpu(seconds: float, leader_is_up) -> dict:
    leader = start(["runapscheduler"])  # the default jobs of the installed apps
    wait_for(leader_is_up, 30)
    baseline = start(["shell", "-c", f"import time; time.sleep({seconds + 30})"])
    time.sleep(5)  # both past start-up
    before = cpu_seconds(leader.pid), cpu_seconds(baseline.pid)
    time.sleep(seconds)
    after = cpu_seconds(leader.pid), cpu_seconds(baseline.pid)
    baseline.kill()
    baseline.wait()
    stop(leader)
    leader_pct = 100 * (after[0] - before[0]) / seconds
    baseline_pct = 100 * (after[1] - before[1]) / seconds
    return {
        "seconds": seconds,
        "leader_cpu_percent": round(leader_pct, 3),
        "baseline_cpu_percent": round(baseline_pct, 3),
        "ratio": round(leader_pct / baseline_pct, 1) if baseline_pct else None,
        "target_percent": 1.0,
    }


def event_wait_lateness(count: int) -> list[float]:
    event = threading.Event()
    late = []
    for _ in range(count):
        target = time.time() + 0.2
        event.wait(target - time.time())
        late.append(time.time() - target)
    return late


def fire_delay(fires: int, fire_log: Path, tick_runs) -> dict:
    leader = start(
        ["runapscheduler"], SCHEDULER_JOB_MODULES="bench.scheduler_jobs", BENCH_FIRE_LOG=fire_log
    )
    wait_for(lambda: tick_runs() >= fires + 2, fires * 3 + 30)
    stop(leader)
    delays = [float(line) for line in fire_log.read_text().split()][2:]  # skip start-up
    baseline = event_wait_lateness(len(delays))
    result = {"fires": len(delays)}
    for name, fraction in (("p50", 0.5), ("p99", 0.99)):
        ours, base = percentile(delays, fraction), percentile(baseline, fraction)
        result[f"{name}_seconds"] = round(ours, 4)
        result[f"baseline_{name}_seconds"] = round(base, 4)
        result[f"{name}_ratio"] = round(ours / base, 1) if base > 0 else None
    result["target_p99_seconds"] = 1.0
    return result


def run_now_pickup(requests: int, poll_seconds: float, fire_log: Path) -> dict:
    from proletto.models import RunRequest
    from proletto.scheduling.jobstore import job_request_run

    leader = start(
        ["runapscheduler"], SCHEDULER_JOB_MODULES="bench.scheduler_jobs", BENCH_FIRE_LOG=fire_log
    )
    pickups = []
    try:
        from django_apscheduler.models import DjangoJob

        from proletto.scheduling.selectors import scheduler_status

        # The lease is taken before the job store is synced: wait for both.
        synced = DjangoJob.objects.filter(id="bench_noop")
        wait_for(lambda: scheduler_status(with_jobs=False)["alive"] and synced.exists(), 30)
        for _ in range(requests):
            request = job_request_run(job_id="bench_noop", requested_by="bench")
            done = RunRequest.objects.filter(pk=request.pk, status="done")
            wait_for(done.exists, 30)
            request.refresh_from_db()
            pickups.append((request.execution.run_time - request.requested_at).total_seconds())
    finally:
        stop(leader)
    p50, p99 = percentile(pickups, 0.5), percentile(pickups, 0.99)
    return {
        "requests": requests,
        "p50_seconds": round(p50, 3),
        "max_seconds": round(max(pickups), 3),
        "baseline_poll_seconds": poll_seconds,
        "max_ratio_to_poll": round(max(pickups) / poll_seconds, 2),
        "p99_seconds": round(p99, 3),
        "target_seconds": 5.0,
    }


def failover(kills: int, lease_seconds: int, poll_seconds: float) -> dict:
    from proletto.models import SchedulerLease
    from proletto.scheduling.leadership import LEASE_NAME

    def holder():
        lease = SchedulerLease.objects.filter(name=LEASE_NAME).first()
        return lease.holder if lease and lease.holder else None

    env = {"SCHEDULER_JOB_MODULES": "bench.scheduler_jobs", "BENCH_FIRE_LOG": os.devnull}
    env |= {"SCHEDULER_LEASE_SECONDS": str(lease_seconds)}
    processes = {}

    def start_one():
        process = start(["runapscheduler"], **env)
        processes[process.pid] = process

    for _ in range(3):
        start_one()
    times = []
    try:
        wait_for(holder, 30)
        for _ in range(kills):
            current = holder()
            processes.pop(int(current.split(":")[1])).kill()
            killed_at = time.monotonic()
            wait_for(lambda current=current: holder() not in (None, current), lease_seconds * 3)
            times.append(time.monotonic() - killed_at)
            start_one()  # three again for the next kill
    finally:
        for process in processes.values():
            stop(process)
    worst = max(times)
    return {
        "kills": kills,
        "seconds": [round(t, 2) for t in times],
        "max_seconds": round(worst, 2),
        "baseline_lease_seconds": lease_seconds,
        "max_ratio_to_lease": round(worst / lease_seconds, 2),
        "target_seconds": lease_seconds + poll_seconds,
    }


def server_sessions() -> int | None:
    """Sessions PostgreSQL has started on this database so far (None on SQLite)."""
    from django.db import connection

    if connection.vendor != "postgresql":
        return None
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute("SELECT sessions FROM pg_stat_database WHERE datname = current_database()")
        return cursor.fetchone()[0]


def new_sessions(command: list[str], seconds: float, connect_log: Path, runs, **env) -> dict:
    """New database sessions a minute of `command` running a job every second, counted over
    `seconds` after a warm-up."""
    connect_log.write_text("")
    process = subprocess.Popen(
        [sys.executable, *command],
        cwd=BASE_DIR,
        env=child_env(BENCH_CONNECT_LOG=str(connect_log), BENCH_FIRE_LOG=os.devnull, **env),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for(lambda: runs() >= 3, 60)
        time.sleep(5)  # past start-up: leadership, job sync, first runs
        runs_before, server_before = runs(), server_sessions()
        started = time.time()
        time.sleep(seconds)
        ended = time.time()
        runs_after, server_after = runs(), server_sessions()
    finally:
        stop(process)
    connects = [float(line.split()[0]) for line in connect_log.read_text().splitlines()]
    in_window = sum(1 for at in connects if started <= at < ended)
    minutes = (ended - started) / 60
    return {
        "seconds": round(ended - started, 1),
        "job_runs": runs_after - runs_before,
        "connects": in_window,
        "sessions_per_minute": round(in_window / minutes, 2),
        "server_sessions_per_minute": (
            round((server_after - server_before) / minutes, 2)
            if server_before is not None
            else None
        ),
    }


def sessions_per_minute(seconds: float, connect_log: Path) -> dict:
    from django_apscheduler.models import DjangoJobExecution

    def executions(job_id):
        return lambda: DjangoJobExecution.objects.filter(job_id=job_id).count()

    ours = new_sessions(
        ["manage.py", "runapscheduler"],
        seconds,
        connect_log,
        executions("bench_tick"),
        SCHEDULER_JOB_MODULES="bench.scheduler_jobs",
    )
    stock = new_sessions(
        ["bench/stock_apscheduler.py"], seconds, connect_log, executions("stock_tick")
    )
    # The recipe as usually deployed: persistent connections (ours keeps CONN_MAX_AGE=0).
    url = os.environ["DATABASE_URL"]
    persistent = None
    if url.startswith("postgres"):
        persistent = new_sessions(
            ["bench/stock_apscheduler.py"],
            seconds,
            connect_log,
            executions("stock_tick"),
            DATABASE_URL=f"{url}{'&' if '?' in url else '?'}conn_max_age=600",
        )
    return {
        "ours": ours,
        "stock_recipe": stock,
        "stock_recipe_conn_max_age_600": persistent,
        "ratio_to_stock": (
            round(ours["sessions_per_minute"] / stock["sessions_per_minute"], 2)
            if stock["sessions_per_minute"]
            else None
        ),
        "target_per_minute": 2,
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--idle-seconds", type=float, default=60)
    parser.add_argument("--fires", type=int, default=30)
    parser.add_argument("--requests", type=int, default=10)
    parser.add_argument("--kills", type=int, default=3)
    parser.add_argument("--lease-seconds", type=int, default=6)
    parser.add_argument("--sessions-seconds", type=float, default=60)
    options = parser.parse_args()

    sys.path.insert(0, str(BASE_DIR))
    database = BASE_DIR / "var" / "bench-scheduler.sqlite3"
    if "DATABASE_URL" not in os.environ:
        database.parent.mkdir(exist_ok=True)
        for suffix in ("", "-wal", "-shm"):
            Path(f"{database}{suffix}").unlink(missing_ok=True)
        os.environ["DATABASE_URL"] = f"sqlite:///{database}"
    os.environ["DJANGO_SETTINGS_MODULE"] = "proletto.settings_test"
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v0"],
        cwd=BASE_DIR,
        env=child_env(),
        check=True,
    )
    import django

    django.setup()
    from django.conf import settings
    from django_apscheduler.models import DjangoJobExecution

    from proletto.scheduling.selectors import scheduler_status

    fire_log = RESULTS / "scheduler-fires.log"
    RESULTS.mkdir(parents=True, exist_ok=True)
    fire_log.write_text("")
    print(f"idle CPU over {options.idle_seconds:.0f}s ...", flush=True)
    idle = idle_cpu(options.idle_seconds, lambda: scheduler_status(with_jobs=False)["alive"])
    print(json.dumps(idle), flush=True)
    print(f"fire delay over {options.fires} fires ...", flush=True)
    fires = fire_delay(
        options.fires,
        fire_log,
        lambda: DjangoJobExecution.objects.filter(job_id="bench_tick", status="Executed").count(),
    )
    print(json.dumps(fires), flush=True)
    print(f"run-now pickup over {options.requests} requests ...", flush=True)
    pickup = run_now_pickup(options.requests, settings.SCHEDULER_POLL_SECONDS, fire_log)
    print(json.dumps(pickup), flush=True)
    print(f"failover over {options.kills} leader kills ...", flush=True)
    takeover = failover(options.kills, options.lease_seconds, settings.SCHEDULER_POLL_SECONDS)
    print(json.dumps(takeover), flush=True)

    print(f"new database sessions over {options.sessions_seconds:.0f}s each ...", flush=True)
    sessions = sessions_per_minute(options.sessions_seconds, RESULTS / "scheduler-connects.log")
    print(json.dumps(sessions), flush=True)

    results = {
        "database": settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[1],
        "sessions": sessions,
        "idle_cpu": idle,
        "fire_delay": fires,
        "run_now_pickup": pickup,
        "failover": takeover,
        "targets_met": idle["leader_cpu_percent"] < 1.0
        and fires["p99_seconds"] < 1.0
        and pickup["max_seconds"] < 5.0
        and takeover["max_seconds"] <= takeover["target_seconds"]
        and sessions["ours"]["sessions_per_minute"] <= sessions["target_per_minute"],
    }
    (RESULTS / "scheduler.json").write_text(json.dumps(results, indent=2))
    print(
        f"idle CPU {idle['leader_cpu_percent']}% (bare Django process "
        f"{idle['baseline_cpu_percent']}%, x{idle['ratio']}); "
        f"fire delay p50 {fires['p50_seconds']} s, p99 {fires['p99_seconds']} s "
        f"(Event.wait lateness p99 {fires['baseline_p99_seconds']} s, x{fires['p99_ratio']}); "
        f"run-now pickup p50 {pickup['p50_seconds']} s, max {pickup['max_seconds']} s "
        f"(poll {pickup['baseline_poll_seconds']} s); failover max {takeover['max_seconds']} s "
        f"(lease {takeover['baseline_lease_seconds']} s); new sessions a minute with a "
        f"per-second job {sessions['ours']['sessions_per_minute']} (stock django-apscheduler "
        f"recipe {sessions['stock_recipe']['sessions_per_minute']}, with CONN_MAX_AGE=600 "
        f"{(sessions['stock_recipe_conn_max_age_600'] or {}).get('sessions_per_minute')}); "
        f"targets met: {results['targets_met']}"
    )


if __name__ == "__main__":
    main()
