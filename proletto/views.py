from django.contrib import admin as django_admin
from django.core.exceptions import PermissionDenied
from django.http import JsonResponse
from django.template.response import TemplateResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from proletto.admin_api import staff_permission_required
from proletto.monitoring import selectors as monitoring
from proletto.monitoring.probes import database_answers
from proletto.monitoring.registry import status_tiles
from proletto.monitoring.selectors import checks_summary
from proletto.scheduling.charts import recent_runs_sparkline
from proletto.scheduling.selectors import jobs_with_stats, scheduler_status


@never_cache
@require_GET
def healthz(request):
    """Web liveness for load balancers: 200 when the database answers within 2 s, 503
    otherwise. A stopped scheduler does not make the web unhealthy (a load balancer would
    drop every web node); /healthz/scheduler reports it. No auth: the body says nothing more."""
    ok = database_answers()
    return JsonResponse({"ok": ok}, status=200 if ok else 503)


@never_cache
@require_GET
def healthz_scheduler(request):
    """Scheduler liveness: 200 when a leader holds the lease with a fresh heartbeat. The body
    gives the state ('alive', 'stale', 'stopped', 'never started'), never a host name."""
    if not database_answers():
        return JsonResponse({"ok": False, "scheduler": "unknown"}, status=503)
    status = scheduler_status(with_jobs=False)
    body = {"ok": status["alive"], "scheduler": status["state"]}
    return JsonResponse(body, status=200 if body["ok"] else 503)


# Who may see the system's state (admin JSON and the status page).
VIEW_SYSTEM = "proletto.view_healthcheckstate"


@never_cache
@require_GET
@staff_permission_required(VIEW_SYSTEM)
def admin_system(request):
    if not database_answers():
        return JsonResponse(
            {"ok": False, "utc_time": timezone.now().isoformat(), "error": "database unavailable"},
            status=503,
        )
    status = scheduler_status()
    checks = checks_summary()
    body = {
        # Never true next to a failing check.
        "ok": status["alive"] and not checks["failing"],
        "utc_time": timezone.now().isoformat(),
        "scheduler_jobs": status["jobs"],
        "leader": status["leader"],
        "heartbeat_at": status["heartbeat_at"],
        "heartbeat_age_seconds": status["heartbeat_age_seconds"],
        "scheduler_alive": status["alive"],
        "scheduler_state": status["state"],
        "scheduler_standbys": status["standbys"],
        "checks": checks,
    }
    return JsonResponse(body, status=200 if body["ok"] else 503)


def system_status_page(request):
    """The operator's dashboard (admin staff with VIEW_SYSTEM): checks, scheduler, jobs,
    outbox, alerts."""
    if not request.user.has_perm(VIEW_SYSTEM):
        raise PermissionDenied
    status = scheduler_status(with_jobs=False)
    jobs = [
        {
            "id": job.id,
            "next_run_time": job.next_run_time,
            "paused": job.next_run_time is None,
            "last_run_time": job.last_run_time,
            "last_status": job.last_status,
            "last_success": job.last_success,
            "chart": recent_runs_sparkline(job),
        }
        for job in jobs_with_stats().order_by("id")
    ]
    context = {
        **django_admin.site.each_context(request),
        "title": "System status",
        "now": timezone.now(),
        "checks": monitoring.check_states(),
        "summary": monitoring.checks_summary(),
        "scheduler": status,
        "jobs": jobs,
        "tiles": status_tiles(),
        "alerts": monitoring.recent_alerts(),
    }
    return TemplateResponse(request, "admin/system_status.html", context)
